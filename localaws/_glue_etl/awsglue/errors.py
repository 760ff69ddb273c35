"""The error raised for what the local Glue ETL library does not implement."""

from __future__ import annotations


class NotCoveredError(NotImplementedError):
    """A part of Glue's ETL library that the local runtime does not implement; the message names it."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} is not covered by the local Glue ETL library (localaws/README.md lists what is)"
        )
