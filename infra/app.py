"""The CDK app: lake, compute, alerts, orchestration and (optionally) dashboards stacks of one stage.

Context (``cdk.json`` defaults, override with ``-c key=value``): ``stage``, ``account`` and ``region``
(default: the CLI's ``CDK_DEFAULT_ACCOUNT``/``CDK_DEFAULT_REGION``), ``dashboards`` (QuickSight needs a
subscription), ``quicksight_principal``, ``quicksight_service_role``, ``pandas_layer_version`` (the AWS SDK
for pandas layer's version in that region), ``mwaa_webserver_access`` and ``report_expiry_days``.

``python -m infra.app`` is what ``cdk.json`` runs; :func:`build_app` synthesizes in-process for the tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# isort: off
import infra.stacks  # noqa: F401  (selects the project's Node before aws_cdk starts jsii)

# isort: on
from aws_cdk import App, Aspects, Environment, Tags

from infra.stacks.alerts import AlertsStack
from infra.stacks.common import REPO_ROOT, CdkHandlerSkips, DropImpliedDependsOn
from infra.stacks.compute import ComputeStack
from infra.stacks.dashboards import DashboardsStack
from infra.stacks.lake import LakeStack
from infra.stacks.orchestration import OrchestrationStack
from youtube_etl.settings import ENV_PREFIX, Settings, SettingsError, get_settings

CDK_JSON = REPO_ROOT / "cdk.json"


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` of cdk.json: feature flags and defaults, also applied to in-process synthesis."""
    return dict(json.loads(path.read_text())["context"])


def _flag(value: object) -> bool:
    return value is True or str(value).strip().lower() in {"true", "1", "yes"}


def app_settings(context: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Settings of the stage being deployed: account and region are required (bucket names carry them)."""
    account = str(context.get("account") or environ.get("CDK_DEFAULT_ACCOUNT") or "")
    region = str(context.get("region") or environ.get("CDK_DEFAULT_REGION") or "")
    if not account or not region:
        raise SettingsError(
            "account and region are required: pass -c account=123456789012 -c region=eu-west-1 or run "
            "the CDK CLI with credentials (it sets CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION)"
        )
    # Only [youtube_etl] options (AIRFLOW__YOUTUBE_ETL__*) of the environment are read; context wins.
    options = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)}
    return get_settings(options, account=account, region=region, stage=str(context.get("stage") or "dev"))


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    outdir: str | None = None,
) -> App:
    """All stacks of one stage. ``context`` is merged over cdk.json's context (as the CLI does)."""
    merged = {**cdk_json_context(), **(context or {})}
    env = os.environ if environ is None else environ
    app = App(context=merged, outdir=outdir, analytics_reporting=False)
    # The CLI passes -c values through the app's context; read them back so both paths agree.
    ctx = {key: app.node.try_get_context(key) for key in merged} | {
        key: app.node.try_get_context(key) for key in ("account", "region")
    }
    settings = app_settings(ctx, env)
    add_stacks(app, settings, ctx)
    Tags.of(app).add("project", settings.project)
    Tags.of(app).add("stage", settings.stage)
    Aspects.of(app).add(CdkHandlerSkips())
    Aspects.of(app).add(DropImpliedDependsOn())
    return app


def add_stacks(app: App, settings: Settings, ctx: Mapping[str, Any]) -> None:
    """The stacks of one stage and what crosses between them: the lake key, MWAA's right to alert."""
    aws_env = Environment(account=settings.account, region=settings.region)
    lake = LakeStack(
        app,
        "Lake",
        stack_name=settings.stack_name("lake"),
        settings=settings,
        report_expiry_days=int(ctx.get("report_expiry_days") or 90),
        env=aws_env,
        description="youtube-etl lake: buckets, Glue databases, Athena workgroup",
    )
    compute = ComputeStack(
        app,
        "Compute",
        stack_name=settings.stack_name("compute"),
        settings=settings,
        key=lake.key,
        pandas_layer_version=int(ctx["pandas_layer_version"]),
        env=aws_env,
        description="youtube-etl compute: json_to_parquet Lambda, Glue jobs and crawlers",
    )
    compute.add_stack_dependency(lake)  # buckets are referenced by name, not by export
    alerts = AlertsStack(
        app,
        "Alerts",
        stack_name=settings.stack_name("alerts"),
        settings=settings,
        env=aws_env,
        description="youtube-etl alerts: SNS topic, Lambda and failure-queue alarms, Glue failure rule",
    )
    orchestration = OrchestrationStack(
        app,
        "Orchestration",
        stack_name=settings.stack_name("orchestration"),
        settings=settings,
        key=lake.key,
        webserver_access=str(ctx.get("mwaa_webserver_access") or "PRIVATE_ONLY"),
        env=aws_env,
        description="youtube-etl orchestration: MWAA (Airflow 3.3.1) running the DAGs",
    )
    orchestration.add_stack_dependency(compute)
    alerts.allow_publish(orchestration.execution_role)  # task, DAG-run and deadline alerts from MWAA
    if _flag(ctx.get("dashboards")):
        dashboards = DashboardsStack(
            app,
            "Dashboards",
            stack_name=settings.stack_name("dashboards"),
            settings=settings,
            key=lake.key,
            principal=str(ctx.get("quicksight_principal") or ""),
            service_role=str(ctx.get("quicksight_service_role") or ""),
            env=aws_env,
            description="youtube-etl dashboards: QuickSight data source, datasets and dashboard",
        )
        dashboards.add_stack_dependency(lake)


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
