"""make run as a user runs it, in its own process: a clean terminal, and a lake that make query and make cat
can read afterwards.

A module of its own so that ``make test``'s workers run it beside ``test_pipeline``'s runs.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local.runtime import REPO_ROOT
from tests.servers import make_run_argv, user_env
from youtube_etl.settings import get_settings

pytestmark = pytest.mark.slow

NOISE = re.compile(r"\[(warning|error|critical)\s*\]|^(WARNING|ERROR|CRITICAL) |\w+Warning: ", re.I | re.M)


def test_make_run_prints_no_warning_or_error_line(data_dir: Path, tmp_path: Path) -> None:
    """make run as a user runs it (its own process, no pytest warning capture): nothing the project could
    prevent is printed at warning level or above (third-party deprecations it cannot fix are filtered by
    name in youtube_etl._warnings)."""
    env = user_env()
    done = subprocess.run(
        make_run_argv(data_dir, tmp_path),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "done in" in done.stdout
    noise = [line for line in output.splitlines() if NOISE.search(line)]
    assert noise == [], "\n".join(noise[:20])
    # The runtime stopped all it started: the supervisor had nothing left to end (it names what it ends).
    assert "left running" not in done.stderr, done.stderr[-3000:]

    # The lake it left answers make query and make cat (each resumes it in a process of its own).
    def lake_command(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "local", *args, "--lake", str(tmp_path / "lake")],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )

    query = lake_command(
        "query", "select region, count(*) as n from region_summary group by region order by region"
    )
    assert query.returncode == 0, query.stderr.decode()[-3000:]
    table = query.stdout.decode().splitlines()
    with (tmp_path / "out" / "reports" / "region_summary.csv").open(newline="") as exported:
        regions = {row["region"] for row in csv.DictReader(exported)}
    assert [line.split(" | ")[0].strip() for line in table[2:-1]] == sorted(regions)
    assert table[-1] == f"({len(regions)} rows)"
    settings = get_settings()
    category_file = data_dir / "raw_statistics_reference_data" / "US_category_id.json"
    uri = f"s3://{settings.raw_bucket}/{settings.prefixes.raw_reference}{category_file.name}"
    cat = lake_command("cat", uri)
    assert cat.returncode == 0 and cat.stdout == category_file.read_bytes(), cat.stderr.decode()[-2000:]
    missing = lake_command("cat", uri + ".missing")
    assert missing.returncode == 1 and b"not in the lake (NoSuchKey)" in missing.stderr
