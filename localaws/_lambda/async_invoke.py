"""Asynchronous Lambda invocations (``Event`` and S3 notifications): a queue, retries and destinations.

Queued invocations run on background threads (:data:`ASYNC_CONCURRENCY` at once). A failed attempt is
retried ``MaximumRetryAttempts`` times (default 2), then the AWS-shaped failure record goes to the
``OnFailure`` destination (SQS, SNS or another function); with no reachable destination the event is
logged and kept in :attr:`AsyncInvocations.undelivered` — never silently lost. Each attempt is one
synchronous run, handed in by :mod:`.executor`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from localaws._aws import client as aws_client
from localaws._lambda.spec import FunctionSpec, InvokeResult, failure_record

log = logging.getLogger(__name__)

#: Pause before each retry of a failed asynchronous invocation. AWS waits about 1 and 2 minutes; locally
#: that would only slow tests down, the count of attempts is what matters.
RETRY_DELAYS_S = (0.2, 0.5)
#: Asynchronous invocations running at once (the rest wait in the queue, as with reserved concurrency).
ASYNC_CONCURRENCY = 4

#: One synchronous attempt: (function, event, request id) -> its result.
RunOnce = Callable[[FunctionSpec, Any, str], InvokeResult]


class AsyncInvocations:
    """The asynchronous queue of one runtime: attempts, retries, destinations, undelivered events."""

    def __init__(self, run: RunOnce, endpoint: str, region: str) -> None:
        self._run = run
        self.endpoint = endpoint
        self.region = region
        #: Asynchronous events that failed and had no reachable destination: kept, never silently lost.
        self.undelivered: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0
        self._stopping = threading.Event()
        #: Bumped by a moto reset: queued work for the old resources is abandoned, not retried.
        self._generation = 0
        self._pool = ThreadPoolExecutor(ASYNC_CONCURRENCY, thread_name_prefix="lambda-async")

    def submit(self, spec: FunctionSpec, event: Any) -> str:
        """Queue an asynchronous invocation (``Event`` / S3 notification); returns its request id."""
        request_id = str(uuid.uuid4())
        if self._stopping.is_set():
            self._give_up(spec, request_id, event, "the local runtime is shutting down", attempts=0)
            return request_id
        with self._idle:
            self._pending += 1
            generation = self._generation
        self._pool.submit(self._run_async, spec, event, request_id, generation)
        return request_id

    def _run_async(self, spec: FunctionSpec, event: Any, request_id: str, generation: int) -> None:
        try:
            attempts = 0
            result: InvokeResult | None = None
            for attempt in range(spec.max_retries + 1):
                if attempt:
                    delay = RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)]
                    if self._stopping.wait(delay):
                        break
                if generation != self._generation:
                    log.info("async invoke %s of %s abandoned: the runtime was reset", request_id, spec.name)
                    return
                attempts += 1
                result = self._run(spec, event, request_id)
                if result.function_error is None:
                    if spec.on_success:
                        self._send(
                            spec,
                            spec.on_success,
                            failure_record(
                                spec.arn, request_id, event, attempts, result.response, success=True
                            ),
                            request_id,
                        )
                    return
                log.warning(
                    "async invoke %s of %s failed (attempt %d): %s",
                    request_id,
                    spec.name,
                    attempts,
                    result.payload[:500],
                )
            response = result.response if result else {"errorMessage": "not run: runtime shutting down"}
            record = failure_record(spec.arn, request_id, event, attempts, response)
            if spec.on_failure:
                self._send(spec, spec.on_failure, record, request_id)
            else:
                self._give_up(
                    spec, request_id, event, "no on-failure destination configured", attempts, record
                )
        except Exception as error:  # a bug here must not lose the event either
            log.exception("async invoke %s of %s crashed", request_id, spec.name)
            self._give_up(spec, request_id, event, f"executor error: {error}", 0)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _send(self, spec: FunctionSpec, destination: str, record: dict[str, Any], request_id: str) -> None:
        try:
            self._deliver(destination, record)
        except Exception as error:
            self._give_up(
                spec,
                request_id,
                record.get("requestPayload"),
                f"delivery to {destination} failed: {error}",
                0,
                record,
            )

    def _deliver(self, destination: str, record: dict[str, Any]) -> None:
        """Send the record through the runtime's API, like Lambda's destination delivery."""
        service = destination.split(":")[2]
        client = aws_client(service, self.endpoint, destination.split(":")[3] or self.region)
        body = json.dumps(record)
        if service == "sqs":
            account, queue = destination.split(":")[4:6]
            url = client.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)["QueueUrl"]
            client.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            client.publish(TopicArn=destination, Message=body)
        elif service == "lambda":
            client.invoke(FunctionName=destination, InvocationType="Event", Payload=body.encode())
        else:
            raise ValueError(f"unsupported destination service {service!r}")

    def _give_up(
        self,
        spec: FunctionSpec,
        request_id: str,
        event: Any,
        reason: str,
        attempts: int,
        record: dict[str, Any] | None = None,
    ) -> None:
        entry = {
            "function": spec.name,
            "request_id": request_id,
            "reason": reason,
            "attempts": attempts,
            "event": event,
            "record": record,
        }
        with self._lock:
            self.undelivered.append(entry)
        log.error(
            "async invoke %s of %s not delivered (%s); event kept: %s",
            request_id,
            spec.name,
            reason,
            json.dumps(event)[:1000],
        )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no asynchronous invocation is queued or running; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def abandon(self) -> None:
        """Queued and running work is for resources a moto reset removed: stop retrying it."""
        with self._idle:
            self._generation += 1

    def forget_undelivered(self) -> None:
        with self._lock:
            self.undelivered.clear()

    def stop_retrying(self) -> None:
        """Shutting down: new events are given up at once, pending retries end (their attempt counts)."""
        self._stopping.set()

    def stop(self) -> None:
        """No more attempts or retries; wait for the running ones to return."""
        self.stop_retrying()
        self._pool.shutdown(wait=True, cancel_futures=False)
