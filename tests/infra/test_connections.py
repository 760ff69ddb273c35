"""The YouTube API key on MWAA: an empty secret that is the ``youtube_api`` Airflow connection, read through
the provider's SecretsManagerBackend with GetSecretValue on that one secret only."""

from __future__ import annotations

import json
import re
from typing import Any
from unittest import mock

import boto3
import pytest
from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
from aws_cdk.assertions import Match
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from infra.stacks.common import REPO_ROOT
from tests.infra.conftest import REGION, Synth
from tests.infra.iam import all_statements, as_list, role_statements
from youtube_etl.settings import get_settings

FAKE_KEY = "AIzaSyFAKE-test_key-0123456789abcdefghijk"


def _secret(synth: Synth) -> tuple[str, dict[str, Any]]:
    (secret,) = synth.resources("Orchestration", "AWS::SecretsManager::Secret").items()
    return secret


def _environment(synth: Synth) -> dict[str, Any]:
    (env,) = synth.resources("Orchestration", "AWS::MWAA::Environment").values()
    return dict(env["Properties"])


def _options(synth: Synth) -> dict[str, str]:
    return dict(_environment(synth)["AirflowConfigurationOptions"])


def _execution_role_id(synth: Synth) -> str:
    return str(_environment(synth)["ExecutionRoleArn"]["Fn::GetAtt"][0])


def _backend_kwargs(synth: Synth) -> dict[str, Any]:
    return dict(json.loads(_options(synth)["secrets.backend_kwargs"]))


def test_the_api_key_secret_is_created_empty_under_the_connection_name(synth: Synth) -> None:
    """No value in the template: CloudFormation never writes the key, so a redeploy cannot overwrite it."""
    s = synth.settings
    assert s.youtube_api_secret_name == "youtube-test/airflow/connections/youtube_api"
    synth.template("Orchestration").has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "Name": s.youtube_api_secret_name,
            "SecretString": Match.absent(),
            "GenerateSecretString": Match.absent(),
            "KmsKeyId": Match.any_value(),
        },
    )
    assert [stack for stack, _, _ in synth.all_resources("AWS::SecretsManager::Secret")] == ["Orchestration"]


def test_the_secret_is_encrypted_with_the_lake_key_that_mwaa_may_decrypt(synth: Synth) -> None:
    _, secret = _secret(synth)
    key = secret["Properties"]["KmsKeyId"]
    output = key["Fn::GetStackOutput"]
    assert output["StackName"] == synth.settings.stack_name("lake") and "LakeKey" in output["OutputName"]
    statements = role_statements(synth, "Orchestration", _execution_role_id(synth))
    decrypting = [
        st
        for st in statements
        if st["Effect"] == "Allow" and "kms:Decrypt" in as_list(st["Action"]) and st.get("Resource") == key
    ]
    assert len(decrypting) == 1 and "Condition" not in decrypting[0]


def test_only_the_mwaa_role_may_read_the_secret_and_nothing_else_of_secrets_manager(synth: Synth) -> None:
    """The exact statement: one action, the secret's full ARN (Ref), no wildcard, no DescribeSecret (the
    backend calls GetSecretValue only)."""
    secret_id, _ = _secret(synth)
    found = [
        (stack, owner, statement)
        for stack, owner, statement in all_statements(synth)
        if any(str(a).startswith("secretsmanager:") for a in as_list(statement.get("Action", [])))
    ]
    assert [st for _, _, st in found] == [
        {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": {"Ref": secret_id}}
    ]
    ((stack, owner, _),) = found
    policy = synth.templates[stack]["Resources"][owner]
    assert (stack, policy["Properties"]["Roles"]) == ("Orchestration", [{"Ref": _execution_role_id(synth)}])


def test_mwaa_reads_connections_through_the_secrets_manager_backend(synth: Synth) -> None:
    s = synth.settings
    options = _options(synth)
    assert options["secrets.backend"] == (
        "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    )
    assert _backend_kwargs(synth) == {
        "connections_prefix": "youtube-test/airflow/connections",
        "connections_lookup_pattern": "^youtube_api$",
        "variables_prefix": None,
        "config_prefix": None,
        "region_name": REGION,
    }
    assert options["youtube_etl.youtube_api_conn_id"] == s.youtube_api_conn_id == "youtube_api"
    _, secret = _secret(synth)
    assert secret["Properties"]["Name"] == f"{_backend_kwargs(synth)['connections_prefix']}/youtube_api"


def _deploy_guide_command() -> tuple[str, str]:
    """``--secret-id`` and the value template of the put-secret-value command in docs/deploy.md."""
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    match = re.search(
        r"aws secretsmanager put-secret-value --secret-id (\S+) \\\s*\n\s*--secret-string "
        r"\"\$\(printf '([^']+)' \"\$YOUTUBE_API_KEY\"\)\"",
        guide,
    )
    assert match, "docs/deploy.md shows the put-secret-value command"
    return match.group(1), match.group(2)


def _backend(synth: Synth) -> tuple[SecretsManagerBackend, Stubber]:
    """The backend exactly as MWAA builds it from the synthesized kwargs, its client stubbed (no network)."""
    backend = SecretsManagerBackend(**_backend_kwargs(synth))
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client("secretsmanager")
    backend.__dict__["client"] = client  # the backend's cached client property
    return backend, Stubber(client)


def test_the_deploy_guides_value_is_read_as_the_connection_with_the_key_as_password(synth: Synth) -> None:
    secret_id, template = _deploy_guide_command()
    assert secret_id == get_settings({}, stage="dev").youtube_api_secret_name
    backend, stubber = _backend(synth)
    value = template % FAKE_KEY
    stubber.add_response(
        "get_secret_value",
        {"Name": synth.settings.youtube_api_secret_name, "SecretString": value},
        expected_params={"SecretId": synth.settings.youtube_api_secret_name},
    )
    with stubber:
        conn = backend.get_connection("youtube_api")
        # Every other id, variables and config options: answered None with no Secrets Manager call (the
        # stubber has nothing queued: a call would raise).
        assert backend.get_conn_value("aws_default") is None
        assert backend.get_conn_value("youtube_api_other") is None
        assert backend.get_variable("youtube_api") is None
        assert backend.get_config("sql_alchemy_conn") is None
    stubber.assert_no_pending_responses()
    assert conn is not None
    assert (conn.conn_id, conn.conn_type, conn.password) == ("youtube_api", "generic", FAKE_KEY)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param("ResourceNotFoundException", id="secret-still-empty"),
        pytest.param("AccessDeniedException", id="access-denied"),
    ],
)
def test_an_empty_or_denied_secret_ends_in_connection_not_defined(synth: Synth, error: str) -> None:
    """Fail closed, no crash: the backend returns None (empty) or raises (denied); Airflow's lookup treats
    both as "not in this backend" and the task gets AirflowNotFoundException naming the conn id."""
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.execution_time import context, supervisor

    backend, stubber = _backend(synth)
    stubber.add_client_error("get_secret_value", service_error_code=error, http_status_code=400)
    with stubber:
        if error == "AccessDeniedException":
            with pytest.raises(ClientError):
                backend.get_conn_value("youtube_api")  # the backend itself does not catch AccessDenied
            stubber.add_client_error("get_secret_value", service_error_code=error, http_status_code=400)
        with (
            mock.patch.object(supervisor, "ensure_secrets_backend_loaded", return_value=[backend]),
            pytest.raises(AirflowNotFoundException, match="conn_id `youtube_api` isn't defined"),
        ):
            context._get_connection("youtube_api")
    stubber.assert_no_pending_responses()
