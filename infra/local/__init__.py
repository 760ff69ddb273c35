"""Alias of an old module path: the project's side of the local runtime moved to ``local/``.

Only ``python -m infra.local ...`` is kept, for scripts and compose files outside this repository
that still run it; import ``local`` instead. (layout alias, issue 22)
"""
