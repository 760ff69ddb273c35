"""The one place that silences third-party deprecations this project cannot fix by changing its own code.

Each filter names the exact message and says why it is not ours to fix. Anything else still shows: a new
warning is a finding, not noise. Installed on import of ``youtube_etl`` — before any DAG task, ``make run``
or ``make airflow`` component touches the code that warns — in every process that runs the DAGs.
"""

from __future__ import annotations

import warnings

#: (message regex, why it cannot be fixed here)
THIRD_PARTY_DEPRECATIONS: tuple[tuple[str, str], ...] = (
    (
        r"ProvidersManager\.hooks is deprecated",
        # The Amazon provider (9.34.0, pinned to MWAA's image) calls it in AwsBaseHook on every connection;
        # core Airflow 3.3 deprecated it for the task SDK. Fixed only by a newer provider release.
        "apache-airflow-providers-amazon's AwsBaseHook uses a core API Airflow 3.3 deprecated",
    ),
    (
        r"Using `httpx` with `starlette\.testclient` is deprecated",
        # dag.test() runs tasks against Airflow's in-process execution API, a starlette TestClient over the
        # httpx client the task SDK itself uses; installing httpx2 would hand that client another library's
        # transport.
        "Airflow's in-process execution API (dag.test) builds a starlette TestClient on httpx",
    ),
    (
        r"GitWildMatchPattern \('gitwildmatch'\) is deprecated",
        # Airflow core parses every .airflowignore (glob syntax, its default) with this pathspec class.
        "Airflow core's .airflowignore parser uses a pathspec class pathspec deprecated",
    ),
)


def silence_third_party_deprecations() -> None:
    """Install the filters above (idempotent: warnings.filterwarnings replaces an identical filter)."""
    for message, _why in THIRD_PARTY_DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=Warning)
