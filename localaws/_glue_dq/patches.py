"""The Glue Data Quality API, added to moto's Glue responses: rulesets (create / get / update / delete /
list) and ruleset evaluation runs with their results, in AWS's shapes and errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.glue.exceptions import AlreadyExistsException, EntityNotFoundException, InvalidInputException
from moto.glue.responses import GlueResponse

from localaws._glue_dq import spec
from localaws._glue_dq.executor import EvaluationRun, Ruleset

if TYPE_CHECKING:
    from localaws._glue_dq.executor import DataQualityExecutor


def _checked(ruleset: str | None) -> str:
    if not ruleset:
        raise InvalidInputException("DataQuality", "Ruleset must not be empty")
    try:
        spec.parse_ruleset(ruleset)
    except spec.DqdlError as error:
        raise InvalidInputException("DataQuality", f"Invalid DQDL: {error}") from None
    return ruleset


def _ruleset(executor: DataQualityExecutor, name: str) -> Ruleset:
    with executor.lock:
        found = executor.rulesets.get(name)
    if found is None:
        raise EntityNotFoundException(f"Cannot find Data Quality Ruleset {name} in account")
    return found


def create_data_quality_ruleset(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    name = response._get_param("Name")
    ruleset = Ruleset(
        name=name,
        ruleset=_checked(response._get_param("Ruleset")),
        description=response._get_param("Description") or "",
        target_table=response._get_param("TargetTable"),
    )
    with executor.lock:
        if name in executor.rulesets:
            raise AlreadyExistsException(f"Data Quality Ruleset {name}")
        executor.rulesets[name] = ruleset
    return ActionResult({"Name": name})


def get_data_quality_ruleset(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    return ActionResult(_ruleset(executor, response._get_param("Name")).as_dict())


def update_data_quality_ruleset(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    ruleset = _ruleset(executor, response._get_param("Name"))
    if response._get_param("Ruleset") is not None:
        ruleset.ruleset = _checked(response._get_param("Ruleset"))
    if response._get_param("Description") is not None:
        ruleset.description = response._get_param("Description")
    ruleset.modified = utcnow()
    return ActionResult(
        {"Name": ruleset.name, "Description": ruleset.description, "Ruleset": ruleset.ruleset}
    )


def delete_data_quality_ruleset(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    name = response._get_param("Name")
    _ruleset(executor, name)
    with executor.lock:
        executor.rulesets.pop(name, None)
    return ActionResult({})


def list_data_quality_rulesets(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    table = (response._get_param("Filter") or {}).get("TargetTable")
    with executor.lock:
        rulesets = list(executor.rulesets.values())
    if table:
        rulesets = [
            r
            for r in rulesets
            if r.target_table and all(r.target_table.get(k) == v for k, v in table.items())
        ]
    return ActionResult({"Rulesets": [r.summary() for r in sorted(rulesets, key=lambda r: r.name)]})


def start_data_quality_ruleset_evaluation_run(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    source = response._get_param("DataSource") or {}
    table = source.get("GlueTable") or {}
    if not table.get("DatabaseName") or not table.get("TableName"):
        raise InvalidInputException("DataQuality", "DataSource.GlueTable needs DatabaseName and TableName")
    names = response._get_param("RulesetNames") or []
    if not names:
        raise InvalidInputException("DataQuality", "RulesetNames must not be empty")
    for name in names:
        _ruleset(executor, name)
    run = EvaluationRun(
        run_id="dqrun-" + uuid.uuid4().hex[:40],
        data_source=source,
        role=response._get_param("Role") or "",
        ruleset_names=list(names),
        number_of_workers=response._get_param("NumberOfWorkers") or 5,
        timeout=response._get_param("Timeout") or 2880,
    )
    executor.start(run)
    return ActionResult({"RunId": run.run_id})


def _run(executor: DataQualityExecutor, run_id: str) -> EvaluationRun:
    with executor.lock:
        run = executor.runs.get(run_id)
    if run is None:
        raise EntityNotFoundException(f"Cannot find Data Quality Ruleset Evaluation Run {run_id}")
    return run


def get_data_quality_ruleset_evaluation_run(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    return ActionResult(_run(executor, response._get_param("RunId")).as_dict())


def list_data_quality_ruleset_evaluation_runs(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    with executor.lock:
        runs = sorted(executor.runs.values(), key=lambda r: r.started, reverse=True)
    summaries = [
        {"RunId": r.run_id, "Status": r.status, "StartedOn": r.started, "DataSource": r.data_source}
        for r in runs
    ]
    return ActionResult({"Runs": summaries})


def get_data_quality_result(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    result_id = response._get_param("ResultId")
    with executor.lock:
        result = executor.results.get(result_id)
    if result is None:
        raise EntityNotFoundException(f"Cannot find Data Quality Result {result_id}")
    return ActionResult(result)


def batch_get_data_quality_result(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    ids = response._get_param("ResultIds") or []
    with executor.lock:
        found = [executor.results[i] for i in ids if i in executor.results]
    return ActionResult({"Results": found, "ResultsNotFound": [i for i in ids if i not in executor.results]})


def list_data_quality_results(executor: DataQualityExecutor, response: GlueResponse) -> Any:
    with executor.lock:
        results = sorted(executor.results.values(), key=lambda r: r["StartedOn"], reverse=True)
    return ActionResult(
        {
            "Results": [
                {"ResultId": r["ResultId"], "DataSource": r["DataSource"], "StartedOn": r["StartedOn"]}
                for r in results
            ]
        }
    )


#: (moto owner, attribute) -> its replacement (moto has none of these).
HANDLERS: dict[tuple[Any, str], Callable[..., Any]] = {
    (GlueResponse, f.__name__): f
    for f in (
        create_data_quality_ruleset,
        get_data_quality_ruleset,
        update_data_quality_ruleset,
        delete_data_quality_ruleset,
        list_data_quality_rulesets,
        start_data_quality_ruleset_evaluation_run,
        get_data_quality_ruleset_evaluation_run,
        list_data_quality_ruleset_evaluation_runs,
        get_data_quality_result,
        batch_get_data_quality_result,
        list_data_quality_results,
    )
}
