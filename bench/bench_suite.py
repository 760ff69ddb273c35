"""The test suite's own duration per module, from the last ``make test`` and ``make test-fast`` here, each
beside its figures of issue 24 and with the load average sampled while it ran.

``make test`` leaves ``artifacts/test-report.xml`` (pytest's junit report: each test's setup, call and
teardown time) and ``artifacts/test-load.jsonl`` (the 1-minute load average every 15 s, sampled by the
controlling pytest process); ``make test-fast`` leaves ``test-fast-report.xml`` and ``test-fast-load.jsonl``
beside them. Running a suite here again would take as long as the suite, so this reads what its last run
measured and says when it ran. A module's figure is the sum of its tests' times: the first test of a module
also carries its module fixtures (a pipeline run, an Airflow start). With several workers, the wall time is
less than the sum; both are printed.
"""

from __future__ import annotations

import json
import statistics
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
#: Issue 24's figures (seconds): the slowest modules' set-up on a fresh clone.
REFERENCE = {
    "tests/e2e/test_pipeline.py": 595.0,
    # The backfill module's 381 s and the README story's 288 s: one make airflow instance serves both now.
    "tests/e2e/test_airflow_ui.py": 381.0 + 288.0,
    "tests/e2e/test_make_run.py": 210.0,
    "tests/e2e/test_ingest_verdicts.py": 94.0,
    "tests/e2e/test_signals.py": 91.0,
}
SHOWN = 25


class Suite(NamedTuple):
    command: str
    report: Path
    load_log: Path
    #: Issue 24's figure for the whole command, and what it meant.
    reference: str
    budget_s: float


#: The Makefile names the same files (TEST_REPORT, TEST_LOAD_LOG, FAST_REPORT, FAST_LOAD_LOG).
SUITES = (
    Suite(
        "make test",
        ARTIFACTS / "test-report.xml",
        ARTIFACTS / "test-load.jsonl",
        ".ci/run's 21.6 min (install included, load 2-7.5)",
        15 * 60,
    ),
    Suite(
        "make test-fast",
        ARTIFACTS / "test-fast-report.xml",
        ARTIFACTS / "test-fast-load.jsonl",
        "303-486 s",
        3 * 60,
    ),
)


def module_of(case: ET.Element) -> str:
    """``tests/e2e/test_x.py`` from a testcase's classname ``tests.e2e.test_x`` (or ``...test_x.Class``)."""
    parts = case.get("classname", "").split(".")
    while parts and not parts[-1].startswith("test_"):
        parts.pop()
    return "/".join(parts) + ".py" if parts else case.get("classname", "?")


def main() -> None:
    ran = [suite for suite in SUITES if suite.report.exists()]
    if not ran:
        names = " or ".join(str(suite.report.relative_to(REPO)) for suite in SUITES)
        raise RuntimeError(f"neither {names} found: run make test or make test-fast first")
    for suite in ran:
        print(f"\n--- {suite.command} ---")
        report(suite)


def report(suite: Suite) -> None:
    root = ET.parse(suite.report).getroot()
    found = root if root.tag == "testsuite" else root.find("testsuite")
    assert found is not None
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    for case in found.iter("testcase"):
        module = module_of(case)
        seconds[module] += float(case.get("time", 0))
        counts[module] += 1
        failed[module] += any(child.tag in ("failure", "error") for child in case)
    lines = suite.load_log.read_text().splitlines() if suite.load_log.exists() else []
    samples = [json.loads(line)["load1"] for line in lines]
    wall = float(found.get("time", 0))
    started = found.get("timestamp", "?")
    load = (
        f"load average (1 min) while it ran: median {statistics.median(samples):.1f}, "
        f"min {min(samples):.1f}, max {max(samples):.1f} ({len(samples)} samples)"
        if samples
        else f"no load samples (run through {suite.command})"
    )
    modified = datetime.fromtimestamp(suite.report.stat().st_mtime)
    print(f"last run: {started} ({modified:%Y-%m-%d %H:%M}), {load}")
    print(f"{'module':<58} {'tests':>5} {'failed':>6} {'seconds':>8} {'reference':>10}")
    ranked = sorted(seconds, key=lambda m: -seconds[m])
    for module in ranked[:SHOWN]:
        reference = f"{REFERENCE[module]:>8.0f} s" if module in REFERENCE else ""
        print(f"{module:<58} {counts[module]:>5} {failed[module]:>6} {seconds[module]:>8.1f} {reference:>10}")
    rest = ranked[SHOWN:]
    if rest:
        print(
            f"{f'{len(rest)} other modules':<58} {sum(counts[m] for m in rest):>5} "
            f"{sum(failed[m] for m in rest):>6} {sum(seconds[m] for m in rest):>8.1f}"
        )
    total = sum(seconds.values())
    tests, failures = sum(counts.values()), sum(failed.values())
    print(f"\n{tests} tests, {failures} failed; {total:.0f} test-seconds; pytest wall time {wall:.0f} s")
    print(
        f"({wall / 60:.1f} min) beside {suite.reference} (issue 24) "
        f"and {suite.command}'s budget of {suite.budget_s / 60:.0f} min idle"
    )


if __name__ == "__main__":
    main()
    sys.exit(0)
