"""Dashboards stack (optional, ``-c dashboards=true``; needs a QuickSight Enterprise subscription).

A QuickSight Athena data source on the readers' workgroup, one direct-query dataset per report view it
charts, and a dashboard with three visuals: top categories by region, engagement by category, days to trend.
Datasets read the stable report *views* (never a run table), so a dashboard never shows an unchecked run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_quicksight as quicksight
from constructs import Construct

from infra.stacks.common import bucket_arn, list_prefixes, objects_arn
from youtube_etl.settings import Settings


@dataclass(frozen=True)
class ReportDataset:
    """A report view and the columns (name -> QuickSight type) the dashboard uses from it."""

    view: str
    columns: dict[str, str]


#: Column names come from include/sql/reports/<view>.sql (tests check they exist there).
DATASETS = (
    ReportDataset(
        "category_performance",
        {
            "region": "STRING",
            "category_title": "STRING",
            "total_views": "INTEGER",
            "avg_engagement_rate": "DECIMAL",
            "views_share": "DECIMAL",
        },
    ),
    ReportDataset(
        "days_to_trend",
        {"region": "STRING", "category_title": "STRING", "p50_days": "INTEGER", "avg_days": "DECIMAL"},
    ),
)

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


def _bar_chart(
    visual_id: str, title: str, dataset: str, category: str, measure: str, aggregation: str, color: str | None
) -> dict[str, Any]:
    """A horizontal bar chart in CloudFormation's QuickSight definition syntax."""
    field_wells: dict[str, Any] = {
        "Category": [
            {"CategoricalDimensionField": {"FieldId": f"{visual_id}-cat", "Column": _col(dataset, category)}}
        ],
        "Values": [
            {
                "NumericalMeasureField": {
                    "FieldId": f"{visual_id}-val",
                    "Column": _col(dataset, measure),
                    "AggregationFunction": {"SimpleNumericalAggregation": aggregation},
                }
            }
        ],
    }
    if color:
        field_wells["Colors"] = [
            {"CategoricalDimensionField": {"FieldId": f"{visual_id}-color", "Column": _col(dataset, color)}}
        ]
    return {
        "BarChartVisual": {
            "VisualId": visual_id,
            "Title": {"Visibility": "VISIBLE", "FormatText": {"PlainText": title}},
            "ChartConfiguration": {
                "Orientation": "HORIZONTAL",
                "BarsArrangement": "STACKED" if color else "CLUSTERED",
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
        s = settings
        prefix = f"{s.project}-{s.stage}"

        if service_role:
            # QuickSight reads Athena results and the report files through its service role.
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

        self.data_source = quicksight.CfnDataSource(
            self,
            "AthenaSource",
            aws_account_id=self.account,
            data_source_id=f"{prefix}-athena",
            name=f"{prefix} Athena ({s.readers_workgroup})",
            type="ATHENA",
            data_source_parameters=quicksight.CfnDataSource.DataSourceParametersProperty(
                athena_parameters=quicksight.CfnDataSource.AthenaParametersProperty(
                    work_group=s.readers_workgroup
                )
            ),
            ssl_properties=quicksight.CfnDataSource.SslPropertiesProperty(disable_ssl=False),
            permissions=[
                quicksight.CfnDataSource.ResourcePermissionProperty(
                    principal=principal, actions=_DATA_SOURCE_ACTIONS
                )
            ],
        )

        self.datasets: dict[str, quicksight.CfnDataSet] = {}
        for dataset in DATASETS:
            ds = quicksight.CfnDataSet(
                self,
                f"DataSet{dataset.view.title().replace('_', '')}",
                aws_account_id=self.account,
                data_set_id=f"{prefix}-{dataset.view}",
                name=f"{prefix} {dataset.view}",
                import_mode="DIRECT_QUERY",  # the views are small and change daily; no SPICE capacity needed
                physical_table_map={
                    dataset.view.replace("_", "-"): quicksight.CfnDataSet.PhysicalTableProperty(
                        relational_table=quicksight.CfnDataSet.RelationalTableProperty(
                            data_source_arn=self.data_source.attr_arn,
                            catalog="AwsDataCatalog",
                            schema=s.analytics_database,
                            name=dataset.view,
                            input_columns=[
                                quicksight.CfnDataSet.InputColumnProperty(name=name, type=kind)
                                for name, kind in dataset.columns.items()
                            ],
                        )
                    )
                },
                permissions=[
                    quicksight.CfnDataSet.ResourcePermissionProperty(
                        principal=principal, actions=_DATASET_ACTIONS
                    )
                ],
            )
            self.datasets[dataset.view] = ds

        visuals = [
            _bar_chart(
                "top-categories",
                "Top categories by region (trending views)",
                "category_performance",
                "category_title",
                "total_views",
                "SUM",
                "region",
            ),
            _bar_chart(
                "engagement",
                "Engagement rate by category (likes + comments per view)",
                "category_performance",
                "category_title",
                "avg_engagement_rate",
                "AVERAGE",
                None,
            ),
            _bar_chart(
                "days-to-trend",
                "Median days from publication to trending",
                "days_to_trend",
                "category_title",
                "p50_days",
                "AVERAGE",
                None,
            ),
        ]
        self.dashboard = quicksight.CfnDashboard(
            self,
            "Dashboard",
            aws_account_id=self.account,
            dashboard_id=f"{prefix}-trending",
            name=f"YouTube trending ({s.stage})",
            permissions=[
                quicksight.CfnDashboard.ResourcePermissionProperty(
                    principal=principal, actions=_DASHBOARD_ACTIONS
                )
            ],
        )
        self.dashboard.add_property_override(
            "Definition",
            {
                "DataSetIdentifierDeclarations": [
                    {"Identifier": view, "DataSetArn": ds.attr_arn} for view, ds in self.datasets.items()
                ],
                "Sheets": [{"SheetId": "trending", "Name": "Trending", "Visuals": visuals}],
            },
        )
        CfnOutput(self, "DashboardId", value=f"{prefix}-trending")
