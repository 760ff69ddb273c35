"""Stop a local command and everything it started on SIGINT/SIGTERM, within seconds, leaving nothing behind.

``make run`` and ``make airflow`` start many processes: Lambda workers, Glue drivers (a JVM each), Airflow's
components. Some are in sessions of their own (so a terminal's Ctrl-C does not reach them), and ``dag.test()``
replaces the SIGTERM handler while a task runs and never restores it (Airflow's task runner only calls the
operator's ``on_kill``), so the in-process pipeline cannot be trusted to stop on a signal.

So the command runs as a child under a small supervisor. The supervisor gives it a private temporary
folder (``TMPDIR``, ``SPARK_LOCAL_DIRS``: every temporary file of the run and of its Spark drivers lands
there), keeps a record of the child's process tree, and on SIGINT or SIGTERM: passes the signal to the child
(a graceful stop, where the child handles it), SIGTERMs every process of the tree, SIGKILLs whatever still
runs after the grace period, removes the temporary folder and exits with 128 + the signal number. When the
child exits on its own, whatever it started and left running is ended the same way (and named on stderr).
Processes are ended by PID (psutil checks each PID still names the process it recorded), never by name.

A supervisor that is SIGKILLed cannot stop anything, and the child — in a session of its own, deaf to
SIGTERM inside ``dag.test()`` — would go on starting Glue drivers for nobody. So the child watches its
supervisor (:func:`watch_supervisor`): once it is gone, the child ends what it started, removes the private
temporary folder and exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

#: Set in the supervised child's environment: the supervisor's PID.
SUPERVISED_ENV = "YOUTUBE_ETL_SUPERVISED"
#: The supervisor's private temporary folder starts with this.
TMP_PREFIX = "youtube-etl-run-"
#: How often the child checks its supervisor is still there.
WATCH_SECONDS = 1.0
# Graceful stop first (the child's own handler, SIGTERM to the tree), then SIGKILL: all gone well within 10 s.
GRACE_SECONDS = 5.0
KILL_WAIT_SECONDS = 2.0
POLL_SECONDS = 0.25
STOPPED = "stopped: the command and every process it started; its temporary folder removed"


def _tree(root: psutil.Process) -> dict[int, psutil.Process]:
    """The root's living descendants by PID (a process that already exited is simply not there)."""
    try:
        return {p.pid: p for p in root.children(recursive=True)}
    except psutil.NoSuchProcess:
        return {}


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running. A zombie has exited (only its parent's wait is missing; an orphan's is init's,
    which some sandboxes never do)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return "?"


def _end(processes: list[psutil.Process], signum: int) -> None:
    for process in processes:
        try:
            process.send_signal(signum)  # psutil refuses a PID that was reused by another process
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def _kill_survivors(processes: list[psutil.Process]) -> None:
    """SIGKILL those still running after the grace period, and wait for them."""
    survivors = still_running(processes)
    _end(survivors, signal.SIGKILL)
    psutil.wait_procs(survivors, timeout=KILL_WAIT_SECONDS)


def end_leftovers(leftovers: list[psutil.Process]) -> None:
    """After the command exited on its own: end what it started and left running (SIGTERM, then SIGKILL
    after the grace period)."""
    _end(leftovers, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while still_running(leftovers) and time.monotonic() < deadline:
        time.sleep(0.1)
    _kill_survivors(leftovers)


def stop_tree(child: subprocess.Popen[bytes], known: dict[int, psutil.Process], signum: int) -> None:
    """Stop the child and every process it started (the ones seen earlier and the ones living now)."""
    try:
        root = psutil.Process(child.pid)
    except psutil.NoSuchProcess:
        root = None
    if root is not None:
        known.update(_tree(root))
        _end([root], signum)
    _end(list(known.values()), signal.SIGTERM)
    everyone = ([root] if root else []) + list(known.values())
    deadline = time.monotonic() + GRACE_SECONDS
    while still_running(everyone) and time.monotonic() < deadline:
        if root is not None:
            fresh = {pid: p for pid, p in _tree(root).items() if pid not in known}
            _end(list(fresh.values()), signal.SIGTERM)  # a dying child may still start something
            known.update(fresh)
            everyone.extend(fresh.values())
        time.sleep(0.1)
    _kill_survivors(everyone)
    child.wait()


def supervise(command: list[str]) -> int:
    """Run ``command`` to its end (its exit status) or until SIGINT/SIGTERM (128 + the signal)."""
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
    env = {**os.environ, SUPERVISED_ENV: str(os.getpid()), "TMPDIR": str(tmp), "SPARK_LOCAL_DIRS": str(tmp)}
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # A session of its own: a terminal's Ctrl-C reaches the supervisor only, which stops the whole tree.
        child = subprocess.Popen(command, env=env, start_new_session=True)
        root = psutil.Process(child.pid)
        known: dict[int, psutil.Process] = {}
        while child.poll() is None and not received:
            known.update(_tree(root))
            time.sleep(POLL_SECONDS)
        if received:
            name = signal.Signals(received[0]).name
            print(f"\n{name}: stopping the run and every process it started …", flush=True)
            stop_tree(child, known, received[0])
            print(f"{STOPPED} ({len(known) + 1} processes)", flush=True)
            return 128 + received[0]
        leftovers = still_running(list(known.values()))
        if leftovers:
            names = ", ".join(f"{p.pid} ({_name(p)})" for p in leftovers)
            print(f"ending {len(leftovers)} process(es) the command left running: {names}", file=sys.stderr)
            end_leftovers(leftovers)
        return child.returncode
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        remove_folder(tmp)


def remove_folder(folder: Path) -> None:
    """Remove the private temporary folder, again while a process that was ending still writes there."""
    for _ in range(10):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.2)


def watch_supervisor(supervisor: int, every: float = WATCH_SECONDS) -> threading.Thread:
    """In the supervised child: once the supervisor is gone (the child's parent changed: SIGKILL, OOM), end
    every process this child started (SIGTERM, then SIGKILL after the grace period), remove the supervisor's
    private temporary folder and exit — nobody is left to stop the run."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(every)
        print(
            f"the supervisor (PID {supervisor}) is gone: ending the run and every process it started",
            file=sys.stderr,
            flush=True,
        )
        end_leftovers(still_running(list(_tree(psutil.Process()).values())))
        tmp = Path(os.environ.get("TMPDIR", ""))
        if tmp.name.startswith(TMP_PREFIX):
            remove_folder(tmp)
        os._exit(128 + signal.SIGTERM)

    thread = threading.Thread(target=watch, name="watch-supervisor", daemon=True)
    thread.start()
    return thread


def run_supervised(module: str, main: Callable[[], int]) -> int:
    """For a module's ``__main__``: ``main`` runs in a supervised child (``python -m module``, same args),
    which watches its supervisor (:func:`watch_supervisor`)."""
    supervisor = os.environ.get(SUPERVISED_ENV, "")
    if supervisor:
        if supervisor.isdigit() and int(supervisor) == os.getppid():
            watch_supervisor(int(supervisor))
        return main()
    return supervise([sys.executable, "-m", module, *sys.argv[1:]])
