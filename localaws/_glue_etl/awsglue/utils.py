"""``getResolvedOptions``: the job's arguments, as Glue parses them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

#: Arguments Glue sets itself: a script may not ask for them by name.
BOOKMARK_OPTION = "--job-bookmark-option"
BOOKMARK_CHOICES = ("job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")
_RESERVED = ("job-bookmark-option", "continuation-option", "JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION")


class GlueArgumentError(Exception):
    """A required argument is missing or an argument has a value Glue does not accept."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str | None]:  # noqa: N802
    """``{name: value}`` of the ``--name value`` arguments in ``args`` (``sys.argv``) for each of ``options``.

    Every name in ``options`` is required; unknown arguments are ignored; ``TempDir`` and
    ``RedshiftTempDir`` are optional and mirror each other; ``job_bookmark_option`` is always present.
    """
    parser = _Parser()
    for reserved in _RESERVED:
        if reserved in options:
            raise RuntimeError(f"Using reserved arguments {reserved}")
    parser.add_argument(BOOKMARK_OPTION, choices=BOOKMARK_CHOICES, required=False)
    parser.add_argument("--continuation-option", required=False)
    for name in ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "RedshiftTempDir", "TempDir"):
        parser.add_argument(f"--{name}", required=False)
    for name in options:
        if name not in ("TempDir", "RedshiftTempDir"):
            parser.add_argument(f"--{name}", required=True)
    parsed, _ = parser.parse_known_args(list(args[1:]))
    resolved: dict[str, str | None] = vars(parsed)
    if resolved.get("TempDir") is not None:
        resolved["RedshiftTempDir"] = resolved["TempDir"]
    elif resolved.get("RedshiftTempDir") is not None:
        resolved["TempDir"] = resolved["RedshiftTempDir"]
    if resolved.get("job_bookmark_option") is None:
        resolved["job_bookmark_option"] = "job-bookmark-disable"
    return resolved
