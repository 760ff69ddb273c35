"""One execution environment: a bootstrap process (:mod:`.bootstrap`), its control pipes, and its log."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import threading
import time
from typing import IO, Any

from localaws._lambda.bootstrap import end_marker
from localaws._lambda.spec import WorkerKey

log = logging.getLogger(__name__)

#: Seconds to wait for the rest of an invocation's log once its outcome has arrived.
LOG_SETTLE_S = 5.0
#: Seconds between two samples of a busy worker's memory (a burst between two samples can overshoot the
#: limit by what it allocates in that time; AWS's cgroup stops it at the byte).
MEMORY_SAMPLE_S = 0.02
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


class WorkerExited(Exception):
    """The worker's process ended (crash, ``os._exit``, init failure) before answering."""


class MemoryExceeded(Exception):
    """The worker's processes together used more than the function's ``MemorySize``."""


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
        except OSError:
            continue
    return found


def tree_rss_mb(pid: int) -> int | None:
    """Resident memory of ``pid`` and all its descendants, in MiB (what a Lambda sandbox's memory limit
    counts: the handler's own subprocesses too); None where ``/proc`` cannot tell (not Linux)."""
    total_pages = 0
    pending = [pid]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/statm") as statm:
                total_pages += int(statm.read().split()[1])
        except (OSError, IndexError, ValueError):
            if current == pid:
                return None
            continue
        pending += _children(current)
    return total_pages * _PAGE_KB // 1024


class Worker:
    """One execution environment: a bootstrap process, its control pipes and a thread reading its log.

    The thread running an invocation owns the worker; other threads only ever :meth:`terminate` it.
    """

    def __init__(
        self,
        key: WorkerKey,
        proc: subprocess.Popen[bytes],
        control_in: IO[bytes],
        control_out: int,
        token: str,
        log_stream: str,
        *,
        generation: int,
        pooled: bool,
    ) -> None:
        self.key = key
        self.proc = proc
        self.token = token
        self.log_stream = log_stream
        self.generation = generation
        #: False for a one-off worker started beyond :attr:`WorkerPool.max_workers`.
        self.pooled = pooled
        self.spawned = time.perf_counter()
        self.ready = False
        self.invocations = 0
        self.last_used = time.monotonic()
        #: The most memory its processes were seen using together, in MiB (sampled while busy).
        self.peak_mb = 0
        self._control_in = control_in
        self._control_out = control_out
        self._received = bytearray()
        self._state = threading.Lock()
        self._terminated = False
        self._closed = False
        self._log = threading.Condition()
        self._buffer: list[str] = []
        self._chunks: dict[str, str] = {}
        self._eof = False
        self._reader = threading.Thread(target=self._read_log, name=f"lambda-log-{proc.pid}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def __repr__(self) -> str:
        return f"Worker(pid={self.pid}, arn={self.key.arn!r}, invocations={self.invocations})"

    # ---- control channel ------------------------------------------------------------------------
    def send(self, message: Any) -> bool:
        """Write one request frame; False if the worker is gone."""
        body = json.dumps(message).encode("utf-8")
        try:
            self._control_in.write(len(body).to_bytes(4, "big") + body)
            self._control_in.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def receive(self, deadline: float, memory_limit_mb: int | None = None) -> Any:
        """The next frame from the worker. Raises :class:`TimeoutError` at ``deadline`` (monotonic),
        :class:`WorkerExited` at end of stream and, with ``memory_limit_mb``, :class:`MemoryExceeded` as
        soon as its processes use more than that (sampled every :data:`MEMORY_SAMPLE_S`)."""
        poller = select.poll()
        poller.register(self._control_out, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            if memory_limit_mb is not None and self.sample_memory() > memory_limit_mb:
                raise MemoryExceeded
            if len(self._received) >= 4:
                size = int.from_bytes(self._received[:4], "big")
                if len(self._received) >= 4 + size:
                    body = bytes(self._received[4 : 4 + size])
                    del self._received[: 4 + size]
                    return json.loads(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            wait = remaining if memory_limit_mb is None else min(remaining, MEMORY_SAMPLE_S)
            if not poller.poll(max(1, int(wait * 1000))):
                continue
            try:
                chunk = os.read(self._control_out, 1 << 16)
            except OSError as error:
                raise WorkerExited from error
            if not chunk:
                raise WorkerExited
            self._received += chunk

    def sample_memory(self) -> int:
        """The memory its processes use now, in MiB (0 where it cannot be measured); updates
        :attr:`peak_mb`."""
        used = tree_rss_mb(self.proc.pid) or 0
        self.peak_mb = max(self.peak_mb, used)
        return used

    # ---- log ------------------------------------------------------------------------------------
    def _read_log(self) -> None:
        """Split the worker's stdout/stderr into one chunk per invocation at the bootstrap's end markers."""
        stream = self.proc.stdout
        assert stream is not None
        prefix = end_marker(self.token, "")[:-2]  # b"\0<token> END "
        try:
            for raw in iter(stream.readline, b""):
                at = raw.find(prefix)
                if at < 0:
                    with self._log:
                        self._buffer.append(raw.decode("utf-8", "replace"))
                    continue
                request_id = raw[at + len(prefix) :].split(b"\0", 1)[0].decode("utf-8", "replace")
                with self._log:
                    if at:
                        self._buffer.append(raw[:at].decode("utf-8", "replace"))
                    self._chunks[request_id] = "".join(self._buffer)
                    self._buffer.clear()
                    self._log.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._log:
                self._eof = True
                self._log.notify_all()

    def log_of(self, request_id: str, timeout: float = LOG_SETTLE_S) -> str:
        """What the worker logged during the invocation ``request_id`` (init output included when cold)."""
        with self._log:
            self._log.wait_for(lambda: request_id in self._chunks or self._eof, timeout)
            if request_id in self._chunks:
                return self._chunks.pop(request_id)
            text = "".join(self._buffer)
            self._buffer.clear()
            return text

    def remaining_log(self, timeout: float = 2.0) -> str:
        """Everything not yet collected, once the process is gone (its last invocation's log)."""
        self._reader.join(timeout)
        with self._log:
            text = "".join(self._chunks.values()) + "".join(self._buffer)
            self._chunks.clear()
            self._buffer.clear()
            return text

    # ---- lifecycle ------------------------------------------------------------------------------
    def exit_status(self) -> int | None:
        """The exit status if the process has ended, without reaping it (so its process id, which is
        also its process group's, stays ours until :meth:`terminate` has killed the group)."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.proc.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def alive(self) -> bool:
        return not self._terminated and self.exit_status() is None

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status once the process has ended by itself within ``timeout``, else None."""
        deadline = time.monotonic() + timeout
        while (status := self.exit_status()) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return status

    def terminate(self) -> None:
        """Kill the worker's whole process group (the handler may have started children) and reap it."""
        with self._state:
            if self._terminated:
                return
            self._terminated = True
        if self.proc.returncode is None:  # not reaped yet: the group id cannot have been reused
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            log.warning("Lambda worker %s did not exit after SIGKILL", self.pid)

    def close(self) -> None:
        """Terminate and release the pipes (only by the worker's owner, never while it is in use)."""
        self.terminate()
        with self._state:
            if self._closed:
                return
            self._closed = True
        for closer in (self._control_in.close, lambda: os.close(self._control_out)):
            try:
                closer()
            except OSError:
                pass
        self._reader.join(2.0)
        if not self._reader.is_alive() and self.proc.stdout is not None:
            self.proc.stdout.close()
