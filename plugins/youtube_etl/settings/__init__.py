"""One source of truth for every name the pipeline uses, in three parts.

- :mod:`.options`: the options (``[youtube_etl]`` / ``AIRFLOW__YOUTUBE_ETL__*``), loading and validation —
  :class:`Settings`, :func:`get_settings`, :class:`SettingsError`;
- :mod:`.names`: every bucket, prefix, database, table, crawler, job, function, workgroup, role, queue,
  topic and URI, derived from the options;
- :mod:`.deploy`: what infra hands the deployed code (the Lambda's environment, each Glue job's arguments,
  crawler targets, SQL parameters).

DAGs, the CDK app and the local AWS runtime import :class:`Settings` from here; it carries all three.
"""

from youtube_etl.settings.errors import SettingsError
from youtube_etl.settings.names import Prefixes
from youtube_etl.settings.options import ENV_PREFIX, SECTION, Settings, get_settings
from youtube_lake.regions import KNOWN_REGIONS
from youtube_lake.runs import safe_run_id

__all__ = [
    "ENV_PREFIX",
    "KNOWN_REGIONS",
    "SECTION",
    "Prefixes",
    "Settings",
    "SettingsError",
    "get_settings",
    "safe_run_id",
]
