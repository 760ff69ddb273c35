"""cfn-lint and checkov on every synthesized template: zero findings; every checkov skip is justified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import STACKS, Synth, tool


@pytest.fixture(scope="module")
def cfn_lint_output(synth: Synth) -> tuple[int, str]:
    """One cfn-lint run over every template (its start-up dominates), parseable output."""
    templates = [str(synth.outdir / f"{stack}.template.json") for stack in STACKS]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("stack", [pytest.param(s, id=s) for s in STACKS])
def test_cfn_lint_reports_nothing(cfn_lint_output: tuple[int, str], stack: str) -> None:
    returncode, output = cfn_lint_output
    findings = [line for line in output.splitlines() if f"{stack}.template.json" in line]
    assert findings == []
    assert returncode == 0, output


@pytest.fixture(scope="module")
def checkov_report(synth: Synth) -> list[dict[str, Any]]:
    checkov = tool(".venv-checkov/bin/checkov", "make infra-tools")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"}
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(synth.outdir),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
            "--soft-fail",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def test_checkov_finds_no_failed_check(checkov_report: list[dict[str, Any]]) -> None:
    (report,) = checkov_report
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == [] and summary["failed"] == 0
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100, "checkov really evaluated the templates"
    scanned = {c["file_path"].lstrip("/") for c in report["results"]["passed_checks"]}
    assert {f"{s}.template.json" for s in STACKS} <= scanned


def test_every_checkov_skip_is_justified_next_to_its_resource(
    synth: Synth, checkov_report: list[dict[str, Any]]
) -> None:
    (report,) = checkov_report
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the skips written as metadata are honoured"
    for check in skipped:
        assert len(check["check_result"]["suppress_comment"].strip()) >= 20, check["check_id"]
    # Every skip in the templates is a metadata entry on the resource it concerns.
    for stack, template in synth.templates.items():
        for logical_id, resource in template["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert skip["id"].startswith("CKV") and skip["comment"].strip(), (stack, logical_id, skip)
