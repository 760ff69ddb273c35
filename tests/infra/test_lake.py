"""Lake stack: encryption, TLS-only policies, logging, versioning, lifecycle, catalog, Athena."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from infra.stacks.lake import BYTES_SCANNED_CUTOFF
from tests.infra.conftest import Synth
from youtube_etl.settings import Settings

DATA_BUCKETS = ("raw_bucket", "processed_bucket", "reporting_bucket", "assets_bucket")


def bucket(synth: Synth, name: str, stack: str = "Lake") -> tuple[str, dict[str, Any]]:
    matches = [
        (k, r)
        for k, r in synth.resources(stack, "AWS::S3::Bucket").items()
        if r["Properties"].get("BucketName") == name
    ]
    assert len(matches) == 1, f"expected exactly one bucket named {name} in {stack}"
    return matches[0]


def lake_key_id(synth: Synth) -> str:
    (key_id,) = synth.resources("Lake", "AWS::KMS::Key")
    return key_id


@pytest.mark.parametrize("attr", [pytest.param(a, id=a) for a in DATA_BUCKETS])
def test_data_buckets_are_kms_encrypted_versioned_private_and_logged(synth: Synth, attr: str) -> None:
    s = synth.settings
    name = getattr(s, attr)
    _, resource = bucket(synth, name)
    props = resource["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": [lake_key_id(synth), "Arn"]
    }
    assert rule["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    log_bucket_id, _ = bucket(synth, s.access_log_bucket)
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_bucket_id},
        "LogFilePrefix": f"{name}/",
    }
    assert resource["DeletionPolicy"] == "Retain"


def _tls_only(policy: dict[str, Any], bucket_id: str) -> bool:
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        if (
            statement["Effect"] == "Deny"
            and statement["Action"] == "s3:*"
            and statement["Principal"] == {"AWS": "*"}
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ):
            resources = statement["Resource"]
            return {"Fn::GetAtt": [bucket_id, "Arn"]} in resources and any(
                "Fn::Join" in r and {"Fn::GetAtt": [bucket_id, "Arn"]} in r["Fn::Join"][1] for r in resources
            )
    return False


@pytest.mark.parametrize(
    ("stack", "which"),
    [pytest.param("Lake", a, id=a) for a in DATA_BUCKETS]
    + [
        pytest.param("Lake", "access_log_bucket", id="access_logs"),
        pytest.param("Orchestration", "mwaa_source_bucket", id="mwaa_source"),
    ],
)
def test_every_bucket_denies_non_tls_requests(synth: Synth, stack: str, which: str) -> None:
    s = synth.settings
    name = getattr(s, which)
    bucket_id, _ = bucket(synth, name, stack)
    policies = [
        p
        for p in synth.resources(stack, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert len(policies) == 1
    assert _tls_only(policies[0], bucket_id), (
        f"{name}: no Deny on aws:SecureTransport=false for bucket and objects"
    )


def test_access_log_bucket_is_private_sse_s3_and_admits_only_this_account(synth: Synth) -> None:
    s = synth.settings
    log_id, log = bucket(synth, s.access_log_bucket)
    props = log["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    (policy,) = [
        p
        for p in synth.resources("Lake", "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": log_id}
    ]
    delivery = [
        st
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
        if st.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert delivery, "S3 log delivery is not allowed"
    for statement in delivery:
        assert statement["Action"] == "s3:PutObject"
        conditions = statement["Condition"]
        account_bound = conditions.get("StringEquals", {}).get(
            "aws:SourceAccount"
        ) == s.account or conditions.get("ArnLike", {}).get("aws:SourceArn")
        assert account_bound, f"log delivery statement not bound to this account: {statement}"


def test_key_rotates_and_lets_only_this_accounts_logs_use_it(synth: Synth) -> None:
    template = synth.template("Lake")
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain"})
    (key,) = synth.resources("Lake", "AWS::KMS::Key").values()
    logs = [
        st
        for st in key["Properties"]["KeyPolicy"]["Statement"]
        if st.get("Principal", {}).get("Service", "").startswith("logs.")
    ]
    assert len(logs) == 1
    assert logs[0]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:{synth.settings.region}:{synth.settings.account}:*"
    )


def _rules(synth: Synth, name: str) -> dict[str, dict[str, Any]]:
    _, resource = bucket(synth, name)
    return {r["Id"]: r for r in resource["Properties"]["LifecycleConfiguration"]["Rules"]}


def test_lifecycle_raw_moves_to_cheaper_storage_and_quarantine_expires(synth: Synth) -> None:
    s = synth.settings
    rules = _rules(synth, s.raw_bucket)
    tiering = rules["raw-to-cheaper-storage"]
    assert tiering["Prefix"] == "youtube/"
    assert [t["StorageClass"] for t in tiering["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert "ExpirationInDays" not in tiering, "raw is the system of record: current versions never expire"
    assert rules["expire-quarantine"]["Prefix"] == s.prefixes.quarantine
    assert rules["expire-quarantine"]["ExpirationInDays"] == 30


def test_lifecycle_old_report_runs_and_athena_results_expire(synth: Synth) -> None:
    s = synth.settings
    rules = _rules(synth, s.reporting_bucket)
    assert rules["expire-old-report-runs"]["Prefix"] == s.prefixes.reports
    assert rules["expire-old-report-runs"]["ExpirationInDays"] == 90
    assert rules["expire-athena-results"]["Prefix"] == s.prefixes.athena_results
    # Nothing else in the reporting bucket expires: the analytics table lives there too.
    expiring = {r["Prefix"] for r in rules.values() if "ExpirationInDays" in r}
    assert expiring == {s.prefixes.reports, s.prefixes.athena_results}


def test_glue_databases_are_named_by_settings(synth: Synth) -> None:
    s: Settings = synth.settings
    names = {
        r["Properties"]["DatabaseInput"]["Name"]
        for r in synth.resources("Lake", "AWS::Glue::Database").values()
    }
    assert names == {s.processed_database, s.analytics_database}


def test_landing_ledger_table_is_declared_with_the_json_serde(synth: Synth) -> None:
    from youtube_lake.ledger import FIELDS

    s: Settings = synth.settings
    (table,) = synth.resources("Lake", "AWS::Glue::Table").values()
    props = table["Properties"]
    assert props["DatabaseName"] == s.processed_database
    sd = props["TableInput"]["StorageDescriptor"]
    assert props["TableInput"]["Name"] == s.landing_ledger_table == "landing_ledger"
    assert sd["Location"] == s.landing_ledger_uri
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == list(FIELDS.items())


@pytest.mark.parametrize(
    ("attribute", "enforced"),
    [
        # Athena rejects CTAS external_location where the workgroup overrides client-side settings.
        pytest.param("athena_workgroup", False, id="pipeline"),
        pytest.param("readers_workgroup", True, id="readers"),
    ],
)
def test_athena_workgroups_encrypt_results_with_a_scan_cutoff(
    synth: Synth, attribute: str, enforced: bool
) -> None:
    s = synth.settings
    synth.template("Lake").has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "Name": getattr(s, attribute),
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": enforced,
                "BytesScannedCutoffPerQuery": BYTES_SCANNED_CUTOFF,
                "ResultConfiguration": {
                    "OutputLocation": s.athena_results_uri,
                    "EncryptionConfiguration": {
                        "EncryptionOption": "SSE_KMS",
                        "KmsKey": {"Fn::GetAtt": [lake_key_id(synth), "Arn"]},
                    },
                },
                "EngineVersion": {
                    "SelectedEngineVersion": Match.string_like_regexp("Athena engine version 3")
                },
            },
        },
    )
    assert 0 < BYTES_SCANNED_CUTOFF <= 100 * 1024**3
