"""The one executor base: how a service's executor hooks into moto, and its life cycle.

moto serves each AWS API from process-wide backends and executes nothing. An executor makes one service
real by replacing a few of moto's methods (its :meth:`Executor.patches`); it holds all of its state
(threads, processes, runs) itself. The base does the rest, once for every service:

* ``install`` patches moto when the first executor of its kind arrives, with ``mock.patch.object`` on one
  ``ExitStack``, and ``uninstall`` closes that stack when the last one leaves, so whatever was patched is
  restored exactly, in every case;
* a patched method calls the handler with the newest installed executor of its kind (moto's backends are
  shared by every runtime of the process, so the newest one serves; when it stops, the previous one
  serves again);
* ``reset`` (moto forgot every resource), ``shutdown`` (stop what it started), ``wait_idle`` and
  ``snapshot`` / ``restore`` (a state folder) are the hooks a service overrides.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from unittest import mock

if TYPE_CHECKING:
    from localaws._runtime import LocalAWS


@dataclass(frozen=True)
class Patch:
    """Replace ``owner.name`` (a moto class or module attribute) with ``handler``.

    ``handler(executor, *args, **kwargs)`` receives the serving executor, then exactly what moto passes to
    the original (``self`` first for a method). An attribute moto lacks (an API it does not implement) is
    created and removed again.
    """

    owner: Any
    name: str
    handler: Callable[..., Any]


class Executor:
    """A service executor for one runtime. Subclasses declare ``patches`` and override the hooks."""

    #: What the service is called in logs and errors.
    service: ClassVar[str] = "executor"
    # Per subclass (set by __init_subclass__): installed executors (newest last), the patch stack and
    # moto's originals.
    _installed: ClassVar[list[Executor]]
    _stack: ClassVar[ExitStack | None]
    _originals: ClassVar[dict[tuple[int, str], Any]]
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._installed = []
        cls._stack = None
        cls._originals = {}

    def __init__(self, aws: LocalAWS) -> None:
        self.aws = aws

    # ---- what a service declares ----------------------------------------------------------------
    def patches(self) -> Iterable[Patch]:
        """moto attributes this executor replaces (imported here, so importing the package stays cheap)."""
        return ()

    def reset(self) -> None:
        """moto forgot every resource: forget what refers to them (runs, workers, history)."""

    def shutdown(self) -> None:
        """Stop what this executor started (threads, processes); it serves nothing afterwards."""

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing runs in the background; False if ``timeout`` seconds passed first."""
        return True

    def snapshot(self) -> Any:
        """What this executor keeps outside moto's backends, picklable, for a state folder (after
        ``shutdown``); None if nothing."""
        return None

    def restore(self, snapshot: Any) -> None:
        """Take back what :meth:`snapshot` returned when a runtime resumes a state folder."""

    # ---- the base's part ------------------------------------------------------------------------
    @classmethod
    def serving(cls) -> Any:
        """The executor moto's patched methods call: the newest installed one of this kind."""
        installed = cls._installed
        return installed[-1] if installed else None

    @classmethod
    def original(cls, owner: Any, name: str) -> Any:
        """moto's own ``owner.name`` as it was before the patch (None if moto has none)."""
        return cls._originals.get((id(owner), name))

    def install(self) -> None:
        cls = type(self)
        with Executor._registry_lock:
            if cls._stack is None:
                stack = ExitStack()
                for patch in self.patches():
                    cls._originals[(id(patch.owner), patch.name)] = getattr(patch.owner, patch.name, None)
                    stack.enter_context(
                        mock.patch.object(patch.owner, patch.name, cls._route(patch), create=True)
                    )
                cls._stack = stack
            cls._installed.append(self)

    def uninstall(self) -> None:
        cls = type(self)
        with Executor._registry_lock:
            cls._installed[:] = [e for e in cls._installed if e is not self]
            if not cls._installed and cls._stack is not None:
                cls._stack.close()
                cls._stack = None
                cls._originals.clear()

    def close(self) -> None:
        """Stop serving: shut down, then give moto back (to the previous executor or to moto itself)."""
        try:
            self.shutdown()
        finally:
            self.uninstall()

    @classmethod
    def _route(cls, patch: Patch) -> Callable[..., Any]:
        original = getattr(patch.owner, patch.name, None)

        def routed(*args: Any, **kwargs: Any) -> Any:
            executor = cls.serving()
            if executor is None:  # the last executor left between lookup and call
                if original is None:
                    raise RuntimeError(f"the local {cls.service} executor is not installed")
                return original(*args, **kwargs)
            return patch.handler(executor, *args, **kwargs)

        routed.__name__ = patch.name
        routed.__qualname__ = f"{cls.__name__}.{patch.name}"
        return routed
