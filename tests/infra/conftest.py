"""One in-process synthesis of the whole CDK app per test session, shared by every infra test."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# isort: off
import infra.stacks  # noqa: F401  (selects the project's Node before aws_cdk starts jsii)

# isort: on
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stacks.common import REPO_ROOT
from tests.shared_results import computed_once, shared_folder
from youtube_etl.settings import Settings, get_settings

ACCOUNT = "123456789012"
REGION = "eu-west-1"
QUICKSIGHT_PRINCIPAL = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:user/default/analyst"
STACKS = ("Lake", "Compute", "Alerts", "Orchestration", "Dashboards")


@dataclass(frozen=True)
class Synth:
    outdir: Path
    settings: Settings
    seconds: float
    templates: dict[str, dict[str, Any]]

    def template(self, stack: str) -> Template:
        return Template.from_json(self.templates[stack])

    def resources(self, stack: str, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.templates[stack]["Resources"].items() if r["Type"] == kind}

    def all_resources(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [(stack, k, r) for stack in self.templates for k, r in self.resources(stack, kind).items()]


@pytest.fixture(scope="session")
def deployed_settings() -> Settings:
    """What the app derives for the test context: an account and region, so bucket names carry both."""
    return get_settings({}, account=ACCOUNT, region=REGION, stage="test")


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, deployed_settings: Settings) -> Iterator[Synth]:
    """All five stacks (dashboards on) synthesized once per test run, in the run's shared folder when there is
    one (every pytest-xdist worker reads the same cloud assembly; only its tests read it). The CDK's built-in
    template validation is off: cfn-lint runs on every template in test_linters, with stricter rules."""
    folder = shared_folder()
    outdir = folder / "cdk.out" if folder else tmp_path_factory.mktemp("cdk.out")
    yield computed_once("cdk-synth", lambda: _synthesize(outdir, deployed_settings))
    if folder is None:
        shutil.rmtree(outdir, ignore_errors=True)


def _synthesize(outdir: Path, settings: Settings) -> Synth:
    previous = os.environ.get("CDK_VALIDATION")
    os.environ["CDK_VALIDATION"] = "false"
    try:
        started = time.perf_counter()
        app = build_app(
            {
                "account": ACCOUNT,
                "region": REGION,
                "stage": "test",
                "dashboards": True,
                "quicksight_principal": QUICKSIGHT_PRINCIPAL,
            },
            environ={},
            outdir=str(outdir),
        )
        app.synth()
        seconds = time.perf_counter() - started
    finally:
        if previous is None:
            os.environ.pop("CDK_VALIDATION", None)
        else:
            os.environ["CDK_VALIDATION"] = previous
    templates = {stack: json.loads((outdir / f"{stack}.template.json").read_text()) for stack in STACKS}
    return Synth(outdir, settings, seconds, templates)


def tool(path: str, install_hint: str) -> Path:
    """A tool the infra tests need; missing is a failure that says how to install it, never a skip."""
    candidate = REPO_ROOT / path
    if not candidate.exists():
        pytest.fail(f"{candidate} is missing: run `{install_hint}` (make test does it)")
    return candidate
