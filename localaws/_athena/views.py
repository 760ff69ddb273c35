"""Views as Athena stores them in Glue (``ViewOriginalText``: base64 JSON in a Presto comment)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from localaws._athena.statements import CATALOG

PRESTO_VIEW_PREFIX = "/* Presto View: "
PRESTO_VIEW_SUFFIX = " */"


@dataclass(frozen=True)
class ViewDefinition:
    original_sql: str
    database: str
    columns: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (name, athena type)


def encode_presto_view(view: ViewDefinition) -> str:
    """``ViewOriginalText`` the way Athena stores a view in Glue: base64 JSON in a comment."""
    payload = {
        "originalSql": view.original_sql,
        "catalog": CATALOG,
        "schema": view.database,
        "columns": [{"name": n, "type": t} for n, t in view.columns],
        "owner": "local",
        "runAsInvoker": False,
        "properties": {},
    }
    encoded = base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return f"{PRESTO_VIEW_PREFIX}{encoded}{PRESTO_VIEW_SUFFIX}"


def decode_presto_view(text: str, database: str) -> ViewDefinition:
    """The SQL of a Glue view (Athena's encoding; plain SQL from other tools is accepted too)."""
    stripped = text.strip()
    if stripped.startswith(PRESTO_VIEW_PREFIX) and stripped.endswith(PRESTO_VIEW_SUFFIX):
        payload = json.loads(base64.b64decode(stripped[len(PRESTO_VIEW_PREFIX) : -len(PRESTO_VIEW_SUFFIX)]))
        columns = tuple((c["name"], c["type"]) for c in payload.get("columns", []))
        return ViewDefinition(payload["originalSql"], payload.get("schema", database), columns)
    return ViewDefinition(stripped, database)
