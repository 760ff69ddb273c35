"""The runtime's memory as the lake grows: moto's in-memory S3 vs a state folder (bodies on disk).

One process per mode starts a runtime, puts ``BENCH_STATE_MB`` (default 512) of 4 MB objects through the S3
API (below moto's 5 MB threshold, so moto keeps them in memory) and reads one back; the peak resident memory
of each process is printed side by side with the data's size. Target: with a state folder, the runtime's
memory does not grow with the data (peak minus an empty runtime's < 10% of the data).
"""

from __future__ import annotations

import os
import tempfile

from bench.bench_glue import measure

MEGABYTES = int(os.environ.get("BENCH_STATE_MB", "512"))
OBJECT_MB = 4

RUNNER = """
import os, sys
from localaws import LocalAWS
state = {state!r}
with LocalAWS(state_dir=state or None) as aws:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="bench")
    body = os.urandom({object_mb} << 20)
    for i in range({count}):
        s3.put_object(Bucket="bench", Key=f"data/part-{{i:05d}}.bin", Body=body)
    if {count}:
        assert s3.get_object(Bucket="bench", Key="data/part-00000.bin")["Body"].read() == body
print("ok")
"""


def main() -> None:
    count = max(1, MEGABYTES // OBJECT_MB)
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
        rows = []
        for label, state, n in (
            ("empty runtime, in memory", "", 0),
            ("in memory (moto)", "", count),
            ("state folder (bodies on disk)", f"{tmp}/lake", count),
        ):
            seconds, peak, _ = measure(RUNNER.format(state=state, object_mb=OBJECT_MB, count=n))
            rows.append((label, n * OBJECT_MB, seconds, peak))
    base = rows[0][3]
    load = os.getloadavg()[0]
    print(
        f"{'runtime':<32} {'data MB':>8} {'wall s':>8} {'peak RSS MB':>12} {'growth/data':>12}"
        f"  (1-min load {load:.2f})"
    )
    for label, data_mb, seconds, peak in rows:
        growth = f"{(peak - base) / 2**20 / data_mb:.0%}" if data_mb else "-"
        print(f"{label:<32} {data_mb:>8} {seconds:>8.1f} {peak / 2**20:>12.0f} {growth:>12}")
    on_disk = (rows[2][3] - base) / 2**20 / rows[2][1]
    print(
        f"state folder: memory growth {on_disk:.0%} of the data "
        f"(target < 10%: {'met' if on_disk < 0.1 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
