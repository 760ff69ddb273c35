"""Overhead of the local runtime's Lambda and crawler executors against doing the same work in-process.

* Lambda: invoke latency through the API on a cold start (a new execution environment: interpreter start
  and handler import, as every invocation cost before warm workers) vs a warm one (the reused environment),
  for a trivial handler, a handler importing pandas + pyarrow + awswrangler, and the real JSON-to-Parquet
  function converting a real category file; the trivial handler called in this process as the floor; and
  the time to drain a burst of asynchronous invocations.
* Crawler: a crawl of region-partitioned Parquet made from the real statistics vs reading the same
  footers directly with pyarrow (the least work any crawler must do).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.runtime import REPO_ROOT, LocalRuntime, patched_environ
from youtube_lake import invocation

DATA_DIR = Path(os.environ.get("YOUTUBE_ETL_DATA", REPO_ROOT.parent / "shared" / "data" / "youtube"))
TRIVIAL = "def handler(event, context):\n    return {'ok': True, 'n': event.get('n')}\n"
HEAVY = """
import awswrangler as wr
import pandas as pd
import pyarrow as pa


def handler(event, context):
    rows = pa.Table.from_pandas(pd.DataFrame({"n": [event.get("n")]})).num_rows
    return {"ok": True, "n": event.get("n"), "rows": rows, "wr": wr.__version__}
"""
COLD_INVOKES = 3
WARM_INVOKES = 10
INVOKES = 10
ASYNC_BURST = 20
REGIONS = ("br", "ca", "de", "fr", "gb", "in", "jp", "kr", "mx", "ru", "us")
FILES_PER_REGION = 4


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("trivial.py", source)
    return buffer.getvalue()


def _init_ms(log_result: str) -> float | None:
    match = re.search(r"Init Duration: ([0-9.]+) ms", base64.b64decode(log_result).decode())
    return float(match.group(1)) if match else None


def cold_and_warm(
    runtime: LocalRuntime, function: str, event: Callable[[int], Any], check: Callable[[Any], bool]
) -> tuple[list[float], list[float], list[float]]:
    """Invoke latencies (s) on cold starts (a configuration change before each forces a new execution
    environment, as on AWS) and on warm ones, with the cold starts' ``Init Duration`` (ms)."""
    lam = runtime.client("lambda")
    variables = (
        lam.get_function_configuration(FunctionName=function).get("Environment", {}).get("Variables", {})
    )

    def invoke(n: int) -> tuple[float, float | None]:
        start = time.perf_counter()
        response = lam.invoke(FunctionName=function, Payload=json.dumps(event(n)), LogType="Tail")
        payload = json.loads(response["Payload"].read())
        elapsed = time.perf_counter() - start
        assert "FunctionError" not in response and check(payload), f"unexpected payload {payload}"
        return elapsed, _init_ms(response["LogResult"])

    cold, init = [], []
    for n in range(COLD_INVOKES):
        lam.update_function_configuration(
            FunctionName=function, Environment={"Variables": {**variables, "BENCH_COLD_START": str(n)}}
        )
        elapsed, init_ms = invoke(n)
        assert init_ms is not None, "a configuration change did not start a new execution environment"
        cold.append(elapsed)
        init.append(init_ms)
    warm = []
    for n in range(WARM_INVOKES):
        elapsed, init_ms = invoke(n)
        assert init_ms is None, "a warm invocation started a new execution environment"
        warm.append(elapsed)
    return cold, warm, init


def _real_function_event(runtime: LocalRuntime) -> dict[str, Any]:
    """An S3 event for the real US category file put outside the trigger prefix (as Airflow sends it)."""
    s = runtime.settings
    key = "youtube/bench_drops/US_category_id.json"
    body = (DATA_DIR / "raw_statistics_reference_data" / "US_category_id.json").read_bytes()
    runtime.client("s3").put_object(Bucket=s.raw_bucket, Key=key, Body=body)
    return invocation.s3_event(s.raw_bucket, [key])


def bench_lambda(runtime: LocalRuntime) -> None:
    lam = runtime.client("lambda")
    for name, source in (("bench-trivial", TRIVIAL), ("bench-heavy", HEAVY)):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=runtime.role_arn("lambda"),
            Handler="trivial.handler",
            Code={"ZipFile": _zip(source)},
            Timeout=60,
            MemorySize=1024,  # the runtime enforces it: the heavy imports need more than the 128 MB default
        )
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    real_event = _real_function_event(runtime)
    rows: list[tuple[str, tuple[list[float], list[float], list[float]]]] = [
        (
            "trivial handler",
            cold_and_warm(
                runtime, "bench-trivial", lambda n: {"n": n}, lambda p: p == {"ok": True, "n": p["n"]}
            ),
        ),
        (
            "pandas+pyarrow+awswrangler",
            cold_and_warm(runtime, "bench-heavy", lambda n: {"n": n}, lambda p: p["rows"] == 1),
        ),
        (
            "json_to_parquet, real US file",
            cold_and_warm(
                runtime, runtime.settings.lambda_function, lambda n: real_event, lambda p: p["converted"] == 1
            ),
        ),
    ]

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
    for n in range(ASYNC_BURST):
        lam.invoke(FunctionName="bench-trivial", InvocationType="Event", Payload=json.dumps({"n": n}))
    accepted = time.perf_counter() - start
    assert runtime.wait_idle(timeout=600), "async invocations did not drain"
    drained = time.perf_counter() - start

    ms = 1000.0
    print(
        f"lambda invoke latency through the API (RequestResponse; median of {COLD_INVOKES} cold, "
        f"{WARM_INVOKES} warm)"
    )
    print(
        f"  {'function':<31} {'cold start':>11} {'(init)':>10} {'warm':>10} {'warm min':>10} {'speed-up':>9}"
    )
    for label, (cold, warm, init) in rows:
        print(
            f"  {label:<31} {statistics.median(cold) * ms:8.1f} ms {statistics.median(init):7.1f} ms "
            f"{statistics.median(warm) * ms:7.1f} ms {min(warm) * ms:7.1f} ms "
            f"{statistics.median(cold) / statistics.median(warm):8.1f}x"
        )
    warm_trivial = statistics.median(rows[0][1][1])
    print(
        f"  in-process call (trivial)      {direct * 1e6:8.1f} us  -> API + executor overhead per warm "
        f"invoke {(warm_trivial - direct) * ms:.1f} ms"
    )
    print(f"  {ASYNC_BURST} Event invokes: accepted in {accepted:.2f} s, all run in {drained:.2f} s")


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
    assert runtime.wait_idle(timeout=600), "crawl did not finish"
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
    busy = wall - runtime.crawler_stopping_seconds
    print(f"crawler ({len(keys)} Parquet files, {len(REGIONS)} partitions, {rows:,} rows)")
    print(
        f"  StartCrawler -> READY   {wall:6.2f} s  "
        f"(incl. {runtime.crawler_stopping_seconds:.1f} s STOPPING phase)"
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
