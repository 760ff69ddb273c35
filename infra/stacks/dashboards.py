"""Dashboards stack (optional, ``-c dashboards=true``; needs a QuickSight Enterprise subscription).

A QuickSight Athena data source on the readers' workgroup, one direct-query dataset per report view it
charts, and a dashboard with the bar charts the report declarations give (``youtube_lake.reports``: top
categories by region, engagement by category, days to trend). A dataset has every column its report declares.
Datasets read the stable report *views* (never a run table), so a dashboard never shows an unchecked run.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_quicksight as quicksight
from constructs import Construct

from infra.stacks.common import bucket_arn, list_prefixes, objects_arn
from youtube_etl.settings import Settings
from youtube_lake.reports import REPORTS, Chart, Report

#: QuickSight's column type for each Athena type a report declares (QuickSight reads booleans as bits).
QUICKSIGHT_TYPES = {
    "string": "STRING",
    "bigint": "INTEGER",
    "int": "INTEGER",
    "double": "DECIMAL",
    "date": "DATETIME",
    "timestamp": "DATETIME",
    "boolean": "BIT",
}

#: The reports QuickSight charts: one dataset each, with every column the report declares.
DATASETS: tuple[Report, ...] = tuple(report for report in REPORTS if report.charts)


def input_columns(report: Report) -> list[quicksight.CfnDataSet.InputColumnProperty]:
    """The dataset's columns: every declared column of the report, with its QuickSight type."""
    return [
        quicksight.CfnDataSet.InputColumnProperty(name=column.name, type=QUICKSIGHT_TYPES[column.type])
        for column in report.columns
    ]


_DATA_SOURCE_ACTIONS = [
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:UpdateDataSourcePermissions",
]
_DATASET_ACTIONS = [
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:UpdateDataSet",
    "quicksight:UpdateDataSetPermissions",
]
_DASHBOARD_ACTIONS = [
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboardVersions",
    "quicksight:QueryDashboard",
    "quicksight:UpdateDashboard",
    "quicksight:UpdateDashboardPermissions",
    "quicksight:DescribeDashboardPermissions",
    "quicksight:UpdateDashboardPublishedVersion",
]


def _bar_chart(dataset: str, chart: Chart) -> dict[str, Any]:
    """A horizontal bar chart in CloudFormation's QuickSight definition syntax."""
    visual_id = chart.id
    field_wells: dict[str, Any] = {
        "Category": [
            {
                "CategoricalDimensionField": {
                    "FieldId": f"{visual_id}-cat",
                    "Column": _col(dataset, chart.category),
                }
            }
        ],
        "Values": [
            {
                "NumericalMeasureField": {
                    "FieldId": f"{visual_id}-val",
                    "Column": _col(dataset, chart.measure),
                    "AggregationFunction": {"SimpleNumericalAggregation": chart.aggregation},
                }
            }
        ],
    }
    if chart.color:
        field_wells["Colors"] = [
            {
                "CategoricalDimensionField": {
                    "FieldId": f"{visual_id}-color",
                    "Column": _col(dataset, chart.color),
                }
            }
        ]
    return {
        "BarChartVisual": {
            "VisualId": visual_id,
            "Title": {"Visibility": "VISIBLE", "FormatText": {"PlainText": chart.title}},
            "ChartConfiguration": {
                "Orientation": "HORIZONTAL",
                "BarsArrangement": "STACKED" if chart.color else "CLUSTERED",
                "FieldWells": {"BarChartAggregatedFieldWells": field_wells},
                "SortConfiguration": {
                    "CategorySort": [
                        {"FieldSort": {"FieldId": f"{visual_id}-val", "Direction": "DESC"}},
                    ],
                    "CategoryItemsLimit": {"ItemsLimit": 15, "OtherCategories": "INCLUDE"},
                },
            },
        }
    }


def _col(dataset: str, column: str) -> dict[str, str]:
    return {"DataSetIdentifier": dataset, "ColumnName": column}


class DashboardsStack(Stack):
    """QuickSight on top of the Athena report views."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        key: kms.IKey,
        principal: str,
        service_role: str = "",
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        if not principal.startswith("arn:aws:quicksight:"):
            raise ValueError(
                "dashboards=true needs -c quicksight_principal=arn:aws:quicksight:<region>:<account>:user/"
                "default/<user> (or a group ARN) to own the data source, datasets and dashboard"
            )
        self.settings = settings
        self.principal = principal
        self.prefix = f"{settings.project}-{settings.stage}"
        if service_role:
            self._grant_lake_access(service_role, key)
        self.data_source = self._data_source()
        self.datasets = {report.name: self._dataset(report) for report in DATASETS}
        self.dashboard = self._dashboard()
        CfnOutput(self, "DashboardId", value=f"{self.prefix}-trending")

    def _grant_lake_access(self, service_role: str, key: kms.IKey) -> None:
        """QuickSight reads Athena results and the report files through its service role."""
        s = self.settings
        p = s.prefixes
        role = iam.Role.from_role_name(self, "QuickSightServiceRole", service_role)
        policy = iam.Policy(
            self,
            "QuickSightLakeAccess",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[
                        objects_arn(s.reporting_bucket, p.reports),
                        objects_arn(s.reporting_bucket, p.analytics),
                        objects_arn(s.processed_bucket, p.statistics),
                        objects_arn(s.processed_bucket, p.category_reference),
                    ],
                ),
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[objects_arn(s.reporting_bucket, p.athena_results)],
                ),
                list_prefixes(s.reporting_bucket, [p.reports, p.analytics, p.athena_results]),
                list_prefixes(s.processed_bucket, [p.statistics, p.category_reference]),
                iam.PolicyStatement(
                    actions=["s3:GetBucketLocation"],
                    resources=[bucket_arn(s.reporting_bucket), bucket_arn(s.processed_bucket)],
                ),
            ],
        )
        policy.attach_to_role(role)
        key.grant_encrypt_decrypt(role)

    def _data_source(self) -> quicksight.CfnDataSource:
        """Athena on the readers' workgroup (enforced result location and scan cutoff)."""
        workgroup = self.settings.readers_workgroup
        return quicksight.CfnDataSource(
            self,
            "AthenaSource",
            aws_account_id=self.account,
            data_source_id=f"{self.prefix}-athena",
            name=f"{self.prefix} Athena ({workgroup})",
            type="ATHENA",
            data_source_parameters=quicksight.CfnDataSource.DataSourceParametersProperty(
                athena_parameters=quicksight.CfnDataSource.AthenaParametersProperty(work_group=workgroup)
            ),
            ssl_properties=quicksight.CfnDataSource.SslPropertiesProperty(disable_ssl=False),
            permissions=[
                quicksight.CfnDataSource.ResourcePermissionProperty(
                    principal=self.principal, actions=_DATA_SOURCE_ACTIONS
                )
            ],
        )

    def _dataset(self, report: Report) -> quicksight.CfnDataSet:
        """A direct-query dataset on the report's stable view, with every column the report declares."""
        return quicksight.CfnDataSet(
            self,
            f"DataSet{report.name.title().replace('_', '')}",
            aws_account_id=self.account,
            data_set_id=f"{self.prefix}-{report.name}",
            name=f"{self.prefix} {report.name}",
            import_mode="DIRECT_QUERY",  # the views are small and change daily; no SPICE capacity needed
            physical_table_map={
                report.name.replace("_", "-"): quicksight.CfnDataSet.PhysicalTableProperty(
                    relational_table=quicksight.CfnDataSet.RelationalTableProperty(
                        data_source_arn=self.data_source.attr_arn,
                        catalog="AwsDataCatalog",
                        schema=self.settings.analytics_database,
                        name=report.name,
                        input_columns=input_columns(report),
                    )
                )
            },
            permissions=[
                quicksight.CfnDataSet.ResourcePermissionProperty(
                    principal=self.principal, actions=_DATASET_ACTIONS
                )
            ],
        )

    def _dashboard(self) -> quicksight.CfnDashboard:
        """One sheet with each charted report's bar charts, on the datasets above."""
        dashboard = quicksight.CfnDashboard(
            self,
            "Dashboard",
            aws_account_id=self.account,
            dashboard_id=f"{self.prefix}-trending",
            name=f"YouTube trending ({self.settings.stage})",
            permissions=[
                quicksight.CfnDashboard.ResourcePermissionProperty(
                    principal=self.principal, actions=_DASHBOARD_ACTIONS
                )
            ],
        )
        visuals = [_bar_chart(report.name, chart) for report in DATASETS for chart in report.charts]
        dashboard.add_property_override(
            "Definition",
            {
                "DataSetIdentifierDeclarations": [
                    {"Identifier": name, "DataSetArn": ds.attr_arn} for name, ds in self.datasets.items()
                ],
                "Sheets": [{"SheetId": "trending", "Name": "Trending", "Visuals": visuals}],
            },
        )
        return dashboard
