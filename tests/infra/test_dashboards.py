"""Dashboards stack: QuickSight data source on the workgroup, datasets on report views, permissions."""

from __future__ import annotations

import pytest

from infra.stacks.dashboards import DATASETS, DashboardsStack, input_columns
from tests.infra.conftest import QUICKSIGHT_PRINCIPAL, Synth
from youtube_lake.reports import Column, Report, get_report


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
    assert views == {d.name for d in DATASETS} == {"category_performance", "days_to_trend"}


def _input_columns(synth: Synth) -> dict[str, list[tuple[str, str]]]:
    columns = {}
    for dataset in synth.resources("Dashboards", "AWS::QuickSight::DataSet").values():
        (table,) = dataset["Properties"]["PhysicalTableMap"].values()
        relational = table["RelationalTable"]
        columns[relational["Name"]] = [(c["Name"], c["Type"]) for c in relational["InputColumns"]]
    return columns


def test_datasets_have_every_declared_column_with_its_quicksight_type(synth: Synth) -> None:
    """Every column the report's CTAS writes reaches QuickSight, typed like Athena returns it."""
    columns = _input_columns(synth)
    assert columns["days_to_trend"] == [
        ("region", "STRING"),
        ("category_id", "INTEGER"),
        ("category_title", "STRING"),
        ("category_title_source", "STRING"),
        ("videos", "INTEGER"),
        ("min_days", "INTEGER"),
        ("p50_days", "INTEGER"),
        ("p90_days", "INTEGER"),
        ("max_days", "INTEGER"),
        ("avg_days", "DECIMAL"),
        ("trended_within_1_day", "INTEGER"),
    ]
    assert [name for name, _ in columns["category_performance"]] == list(
        get_report("category_performance").column_names
    )
    assert dict(columns["category_performance"])["views_share"] == "DECIMAL"


@pytest.mark.parametrize(
    ("athena_type", "quicksight_type"),
    [
        pytest.param("string", "STRING", id="string"),
        pytest.param("bigint", "INTEGER", id="bigint"),
        pytest.param("int", "INTEGER", id="int"),
        pytest.param("double", "DECIMAL", id="double"),
        pytest.param("date", "DATETIME", id="date"),
        pytest.param("timestamp", "DATETIME", id="timestamp"),
        pytest.param("boolean", "BIT", id="boolean"),
    ],
)
def test_every_athena_type_a_report_may_declare_has_a_quicksight_type(
    athena_type: str, quicksight_type: str
) -> None:
    report = Report(
        "r", "one row per region", ("region",), (Column("region", "string"), Column("c", athena_type))
    )
    assert [(c.name, c.type) for c in input_columns(report)] == [("region", "STRING"), ("c", quicksight_type)]


def test_visuals_chart_the_declared_columns(synth: Synth) -> None:
    (dashboard,) = synth.resources("Dashboards", "AWS::QuickSight::Dashboard").values()
    (sheet,) = dashboard["Properties"]["Definition"]["Sheets"]
    wells = {
        v["BarChartVisual"]["VisualId"]: v["BarChartVisual"]["ChartConfiguration"]["FieldWells"][
            "BarChartAggregatedFieldWells"
        ]
        for v in sheet["Visuals"]
    }
    top = wells["top-categories"]
    assert top["Category"][0]["CategoricalDimensionField"]["Column"] == {
        "DataSetIdentifier": "category_performance",
        "ColumnName": "category_title",
    }
    measure = top["Values"][0]["NumericalMeasureField"]
    assert measure["Column"]["ColumnName"] == "total_views"
    assert measure["AggregationFunction"] == {"SimpleNumericalAggregation": "SUM"}
    assert top["Colors"][0]["CategoricalDimensionField"]["Column"]["ColumnName"] == "region"
    assert "Colors" not in wells["days-to-trend"]


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
