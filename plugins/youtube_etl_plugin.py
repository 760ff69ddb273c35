"""The project's Airflow plugin: registers what the scheduler must import by name, and one listener.

Airflow imports every ``.py`` file of the plugins folder and keeps the ``AirflowPlugin`` subclasses it
finds. The scheduler evaluates custom deadline references only when a plugin registers them, so the
deadline of both DAGs (:class:`youtube_etl.deadlines.ReportsDue`) is declared here; the class itself lives
in the package so that DAGs and scheduler name it identically.
"""

from __future__ import annotations

from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from youtube_etl.deadlines import ReportsDue


class TaskHookLineage:
    """Each task starts with an empty hook-lineage collector, as in its own process on a worker.

    The collector is one per process. Where one process runs many tasks (``dag.test()``: ``make run`` and
    the tests), it kept every earlier task's hook lineage: a task without lineage of its own (a Python task
    after the Athena tasks) then sent all of it again as its own, in hundreds of OpenLineage events that
    took about a second per task to build. ``tryfirst``: before the OpenLineage listener reads it.
    """

    @hookimpl(tryfirst=True)
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        from airflow.sdk.lineage import get_hook_lineage_collector

        get_hook_lineage_collector.cache_clear()


class YoutubeEtlPlugin(AirflowPlugin):
    name = "youtube_etl"
    deadline_references = [ReportsDue]
    listeners = [TaskHookLineage()]
