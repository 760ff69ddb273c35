"""Executors that make moto's Lambda, Glue job, crawler and Athena APIs really run.

Each module in this package that defines ``install(runtime)`` is installed when the runtime starts; it
patches moto's in-process backend for its service. Optional ``shutdown(runtime)`` stops what it started
(subprocesses, threads) and ``reset(runtime)`` forgets its state after a moto reset. Modules are
discovered, so each executor lives in its own file and none needs editing to add another.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.local.runtime import LocalRuntime


def _modules() -> list[ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def install(runtime: LocalRuntime) -> None:
    for module in _modules():
        if hasattr(module, "install"):
            module.install(runtime)


def shutdown(runtime: LocalRuntime) -> None:
    for module in _modules():
        if hasattr(module, "shutdown"):
            module.shutdown(runtime)


def reset(runtime: LocalRuntime) -> None:
    for module in _modules():
        if hasattr(module, "reset"):
            module.reset(runtime)
