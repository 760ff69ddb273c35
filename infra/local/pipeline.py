"""``make run``: the pipeline end to end on the local AWS runtime, with a summary at the end.

Starts the runtime on a free 127.0.0.1 port, provisions it from settings, loads a dataset folder laid out
like ``../shared/data/youtube/`` into the raw bucket, and reports what landed. Everything it starts is
stopped before it returns, also on failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path

from infra.local.runtime import LocalRuntime, patched_environ


def summarize(runtime: LocalRuntime) -> list[str]:
    """One line per bucket and top-level data folder: object count and bytes."""
    lines = []
    for bucket in runtime.settings.buckets:
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for obj in runtime.list_objects(bucket):
            folder = "/".join(obj["Key"].split("/")[:2])
            counts[folder] += 1
            sizes[folder] += obj["Size"]
        for folder in sorted(counts):
            lines.append(
                f"  s3://{bucket}/{folder}/  {counts[folder]:>5} objects  {sizes[folder]:>12,} bytes"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (raw_statistics/, ...)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = args.data.resolve()
    if not data.is_dir():
        print(f"error: data folder {args.data} does not exist", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with LocalRuntime() as runtime, patched_environ(runtime.client_env()):
        print(f"local AWS runtime: {runtime.endpoint} (provisioned from settings)", flush=True)
        keys = runtime.load_sample_data(data)
        print(f"loaded {len(keys)} files from {data} into s3://{runtime.settings.raw_bucket}/", flush=True)
        print("objects in the lake:")
        print("\n".join(summarize(runtime)))
    print(f"done in {time.perf_counter() - started:.1f} s; the local runtime is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
