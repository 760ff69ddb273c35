"""What an invalid configuration raises."""

from __future__ import annotations


class SettingsError(ValueError):
    """A configuration value is invalid; the message names the option and the rule it breaks."""
