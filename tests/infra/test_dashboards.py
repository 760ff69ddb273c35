"""Dashboards stack: QuickSight data source on the workgroup, datasets on report views, permissions."""

from __future__ import annotations

import re

import pytest

from infra.stacks.common import REPO_ROOT
from infra.stacks.dashboards import DATASETS, DashboardsStack
from tests.infra.conftest import QUICKSIGHT_PRINCIPAL, Synth


def test_data_source_uses_the_workgroup_and_grants_the_principal(synth: Synth) -> None:
    (source,) = synth.resources("Dashboards", "AWS::QuickSight::DataSource").values()
    props = source["Properties"]
    assert props["Type"] == "ATHENA"
    assert props["DataSourceParameters"]["AthenaParameters"]["WorkGroup"] == synth.settings.readers_workgroup
    assert [p["Principal"] for p in props["Permissions"]] == [QUICKSIGHT_PRINCIPAL]


def test_datasets_read_report_views_in_the_analytics_database(synth: Synth) -> None:
    datasets = synth.resources("Dashboards", "AWS::QuickSight::DataSet")
    views = set()
    for dataset in datasets.values():
        (table,) = dataset["Properties"]["PhysicalTableMap"].values()
        relational = table["RelationalTable"]
        assert relational["Schema"] == synth.settings.analytics_database
        views.add(relational["Name"])
        assert [p["Principal"] for p in dataset["Properties"]["Permissions"]] == [QUICKSIGHT_PRINCIPAL]
    assert views == {d.view for d in DATASETS}


@pytest.mark.parametrize("dataset", [pytest.param(d, id=d.view) for d in DATASETS])
def test_dataset_columns_are_outputs_of_the_report_sql(dataset: object) -> None:
    """Each column a dataset declares is a column the report's CTAS selects (by name or alias)."""
    view = dataset.view  # type: ignore[attr-defined]
    sql = (REPO_ROOT / "include" / "sql" / "reports" / f"{view}.sql").read_text()
    body = sql[sql.rindex("SELECT") :] if view != "category_performance" else sql[sql.rindex("\nSELECT") :]
    for column in dataset.columns:  # type: ignore[attr-defined]
        assert re.search(rf"(\bAS\s+{column}\b|^\s*{column},?\s*$)", body, re.MULTILINE | re.IGNORECASE), (
            view,
            column,
        )


def test_dashboard_has_three_visuals_on_declared_datasets(synth: Synth) -> None:
    (dashboard,) = synth.resources("Dashboards", "AWS::QuickSight::Dashboard").values()
    definition = dashboard["Properties"]["Definition"]
    declared = {d["Identifier"] for d in definition["DataSetIdentifierDeclarations"]}
    (sheet,) = definition["Sheets"]
    visuals = sheet["Visuals"]
    assert len(visuals) == 3
    for visual in visuals:
        wells = visual["BarChartVisual"]["ChartConfiguration"]["FieldWells"]["BarChartAggregatedFieldWells"]
        used = {f[next(iter(f))]["Column"]["DataSetIdentifier"] for f in wells["Category"] + wells["Values"]}
        assert used <= declared


def test_dashboards_refuse_to_synthesize_without_an_owner(synth: Synth) -> None:
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_kms as kms

    app = App()
    env = Environment(account=synth.settings.account, region=synth.settings.region)
    key = kms.Key.from_key_arn(
        Stack(app, "KeyHolder", env=env), "Key", f"arn:aws:kms:{env.region}:{env.account}:key/1234"
    )
    with pytest.raises(ValueError, match="quicksight_principal"):
        DashboardsStack(app, "D", settings=synth.settings, key=key, principal="", env=env)
