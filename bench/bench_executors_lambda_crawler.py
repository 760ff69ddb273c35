"""Overhead of the local runtime's Lambda and crawler executors against doing the same work in-process.

* Lambda: a trivial handler invoked through the API (subprocess per invocation, as a cold start) vs the
  same handler called in this process; and the time to drain a burst of asynchronous invocations.
* Crawler: a crawl of region-partitioned Parquet made from the real statistics vs reading the same
  footers directly with pyarrow (the least work any crawler must do).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from infra.local.runtime import REPO_ROOT, LocalRuntime, patched_environ

DATA_DIR = Path(os.environ.get("YOUTUBE_ETL_DATA", REPO_ROOT.parent / "shared" / "data" / "youtube"))
TRIVIAL = "def handler(event, context):\n    return {'ok': True, 'n': event.get('n')}\n"
INVOKES = 10
ASYNC_BURST = 20
REGIONS = ("br", "ca", "de", "fr", "gb", "in", "jp", "kr", "mx", "ru", "us")
FILES_PER_REGION = 4


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("trivial.py", source)
    return buffer.getvalue()


def bench_lambda(runtime: LocalRuntime) -> None:
    from infra.local.executors import awslambda

    lam = runtime.client("lambda")
    lam.create_function(
        FunctionName="bench-trivial",
        Runtime="python3.12",
        Role=runtime.role_arn("lambda"),
        Handler="trivial.handler",
        Code={"ZipFile": _zip(TRIVIAL)},
        Timeout=30,
    )
    lam.put_function_event_invoke_config(FunctionName="bench-trivial", MaximumRetryAttempts=0)
    times = []
    for n in range(INVOKES):
        start = time.perf_counter()
        response = lam.invoke(FunctionName="bench-trivial", Payload=json.dumps({"n": n}))
        assert json.loads(response["Payload"].read()) == {"ok": True, "n": n}, "unexpected payload"
        times.append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trivial.py"
        path.write_text(TRIVIAL)
        spec = importlib.util.spec_from_file_location("bench_trivial", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        start = time.perf_counter()
        for n in range(INVOKES):
            module.handler({"n": n}, None)
        direct = (time.perf_counter() - start) / INVOKES
        start = time.perf_counter()
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        module.handler({"n": 0}, None)
        cold = time.perf_counter() - start

    start = time.perf_counter()
    for n in range(ASYNC_BURST):
        lam.invoke(FunctionName="bench-trivial", InvocationType="Event", Payload=json.dumps({"n": n}))
    accepted = time.perf_counter() - start
    assert awslambda.wait_idle(runtime, timeout=600), "async invocations did not drain"
    drained = time.perf_counter() - start

    median = statistics.median(times)
    print(f"lambda invoke (RequestResponse, trivial handler, {INVOKES} calls)")
    print(f"  local runtime   median {median * 1000:8.1f} ms   min {min(times) * 1000:8.1f} ms")
    print(f"  in-process call        {direct * 1e6:8.1f} us   ratio {median / max(direct, 1e-9):,.0f}x")
    print(
        f"  in-process import+call {cold * 1e3:8.2f} ms   overhead per invoke {(median - cold) * 1000:.1f} ms"
    )
    print(
        f"  {ASYNC_BURST} Event invokes: accepted in {accepted:.2f} s, all run in {drained:.2f} s "
        f"({awslambda.ASYNC_CONCURRENCY} at a time)"
    )


def _statistics_frame():  # type: ignore[no-untyped-def]
    import pandas as pd

    frames = [pd.read_csv(p) for p in sorted((DATA_DIR / "raw_statistics").glob("region=*/*.csv"))]
    df = pd.concat(frames, ignore_index=True)
    df["publish_time"] = pd.to_datetime(df["publish_time"], utc=True)
    df["tags_list"] = df["tags"].str.split("|")
    return df


def bench_crawler(runtime: LocalRuntime) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow import fs

    from infra.local.executors import crawlers

    settings = runtime.settings
    df = _statistics_frame()
    table = pa.Table.from_pandas(df, preserve_index=False)
    s3 = runtime.client("s3")
    keys = []
    for region in REGIONS:
        for part in range(FILES_PER_REGION):
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression="snappy")
            key = f"{settings.prefixes.statistics}region={region}/part-{part:05d}.snappy.parquet"
            s3.put_object(Bucket=settings.processed_bucket, Key=key, Body=buffer.getvalue())
            keys.append(key)
    rows = len(df) * len(keys)

    glue = runtime.client("glue")
    start = time.perf_counter()
    glue.start_crawler(Name=settings.processed_crawler)
    assert crawlers.wait_idle(runtime, timeout=600), "crawl did not finish"
    wall = time.perf_counter() - start
    crawler = glue.get_crawler(Name=settings.processed_crawler)["Crawler"]
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"]
    partitions = glue.get_partitions(DatabaseName=settings.processed_database, TableName="statistics")
    assert len(partitions["Partitions"]) == len(REGIONS)

    s3fs = fs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        session_token="testing",
        region=settings.region,
        endpoint_override=runtime.endpoint.split("://", 1)[1],
        scheme="http",
    )
    start = time.perf_counter()
    for key in keys:
        with s3fs.open_input_file(f"{settings.processed_bucket}/{key}") as handle:
            pq.read_metadata(handle)
    footers = time.perf_counter() - start
    busy = wall - crawlers.STOPPING_SECONDS
    print(f"crawler ({len(keys)} Parquet files, {len(REGIONS)} partitions, {rows:,} rows)")
    print(
        f"  StartCrawler -> READY   {wall:6.2f} s  (incl. {crawlers.STOPPING_SECONDS:.1f} s STOPPING phase)"
    )
    print(f"  crawl work              {busy:6.2f} s")
    print(f"  footers read in-process {footers:6.2f} s (sequential)   ratio {busy / max(footers, 1e-9):.1f}x")


def main() -> None:
    with LocalRuntime() as runtime, patched_environ(runtime.client_env()):
        bench_lambda(runtime)
        bench_crawler(runtime)


if __name__ == "__main__":
    main()
    sys.exit(0)
