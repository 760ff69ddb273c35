"""Airflow connections on MWAA: Secrets Manager secrets read by the Amazon provider's SecretsManagerBackend.

One connection lives there: the YouTube Data API key (``settings.youtube_api_conn_id``). Its secret is
created **without a value** — no ``SecretString``, no ``GenerateSecretString`` — so CloudFormation never
writes (or, on a redeploy, overwrites) the key; the operator puts it in once (docs/deploy.md). Until then
``GetSecretValue`` answers ResourceNotFound, the backend returns None and the lookup ends in Airflow's
"conn_id ... isn't defined".

The backend is asked only for that connection id (``connections_lookup_pattern``): every other id
(``aws_default``, ...) goes straight to the environment variables and the metastore, with no Secrets
Manager call. Variables and configuration options are never looked up there (their prefixes are null):
a config lookup that failed would raise instead of falling through.
"""

from __future__ import annotations

import json
import re

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from youtube_etl.settings import Settings

SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"


def secrets_backend_options(settings: Settings) -> dict[str, str]:
    """MWAA configuration options that make the stage's connection secrets Airflow connections."""
    kwargs = {
        "connections_prefix": settings.airflow_connections_prefix,
        "connections_lookup_pattern": f"^{re.escape(settings.youtube_api_conn_id)}$",
        "variables_prefix": None,
        "config_prefix": None,
        "region_name": settings.region,
    }
    return {"secrets.backend": SECRETS_BACKEND, "secrets.backend_kwargs": json.dumps(kwargs)}


def youtube_api_secret(scope: Construct, settings: Settings, key: kms.IKey) -> secretsmanager.CfnSecret:
    """The empty secret that is the ``youtube_api`` connection, encrypted with the lake key.

    L1 on purpose: the L2 ``Secret`` generates a value when given none.
    """
    secret = secretsmanager.CfnSecret(
        scope,
        "YoutubeApiSecret",
        name=settings.youtube_api_secret_name,
        description=(
            f"Airflow connection {settings.youtube_api_conn_id} of {settings.mwaa_environment}: the YouTube "
            "Data API v3 key in its password. Created empty; set it with put-secret-value (docs/deploy.md)."
        ),
        kms_key_id=key.key_arn,
    )
    # No rotation schedule: Google Cloud issues the key, it is changed by hand (docs/deploy.md). checkov has
    # no CloudFormation check for that (its rotation check CKV2_AWS_57 is Terraform-only): nothing to skip.
    return secret


def read_secret_statement(secret: secretsmanager.CfnSecret) -> iam.PolicyStatement:
    """GetSecretValue on this one secret (its full ARN): all SecretsManagerBackend calls, nothing else."""
    return iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret.ref])
