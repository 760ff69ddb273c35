"""The third-party deprecations youtube_etl silences are exactly the named ones: anything else still shows."""

from __future__ import annotations

import warnings

import pytest

from youtube_etl._warnings import THIRD_PARTY_DEPRECATIONS, silence_third_party_deprecations

SEEN = [
    pytest.param(
        "ProvidersManager.hooks is deprecated. Use ProvidersManagerTaskRuntime.hooks from task-sdk instead.",
        FutureWarning,
        id="amazon-provider-hooks",
    ),
    pytest.param(
        "Using `httpx` with `starlette.testclient` is deprecated; install `httpx2` instead.",
        UserWarning,
        id="starlette-httpx",
    ),
    pytest.param(
        "GitWildMatchPattern ('gitwildmatch') is deprecated. Use 'gitignore' for GitIgnoreBasicPattern.",
        DeprecationWarning,
        id="pathspec-gitwildmatch",
    ),
]


@pytest.mark.parametrize(("message", "category"), SEEN)
def test_the_named_deprecations_are_silenced(message: str, category: type[Warning]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        silence_third_party_deprecations()
        warnings.warn(message, category, stacklevel=1)
    assert caught == []


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("ProvidersManager.connections is deprecated", id="another-providers-manager-api"),
        pytest.param("The youtube_etl option foo is deprecated", id="our-own"),
    ],
)
def test_any_other_warning_still_shows(message: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        silence_third_party_deprecations()
        warnings.warn(message, DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == [message]


def test_every_filter_says_why() -> None:
    assert len(THIRD_PARTY_DEPRECATIONS) == len(SEEN)
    assert all(why.strip() for _, why in THIRD_PARTY_DEPRECATIONS)
