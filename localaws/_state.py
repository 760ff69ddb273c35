"""A runtime's state kept in a folder (``LocalAWS(state_dir=...)``), so it can be inspected and resumed.

* S3 object bodies are files under ``<state_dir>/objects/`` from the moment they are written: moto keeps
  each body in a ``SpooledTemporaryFile`` (in memory below 5 MB), here a :class:`DiskBuffer` instead, so the
  runtime's memory does not grow with the data. A body is written once and never changed (a new value is a
  new file), so copies moto makes of a key (``ListObjectVersions`` deep-copies them) share it safely.
* Everything else — moto's backends (buckets and keys, the Glue catalog, functions, jobs and their runs,
  queues, logs, Athena executions) and what the executors keep themselves (:meth:`Executor.snapshot`) — is
  pickled to ``<state_dir>/state.pickle`` when the runtime stops, and loaded back when a runtime starts on
  the same folder (which then does not provision again). Bodies no saved key refers to are deleted then.

One folder per process: moto's state is process-wide.
"""

from __future__ import annotations

import _thread
import collections
import io
import logging
import os
import pickle
import shutil
import threading
import uuid
import weakref
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar
from unittest import mock

log = logging.getLogger(__name__)

STATE_FILE = "state.pickle"
OBJECTS = "objects"
#: Bumped when what is pickled changes shape; a folder of another format is refused, not misread.
FORMAT = 1


class StateError(Exception):
    """A state folder that cannot be resumed (another format or moto version, a damaged file)."""


class DiskBuffer:
    """The file-like object a moto S3 key keeps its body in: one immutable file in the state folder.

    It does what moto asks of ``SpooledTemporaryFile``: ``seek`` / ``read`` / ``truncate`` + ``write`` of a
    whole value / ``close``. A write puts the value in a new file (copy-on-write), so a copy of the key never
    sees another key's body change. Closing (a deleted or overwritten key) keeps the file until the next
    save sweeps what no key refers to.
    """

    root: ClassVar[Path | None] = None
    #: Names pickled by the save in progress (what the sweep keeps).
    saved: ClassVar[set[str]] = set()

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._pos = 0
        self.closed = False

    @classmethod
    def path_of(cls, name: str) -> Path:
        if cls.root is None:
            raise StateError("no state folder is open in this process")
        return cls.root / OBJECTS / name[:2] / name

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check()
        size = self.path_of(self.name).stat().st_size if self.name else 0
        self._pos = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: size}[whence] + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def truncate(self, size: int | None = None) -> int:
        self._check()
        end = self._pos if size is None else size
        if end == 0:
            self.name = None
        elif self.name:
            self._store(self.path_of(self.name).read_bytes()[:end])
        return end

    def write(self, data: bytes) -> int:
        self._check()
        head = self.path_of(self.name).read_bytes()[: self._pos] if self.name and self._pos else b""
        self._store(head + bytes(data))
        self._pos = len(head) + len(data)
        return len(data)

    def _store(self, value: bytes) -> None:
        name = uuid.uuid4().hex
        path = self.path_of(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value)
        self.name = name

    def read(self, size: int = -1) -> bytes:
        self._check()
        if self.name is None:
            return b""
        with open(self.path_of(self.name), "rb") as body:
            body.seek(self._pos)
            data = body.read(size if size is not None and size >= 0 else -1)
        self._pos += len(data)
        return data

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def __deepcopy__(self, memo: dict[int, Any]) -> DiskBuffer:
        return DiskBuffer(self.name)

    def __getstate__(self) -> dict[str, Any]:
        if self.name is not None:
            DiskBuffer.saved.add(self.name)
        return {"name": None if self.closed else self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"])  # type: ignore[misc]


def _spooled(*args: Any, **kwargs: Any) -> DiskBuffer:
    return DiskBuffer()


def _key_getstate(key: Any) -> dict[str, Any]:
    """moto's ``FakeKey.__getstate__`` inlines the body; here the body stays a file (its name is pickled)."""
    state = dict(key.__dict__)
    state.pop("lock", None)
    return state


def _key_setstate(key: Any, state: dict[str, Any]) -> None:
    key.__dict__.update(state)
    key.lock = threading.Lock()


# ---- pickling moto's backends ------------------------------------------------------------------------
def _new_lock(kind: str) -> Any:
    return threading.RLock() if kind == "rlock" else threading.Lock()


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _defaultdict(factory: Any, items: dict[Any, Any]) -> collections.defaultdict[Any, Any]:
    return collections.defaultdict(factory, items)


class _Pickler(pickle.Pickler):
    """Pickles what moto's backends hold but plain pickle refuses: locks (recreated free), weak-valued
    dictionaries (their live values) and ``defaultdict`` s whose factory is a lambda (the factory's type)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _thread.LockType):
            return _new_lock, ("lock",)
        if isinstance(obj, _thread.RLock):
            return _new_lock, ("rlock",)
        if isinstance(obj, weakref.WeakValueDictionary):
            return _weak_values, (dict(obj.items()),)
        factory = getattr(obj, "default_factory", None)
        if isinstance(obj, collections.defaultdict) and getattr(factory, "__name__", "") == "<lambda>":
            return _defaultdict, (type(factory()), dict(obj))  # type: ignore[misc]
        return NotImplemented


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


class StateStore:
    """The state folder of one runtime: object bodies on disk while it runs, the rest saved at stop."""

    _open: ClassVar[StateStore | None] = None

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._stack: ExitStack | None = None

    @property
    def state_file(self) -> Path:
        return self.folder / STATE_FILE

    @property
    def saved(self) -> bool:
        """True when the folder holds a state to resume."""
        return self.state_file.exists()

    def open(self) -> None:
        """Keep S3 bodies in the folder from now on (until :meth:`close`)."""
        from moto.s3 import models as s3_models

        if StateStore._open is not None:
            other = StateStore._open.folder
            raise StateError(
                f"{self.folder}: a runtime of this process already keeps its state in {other}"
                " (moto's state is per process: one state folder per process)"
            )
        (self.folder / OBJECTS).mkdir(parents=True, exist_ok=True)
        stack = ExitStack()
        tempfile_shim = SimpleNamespace(SpooledTemporaryFile=_spooled)
        stack.enter_context(mock.patch.object(s3_models, "tempfile", tempfile_shim))
        stack.enter_context(mock.patch.object(s3_models.FakeKey, "__getstate__", _key_getstate))
        stack.enter_context(mock.patch.object(s3_models.FakeKey, "__setstate__", _key_setstate))
        self._stack = stack
        DiskBuffer.root = self.folder
        StateStore._open = self

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        if StateStore._open is self:
            StateStore._open = None

    def load(self) -> dict[str, Any]:
        """Put the saved backends back into moto; returns the executors' snapshots (by service)."""
        from moto.backends import get_backend
        from moto.core.base_backend import BackendDict

        try:
            with open(self.state_file, "rb") as saved:
                header = pickle.load(saved)
                if header != {"format": FORMAT, "moto": _moto_version()}:
                    raise StateError(
                        f"{self.state_file}: saved by another version ({header}; this runtime: format "
                        f"{FORMAT}, moto {_moto_version()}): remove the folder to start afresh"
                    )
                backends, snapshots = pickle.load(saved)
        except StateError:
            raise
        except Exception as error:  # unpickling runs arbitrary constructors: any failure means unreadable
            raise StateError(
                f"{self.state_file}: cannot be resumed ({type(error).__name__}: {error}); remove the folder"
            ) from error
        for service, accounts in backends.items():
            live = get_backend(service)  # type: ignore[call-overload]
            live.clear()
            live.update(accounts)
            instances: list[Any] = BackendDict._instances  # type: ignore[misc]
            if live not in instances:
                instances.append(live)
        log.info("resumed the state saved in %s (%d services)", self.folder, len(backends))
        return dict(snapshots)

    def save(self, snapshots: dict[str, Any]) -> None:
        """Pickle moto's backends and the executors' snapshots, then delete bodies nothing refers to.

        Call it when nothing runs (the server stopped): the file is replaced atomically."""
        from moto.core.base_backend import BackendDict

        instances: list[Any] = BackendDict._instances  # type: ignore[misc]
        backends = {b.service_name: dict(b) for b in instances if len(b)}
        partial = self.state_file.with_suffix(".partial")
        DiskBuffer.saved = set()
        with open(partial, "wb") as out:
            pickle.dump({"format": FORMAT, "moto": _moto_version()}, out)
            _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump((backends, snapshots))
        os.replace(partial, self.state_file)
        self._sweep(DiskBuffer.saved)
        log.info("state saved in %s", self.folder)

    def _sweep(self, keep: set[str]) -> None:
        for shard in (self.folder / OBJECTS).iterdir():
            for body in shard.iterdir():
                if body.name not in keep:
                    body.unlink(missing_ok=True)

    @staticmethod
    def remove(folder: Path) -> None:
        """Delete a state folder (a fresh start)."""
        shutil.rmtree(folder, ignore_errors=True)
