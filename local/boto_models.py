"""One copy of botocore's service models for every boto3 session of a process that runs ``dag.test()``.

``make run`` runs every task in this one process (``dag.test()``), and each task builds its own hooks, each
hook its own ``boto3.Session``, and each session its own botocore loader, which reads and parses the
service's JSON model again (Glue's and S3's are large): about a quarter of a second per client on a busy
laptop, a few times per task. On MWAA every task is a process of its own and pays this too; here the
models can be parsed once. The loader already caches them per session and hands the same objects to every
client of that session; sharing them between sessions is the same contract, kept for the whole process.
The key includes the loader's search paths and extras at call time, so a session with other data paths
gets its own copy. Every ``dag.test()`` run is wrapped in such a block (``local.pipeline.run_dag``, and the
tests' one-off DAGs), which keeps its models for the next run of the process: a test process runs many.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any
from unittest import mock

#: The loader methods that read and parse model files (the others only list folders). ``load_data_with_path``
#: is what a new session's endpoint resolver reads ``endpoints.json`` (~1 MB) with, once per session.
CACHED_METHODS = ("load_service_model", "load_data", "load_data_with_path")


def _shared(
    name: str, original: Callable[..., Any], cache: dict[tuple[Any, ...], Any], lock: threading.Lock
) -> Any:
    def cached(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = (
            name,
            tuple(self.search_paths),
            tuple(self.extras_types),
            args,
            tuple(sorted(kwargs.items())),
        )
        with lock:
            if key in cache:
                return cache[key]
        value = original(self, *args, **kwargs)  # errors (an unknown service) are not cached
        with lock:
            return cache.setdefault(key, value)

    cached.__name__ = name
    return cached


#: The models parsed by :func:`process_service_models` blocks, kept for the next one: a test process runs many
#: DAGs, one ``dag.test()`` after another, each with tasks that build their own sessions.
PROCESS_MODELS: dict[tuple[Any, ...], Any] = {}
_ACTIVE: list[dict[tuple[Any, ...], Any]] = []  # the cache of the block in force, if any


@contextmanager
def shared_service_models(
    cache: dict[tuple[Any, ...], Any] | None = None,
) -> Iterator[dict[tuple[Any, ...], Any]]:
    """Within the block, every botocore loader of the process shares one cache of parsed models.

    ``cache`` is the one to fill (a new one by default). Yields the cache (what was parsed); botocore is
    restored when the block ends. Inside another such block, this one changes nothing and yields the
    cache in force.
    """
    from botocore.loaders import Loader

    if _ACTIVE:
        yield _ACTIVE[-1]
        return
    cache = {} if cache is None else cache
    lock = threading.Lock()  # one block patches at a time, so its lock is the only one a cache ever has
    with ExitStack() as stack:
        for name in CACHED_METHODS:
            original = getattr(Loader, name)
            stack.enter_context(mock.patch.object(Loader, name, _shared(name, original, cache, lock)))
        _ACTIVE.append(cache)
        try:
            yield cache
        finally:
            _ACTIVE.pop()


def process_service_models() -> AbstractContextManager[dict[tuple[Any, ...], Any]]:
    """:func:`shared_service_models` with the process's cache, :data:`PROCESS_MODELS`: what every
    ``dag.test()`` run of this process is wrapped in (``local.pipeline.run_dag``)."""
    return shared_service_models(PROCESS_MODELS)
