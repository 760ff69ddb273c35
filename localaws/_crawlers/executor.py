"""Crawler executor: ``StartCrawler`` really catalogs what lies under each S3 target.

moto's crawlers create no tables, never finish unless told to, say ``COMPLETED`` where AWS says
``SUCCEEDED`` and do not implement ``GetCrawlerMetrics`` or ``UpdateCrawler``. Here a crawl runs on a
background thread (:mod:`.crawl`, deciding with the pure functions of :mod:`.spec`), like the real
service:

* each S3 target folder (``s3://bucket/a`` or ``bucket/a``) becomes one table named after the folder
  (``.../lake/statistics/`` -> ``statistics``, plus the crawler's ``TablePrefix``); its objects are
  classified like AWS's built-in classifiers (Parquet footers; JSON lines; CSV with delimiter, header and
  SerDe detection: :mod:`.classify`), ``k=v`` folders become partition keys (other folder levels
  ``partition_0``, ...) and every partition is registered; a missing database is created;
* files of all partitions are merged into one schema (``CombineCompatibleSchemas``: union of columns,
  types widened); exclusion globs are honoured; objects no classifier recognises, or of another
  classification than most of the folder's files, are skipped and logged (AWS would make another table);
* each crawl writes its log to ``/aws-glue/crawlers``, stream named after the crawler;
* ``SchemaChangePolicy``: ``UPDATE_IN_DATABASE`` updates the table and, partitions inheriting from the
  table, its partitions; ``LOG`` only adds partitions; ``DELETE_FROM_DATABASE`` drops partitions and tables
  whose data is gone;
* ``GetCrawler`` moves RUNNING -> STOPPING -> READY with ``LastCrawl.Status`` ``SUCCEEDED``/``FAILED``
  (with ``ErrorMessage``)/``CANCELLED``; ``GetCrawlerMetrics`` and ``UpdateCrawler`` answer
  (:mod:`.patches`);
  ``StartCrawler`` on a crawler that is not READY raises ``CrawlerRunningException``.

Incompatible column types across files fail the crawl with a message naming the files, where a real
crawler would silently split the folder into one table per partition.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localaws._aws import s3_filesystem
from localaws._crawlers.crawl import Crawl
from localaws._crawlers.spec import Cancelled, CrawlError, CrawlerSpec, CrawlOutcome
from localaws._executor import Executor, Patch
from localaws._logs import put_lines

if TYPE_CHECKING:
    from localaws._crawlers.patches import LocalCrawl
    from localaws._runtime import LocalAWS

log = logging.getLogger(__name__)

#: Where AWS writes crawler logs (one stream per crawler).
LOG_GROUP = "/aws-glue/crawlers"


@dataclass
class History:
    """Per-crawler figures GetCrawlerMetrics reports."""

    runtimes: list[float] = field(default_factory=list)
    last: CrawlOutcome = field(default_factory=CrawlOutcome)


class CrawlerExecutor(Executor):
    """Runs the crawls of one runtime, one background thread per crawl."""

    service = "Glue crawler"

    def __init__(self, aws: LocalAWS) -> None:
        super().__init__(aws)
        #: Crawler name -> the thread of its latest crawl and that crawl's cancel flag.
        self._threads: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._history: dict[str, History] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._fs: Any = None

    def patches(self) -> Iterable[Patch]:
        from localaws._crawlers.patches import HANDLERS

        return [Patch(owner, name, handler) for (owner, name), handler in HANDLERS.items()]

    # -- called by the patched API
    def start(self, spec: CrawlerSpec, crawl: LocalCrawl) -> None:
        thread = threading.Thread(
            target=self._run, args=(spec, crawl), name=f"crawl-{spec.name}", daemon=True
        )
        with self._lock:
            self._threads[spec.name] = (thread, crawl.cancel)
        thread.start()

    def history_of(self, crawler: str) -> History:
        with self._lock:
            return self._history.get(crawler, History())

    # -- a crawl's thread
    def _run(self, spec: CrawlerSpec, crawl: LocalCrawl) -> None:
        started = time.monotonic()
        outcome: CrawlOutcome | None = None
        final = "COMPLETED"
        lines = [f"BENCHMARK : Running Start Crawl for Crawler {spec.name}"]
        try:
            if crawl.cancel.wait(self.aws.holds.take("crawler", spec.name)):  # a hold (localaws._holds)
                raise Cancelled
            s3, glue = self.aws.client("s3"), self.aws.client("glue")
            outcome = Crawl(spec, s3, glue, self._filesystem(), crawl.cancel).run()
            for message in outcome.messages:
                log.info("crawler %s: %s", spec.name, message)
            lines += [f"INFO : {message}" for message in outcome.messages]
            crawl.summary = outcome.summary()
        except Cancelled:
            final = "STOPPED"
        except CrawlError as error:
            final, crawl.error_message = "FAILED", str(error)
        except Exception as error:  # anything else is reported like an internal service error
            log.exception("crawler %s failed", spec.name)
            final = "FAILED"
            crawl.error_message = f"Internal Service Exception: {type(error).__name__}: {error}"
        if crawl.error_message:
            log.warning("crawler %s FAILED: %s", spec.name, crawl.error_message)
            lines.append(f"ERROR : {crawl.error_message}")
        if outcome is not None:
            lines.append(f"INFO : Crawler summary: {outcome.summary()}")
        lines.append(f"BENCHMARK : Crawler has finished running and is in state {final}")
        self._log(spec.name, crawl, lines)
        crawl.local_status = "STOPPING"
        self._stopping.wait(self.aws.crawler_stopping_seconds)
        elapsed = time.monotonic() - started
        with self._lock:
            history = self._history.setdefault(spec.name, History())
            history.runtimes.append(elapsed)
            history.last = outcome or CrawlOutcome()
        crawl.end_time = datetime.now(UTC)
        crawl.local_status = final

    def _filesystem(self) -> Any:
        with self._lock:
            if self._fs is None:
                self._fs = s3_filesystem(self.aws.endpoint, self.aws.region, self.aws.account_id)
            return self._fs

    def _log(self, crawler: str, crawl: LocalCrawl, lines: list[str]) -> None:
        """The crawl's lines in ``/aws-glue/crawlers``, stream named after the crawler, like AWS."""
        prefix = f"[{crawl.message_prefix}] " if getattr(crawl, "message_prefix", None) else ""
        try:
            put_lines(
                self.aws.account_id, self.aws.region, LOG_GROUP, crawler, [prefix + line for line in lines]
            )
        except Exception:  # the crawl's outcome must not depend on its logging
            log.exception("could not write the log of crawler %s", crawler)

    # -- life cycle
    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = [thread for thread, _ in self._threads.values()]
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _cancel_all(self) -> None:
        with self._lock:
            for _, cancel in self._threads.values():
                cancel.set()
        self._stopping.set()

    def shutdown(self) -> None:
        """Cancel running crawls and wait for their threads."""
        self._cancel_all()
        if not self.wait_idle(30.0):
            log.warning("crawls still running at shutdown")

    def reset(self) -> None:
        """After a moto reset the crawlers are gone: let running crawls end and forget their history."""
        self._cancel_all()
        self.wait_idle(30.0)
        self._stopping.clear()
        with self._lock:
            self._threads.clear()
            self._history.clear()
