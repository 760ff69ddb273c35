"""The test lake: what the runtime's own tests provision through the AWS API (the provisioning hook)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from localaws import LOCAL_ACCOUNT, LocalAWS


@dataclass(frozen=True)
class Names:
    """What :func:`provision` creates."""

    region: str = "us-east-1"
    landing_bucket: str = "localaws-test-landing"
    data_bucket: str = "localaws-test-data"
    reports_bucket: str = "localaws-test-reports"
    assets_bucket: str = "localaws-test-assets"
    results_bucket: str = "localaws-test-results"
    database: str = "localaws_data"
    analytics_database: str = "localaws_analytics"
    workgroup: str = "localaws"
    #: A workgroup enforcing its result location (client-side settings overridden).
    readers_workgroup: str = "localaws_readers"
    #: A crawler over :attr:`statistics_uri` into :attr:`database`.
    crawler: str = "localaws_statistics"

    @property
    def results_uri(self) -> str:
        return f"s3://{self.results_bucket}/athena/"

    @property
    def reports_uri(self) -> str:
        return f"s3://{self.reports_bucket}/reports/"

    @property
    def statistics_uri(self) -> str:
        return f"s3://{self.data_bucket}/statistics/"

    def role_arn(self, service: str) -> str:
        return f"arn:aws:iam::{LOCAL_ACCOUNT}:role/localaws-test-{service}"


NAMES = Names()


def provision(aws: LocalAWS) -> None:
    """The provisioning hook of the tests' runtime: roles, buckets, databases, workgroups, a crawler."""
    iam = aws.client("iam")
    for service in ("lambda", "glue"):
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": f"{service}.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(
            RoleName=NAMES.role_arn(service).rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(trust)
        )
    s3 = aws.client("s3")
    for bucket in (
        NAMES.landing_bucket,
        NAMES.data_bucket,
        NAMES.reports_bucket,
        NAMES.assets_bucket,
        NAMES.results_bucket,
    ):
        s3.create_bucket(Bucket=bucket)
    glue = aws.client("glue")
    for database in (NAMES.database, NAMES.analytics_database):
        glue.create_database(DatabaseInput={"Name": database})
    glue.create_crawler(
        Name=NAMES.crawler,
        Role=NAMES.role_arn("glue"),
        DatabaseName=NAMES.database,
        Targets={"S3Targets": [{"Path": NAMES.statistics_uri}]},
        SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
        Configuration=json.dumps(
            {
                "Version": 1.0,
                "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
            }
        ),
    )
    athena = aws.client("athena")
    for workgroup, enforce in ((NAMES.workgroup, False), (NAMES.readers_workgroup, True)):
        athena.create_work_group(
            Name=workgroup,
            Configuration={
                "ResultConfiguration": {"OutputLocation": NAMES.results_uri},
                "EnforceWorkGroupConfiguration": enforce,
            },
        )


def crawl(aws: LocalAWS, name: str, path: str, database: str, role: str) -> None:
    """Create crawler ``name`` over ``path`` into ``database`` and run it to a successful end (its table is
    named after the last folder of ``path``)."""
    glue = aws.client("glue")
    glue.create_crawler(Name=name, Role=role, DatabaseName=database, Targets={"S3Targets": [{"Path": path}]})
    glue.start_crawler(Name=name)
    assert aws.wait_idle(timeout=120)
    last = glue.get_crawler(Name=name)["Crawler"]["LastCrawl"]
    assert last["Status"] == "SUCCEEDED", last
