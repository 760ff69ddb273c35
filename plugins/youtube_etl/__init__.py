"""youtube_etl: what the DAGs import (settings, task helpers, operators)."""

from youtube_etl._warnings import silence_third_party_deprecations

silence_third_party_deprecations()
