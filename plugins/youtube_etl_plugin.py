"""The project's Airflow plugin: registers what the scheduler must import by name.

Airflow imports every ``.py`` file of the plugins folder and keeps the ``AirflowPlugin`` subclasses it
finds. The scheduler evaluates custom deadline references only when a plugin registers them, so the
deadline of both DAGs (:class:`youtube_etl.deadlines.ReportsDue`) is declared here; the class itself lives
in the package so that DAGs and scheduler name it identically.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from youtube_etl.deadlines import ReportsDue


class YoutubeEtlPlugin(AirflowPlugin):
    name = "youtube_etl"
    deadline_references = [ReportsDue]
