"""``make run``'s shared botocore models: parsed once for every session, botocore restored afterwards."""

from __future__ import annotations

import boto3
from botocore.loaders import Loader

from local.boto_models import PROCESS_MODELS, process_service_models, shared_service_models


def _glue_model(session: boto3.session.Session) -> object:
    return session._session.get_component("data_loader").load_service_model("glue", "service-2")


def test_sessions_share_one_parsed_model_inside_the_block_only() -> None:
    original = Loader.load_service_model
    with shared_service_models() as cache:
        first, second = boto3.session.Session(), boto3.session.Session()
        assert _glue_model(first) is _glue_model(second)
        assert any(key[0] == "load_service_model" and "glue" in key[3] for key in cache)
        # a client built from the shared model works as one built alone
        client = second.client("glue", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")
        assert client.meta.service_model.service_name == "glue"
    assert Loader.load_service_model is original
    assert _glue_model(boto3.session.Session()) is not _glue_model(boto3.session.Session())


def test_loaders_with_other_search_paths_get_their_own_copy(tmp_path: object) -> None:
    with shared_service_models():
        plain = Loader()
        other = Loader(extra_search_paths=[str(tmp_path)])
        assert plain.load_service_model("s3", "service-2") is not other.load_service_model("s3", "service-2")
        assert plain.load_service_model("s3", "service-2") is Loader().load_service_model("s3", "service-2")


def test_new_sessions_share_the_parsed_endpoints_file() -> None:
    """A session's endpoint resolver reads endpoints.json through load_data_with_path: parsed once."""
    original = Loader.load_data_with_path
    with shared_service_models() as cache:
        first, second = boto3.session.Session(), boto3.session.Session()
        ends = [s._session.get_component("endpoint_resolver") for s in (first, second)]
        assert any(key[0] == "load_data_with_path" and key[3] == ("endpoints",) for key in cache)
        assert ends[0]._endpoint_data is ends[1]._endpoint_data
        # the shared data still resolves (AWS_ENDPOINT_URL, which other tests set, plays no part here)
        assert (
            ends[1].construct_endpoint("athena", "eu-west-1")["hostname"] == "athena.eu-west-1.amazonaws.com"
        )
    assert Loader.load_data_with_path is original
    assert Loader().load_data_with_path("endpoints") is not Loader().load_data_with_path("endpoints")


def test_a_nested_block_changes_nothing_and_the_process_cache_outlives_its_blocks() -> None:
    """Every dag.test() run is wrapped in process_service_models(): inside make run's own block it changes
    nothing, and a test process's next run finds the models its last run parsed."""
    with shared_service_models() as outer:
        outer_method = Loader.load_service_model
        with process_service_models() as inner:
            assert inner is outer and Loader.load_service_model is outer_method
        assert Loader.load_service_model is outer_method, "the nested block restored nothing"
    with process_service_models() as first:
        model = _glue_model(boto3.session.Session())
    assert first is PROCESS_MODELS
    with process_service_models():
        assert _glue_model(boto3.session.Session()) is model
    assert _glue_model(boto3.session.Session()) is not model
