"""Fixtures of the runtime's own tests: a runtime provisioned with the test lake, and the real data.

Nothing here knows the project that embeds the runtime: the tests create what they use through the AWS API,
as any user of the package would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from localaws import LocalAWS
from localaws.tests.lake import NAMES, Names, provision

DATA_DIR = Path(
    os.environ.get("LOCALAWS_TEST_DATA", Path(__file__).resolve().parents[3] / "shared" / "data" / "youtube")
)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real Kaggle files. Missing data is an error, never a skip."""
    if not (DATA_DIR / "SOURCES.md").exists():
        pytest.fail(f"real data not found at {DATA_DIR} (set LOCALAWS_TEST_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def names() -> Names:
    return NAMES


@pytest.fixture(scope="session")
def aws() -> Iterator[LocalAWS]:
    """A runtime on a free 127.0.0.1 port with the test lake; this process's AWS clients point at it."""
    # no warm-up of the pre-started Glue drivers: job runs that follow one another at once would wait for it
    with (
        LocalAWS(region=NAMES.region, provision=provision, glue_warmup=False) as runtime,
        pytest.MonkeyPatch.context() as env,
    ):
        for key, value in runtime.client_env().items():
            env.setenv(key, value)
        yield runtime


@pytest.fixture
def clean_aws(aws: LocalAWS) -> LocalAWS:
    """The runtime wiped and provisioned again, for tests that assert on the whole state."""
    aws.reset()
    return aws
