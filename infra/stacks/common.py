"""What every stack shares: checkov skips as resource metadata, hardened buckets, ARNs, aspects.

Every name, also of the resources only the AWS deployment has (the access-log bucket, the MWAA environment,
the key aliases), comes from :mod:`youtube_etl.settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsii
from aws_cdk import CfnResource, Duration, IAspect, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from youtube_etl.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def skip_checkov(resource: IConstruct, *checks: tuple[str, str]) -> None:
    """Record checkov skips next to the resource: ``(check id, one-line justification)`` pairs.

    Accepts an L2 construct (its default child is used) or an L1 resource; skips accumulate.
    """
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to annotate")
    current: dict[str, Any] = cfn.get_metadata("checkov") or {"skip": []}
    known = {entry["id"] for entry in current["skip"]}
    for check_id, comment in checks:
        if not comment.strip():
            raise ValueError(f"checkov skip {check_id} on {resource.node.path} needs a justification")
        if check_id not in known:
            current["skip"].append({"id": check_id, "comment": comment})
    cfn.add_metadata("checkov", current)


OWNED = "youtube_etl:owned"

#: Lambda checks that do not apply to the CDK's own deployment-time handlers.
_CDK_HANDLER_SKIPS = (
    ("CKV_AWS_115", "CDK-provided custom-resource handler: runs only during deployments, one at a time"),
    ("CKV_AWS_116", "CDK-provided custom-resource handler: CloudFormation reports its failures"),
    ("CKV_AWS_117", "CDK-provided custom-resource handler: calls only public AWS APIs, no VPC resources"),
    ("CKV_AWS_173", "CDK-provided custom-resource handler: its environment holds no secrets"),
)


@jsii.implements(IAspect)
class CdkHandlerSkips:
    """Annotate the Lambda functions the CDK itself adds (bucket deployments, notifications, ...).

    Our own functions are created through :func:`owned_function` and are left alone: every check applies.
    """

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type != "AWS::Lambda::Function":
            return
        parent = node.node.scope
        if parent is not None and any(entry.type == OWNED for entry in parent.node.metadata):
            return
        skip_checkov(node, *_CDK_HANDLER_SKIPS)


def mark_owned(function: lambda_.Function) -> None:
    """Mark a function as ours so :class:`CdkHandlerSkips` does not skip any check on it."""
    function.node.add_metadata(OWNED, True)


def lake_bucket(
    scope: Construct,
    construct_id: str,
    *,
    bucket_name: str,
    key: kms.IKey,
    access_logs: s3.IBucket,
    lifecycle_rules: list[s3.LifecycleRule],
) -> s3.Bucket:
    """A data bucket: SSE-KMS with a bucket key, versioned, TLS-only, no public access, access-logged.

    Data buckets are retained when a stack is destroyed: raw is the system of record.
    """
    return s3.Bucket(
        scope,
        construct_id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        versioned=True,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{bucket_name}/",
        lifecycle_rules=[
            *lifecycle_rules,
            s3.LifecycleRule(
                id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(7)
            ),
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def objects_arn(name: str, prefix: str = "") -> str:
    """ARN of the objects under ``prefix`` (``""`` = the whole bucket)."""
    return f"arn:aws:s3:::{name}/{prefix}*"


def list_prefixes(bucket: str, prefixes: list[str]) -> iam.PolicyStatement:
    """s3:ListBucket on ``bucket`` restricted to keys under ``prefixes`` (with and without the slash)."""
    patterns: list[str] = []
    for prefix in prefixes:
        patterns += [prefix, f"{prefix}*", prefix.rstrip("/")]
    return iam.PolicyStatement(
        actions=["s3:ListBucket"],
        resources=[bucket_arn(bucket)],
        conditions={"StringLike": {"s3:prefix": sorted(set(patterns))}},
    )


def glue_arns(stack: Stack, settings: Settings, databases: list[str]) -> list[str]:
    """Catalog, database and table ARNs of ``databases`` (Glue Data Catalog permissions need all three)."""
    base = f"arn:aws:glue:{stack.region}:{stack.account}"
    arns = [f"{base}:catalog"]
    for database in databases:
        arns += [f"{base}:database/{database}", f"{base}:table/{database}/*"]
    return arns


def log_group_arn(stack: Stack, name_pattern: str) -> str:
    return f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{name_pattern}"


@jsii.implements(IAspect)
class DropImpliedDependsOn:
    """Drop a function's DependsOn on its own execution role: ``Role: !GetAtt`` already orders them.

    The CDK adds both (cfn-lint W3005). The DependsOn list is rebuilt lazily, at render time, when the
    construct-level dependencies have been turned into CloudFormation ones.
    """

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type != "AWS::Lambda::Function":
            return
        node.add_override("DependsOn", Lazy.list(_DependsOnWithoutRole(node), omit_empty=True))


@jsii.implements(IStableListProducer)
class _DependsOnWithoutRole:
    def __init__(self, function: CfnResource) -> None:
        self.function = function

    def _implied(self, dep: CfnResource) -> bool:
        if isinstance(self.function, lambda_.CfnFunction):
            role = Stack.of(self.function).resolve(self.function.role)
            return isinstance(role, dict) and role.get("Fn::GetAtt", [None])[0] == Stack.of(dep).resolve(
                dep.logical_id
            )
        # The CDK's raw handler functions (custom-resource providers) always reference the role created
        # beside them in the same scope.
        parent = self.function.node.path.rsplit("/", 1)[0]
        return dep.cfn_resource_type == "AWS::IAM::Role" and dep.node.path.startswith(f"{parent}/")

    def produce(self) -> list[str]:
        stack = Stack.of(self.function)
        deps = [dep for dep in self.function.obtain_dependencies() if isinstance(dep, CfnResource)]
        return sorted({stack.resolve(dep.logical_id) for dep in deps if not self._implied(dep)})


def deployment_log_group(scope: Construct, construct_id: str, key: kms.IKey) -> logs.LogGroup:
    """Log group for a BucketDeployment's handler: encrypted with the lake key, kept a year like the rest."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=RemovalPolicy.DESTROY,
    )
