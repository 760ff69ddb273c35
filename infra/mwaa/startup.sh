#!/usr/bin/env bash
# MWAA startup script: runs on every scheduler, worker, web server and triggerer before Airflow starts.
# Configuration does not come from here: the orchestration stack sets the [youtube_etl] Airflow
# configuration options. This only records what each container started with, for support cases.
set -euo pipefail
echo "youtube-etl startup: component=${MWAA_AIRFLOW_COMPONENT:-unknown} $(python3 --version 2>&1)"
