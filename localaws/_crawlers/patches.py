"""moto's Glue crawler API, replaced: StartCrawler hands a crawl to the executor, GetCrawler reports it like
AWS, and the calls moto lacks (GetCrawlerMetrics, UpdateCrawler) answer."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from moto.core.responses import ActionResult, EmptyResult
from moto.glue.exceptions import CrawlerRunningException
from moto.glue.models import FakeCrawl, FakeCrawler
from moto.glue.responses import GlueResponse

from localaws._crawlers.spec import CrawlerSpec

if TYPE_CHECKING:
    from localaws._crawlers.executor import CrawlerExecutor


class LocalCrawl(FakeCrawl):  # type: ignore[misc]
    """A moto crawl whose state is set by the crawl thread instead of moto's state manager."""

    def __init__(self, crawler_name: str) -> None:
        super().__init__(crawler_name)
        self.local_status = "RUNNING"
        self.error_message: str | None = None
        self.summary: str | None = None
        self.cancel = threading.Event()
        self.started = time.monotonic()

    @property  # type: ignore[override]
    def status(self) -> str:
        return self.local_status

    @status.setter
    def status(self, value: str) -> None:
        if value == "STOPPING":  # moto's stop_crawler
            self.cancel.set()
        self.local_status = value

    def advance(self) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = super().as_dict()
        if self.error_message:
            data["ErrorMessage"] = self.error_message
        if self.summary:
            data["Summary"] = self.summary
        return data


def start_crawler(executor: CrawlerExecutor, crawler: FakeCrawler) -> None:
    """``StartCrawler``: refused unless READY, then the crawl runs in the background."""
    if crawler.status != "READY":
        raise CrawlerRunningException(f"Crawler with name {crawler.name} has already started")
    crawl = LocalCrawl(crawler.name)
    spec = CrawlerSpec.from_moto(crawler)
    crawler.crawls.append(crawl)
    executor.start(spec, crawl)


def crawler_as_dict(executor: CrawlerExecutor, crawler: FakeCrawler) -> dict[str, Any]:
    """``GetCrawler``: AWS's LastCrawl wording and the running crawl's elapsed time."""
    data: dict[str, Any] = executor.original(FakeCrawler, "as_dict")(crawler)
    if not crawler.crawls or not isinstance(crawler.crawls[-1], LocalCrawl):
        return data
    crawl = crawler.crawls[-1]
    last = data.get("LastCrawl", {})
    status = crawl.local_status
    if status in ("RUNNING", "STOPPING"):
        data["CrawlElapsedTime"] = int((time.monotonic() - crawl.started) * 1000)
        previous = [c for c in crawler.crawls[:-1] if isinstance(c, LocalCrawl)]
        if previous:
            crawl = previous[-1]
            last = dict(last, StartTime=crawl.start_time, MessagePrefix=crawl.message_prefix)
            status = crawl.local_status
        else:
            data.pop("LastCrawl", None)
            return data
    last["Status"] = {"COMPLETED": "SUCCEEDED", "STOPPED": "CANCELLED"}.get(status, status)
    if crawl.error_message:
        last["ErrorMessage"] = crawl.error_message
    data["LastCrawl"] = last
    return data


def get_crawler_metrics(executor: CrawlerExecutor, response: GlueResponse) -> Any:
    """``GetCrawlerMetrics`` (missing in moto), which the provider's crawler operator logs after waiting."""
    names = response.parameters.get("CrawlerNameList") or [
        c.name for c in response.glue_backend.get_crawlers()
    ]
    metrics = []
    for crawler in response.glue_backend.get_crawlers():
        if crawler.name not in names:
            continue
        history = executor.history_of(crawler.name)
        running = crawler.status != "READY"
        median = statistics.median(history.runtimes) if history.runtimes else 0.0
        elapsed = (
            (time.monotonic() - crawler.crawls[-1].started)
            if running and isinstance(crawler.crawls[-1], LocalCrawl)
            else 0.0
        )
        metrics.append(
            {
                "CrawlerName": crawler.name,
                "TimeLeftSeconds": max(0.0, median - elapsed) if running else 0.0,
                "StillEstimating": running and not history.runtimes,
                "LastRuntimeSeconds": history.runtimes[-1] if history.runtimes else 0.0,
                "MedianRuntimeSeconds": median,
                "TablesCreated": history.last.tables_created,
                "TablesUpdated": history.last.tables_updated,
                "TablesDeleted": history.last.tables_deleted,
            }
        )
    return ActionResult({"CrawlerMetricsList": metrics})


_UPDATABLE = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


def update_crawler(executor: CrawlerExecutor, response: GlueResponse) -> Any:
    """``UpdateCrawler`` (missing in moto): refused while the crawler runs, like AWS."""
    params = response.parameters
    crawler = response.glue_backend.get_crawler(params["Name"])
    if crawler.status != "READY":
        raise CrawlerRunningException(f"Crawler with name {crawler.name} is not READY")
    for key, attribute in _UPDATABLE.items():
        if key in params:
            setattr(crawler, attribute, params[key])
    if "Schedule" in params:
        crawler.schedule = params["Schedule"]
    crawler.version += 1
    crawler.last_updated = datetime.now(UTC)
    return EmptyResult()


#: (moto owner, attribute) -> its replacement.
HANDLERS: dict[tuple[Any, str], Callable[..., Any]] = {
    (FakeCrawler, "start_crawler"): start_crawler,
    (FakeCrawler, "as_dict"): crawler_as_dict,
    (GlueResponse, "get_crawler_metrics"): get_crawler_metrics,
    (GlueResponse, "update_crawler"): update_crawler,
}
