"""CloudWatch Logs as the services write them: straight into moto's logs backend, in this process.

Lambda (``/aws/lambda/<name>``) and Glue (``/aws-glue/jobs/output|error``) write their logs where AWS puts
them, so ``logs.get_log_events`` and the provider's operators (``verbose=True``) find them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

#: PutLogEvents' limits: events per call and bytes per message (kept well below).
_BATCH = 1000
_MESSAGE_CHARS = 200_000


def ensure_stream(account: str, region: str, group: str, stream: str) -> None:
    """Create the log group and stream if missing (a moto reset drops them)."""
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    backend.ensure_log_group(group)
    backend.ensure_log_stream(group, stream)


def put_lines(account: str, region: str, group: str, stream: str, lines: Sequence[str]) -> None:
    """Append ``lines`` (empty ones dropped) to ``group``/``stream``, creating both when missing."""
    from moto.logs.models import logs_backends

    messages = [line[:_MESSAGE_CHARS] for line in lines if line]
    if not messages:
        return
    ensure_stream(account, region, group, stream)
    backend = logs_backends[account][region]
    now = int(time.time() * 1000)
    for start in range(0, len(messages), _BATCH):
        events = [{"timestamp": now, "message": m} for m in messages[start : start + _BATCH]]
        backend.put_log_events(group, stream, events)
