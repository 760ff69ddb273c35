"""Athena: StartQueryExecution runs the query in DuckDB over the catalog's S3 data.

``parse`` (text -> statement) · ``statements`` (the statements as data) · ``dialect`` (Trino meaning in
DuckDB SQL, one transform per function) · ``results`` / ``views`` / ``errors`` (Athena's shapes and wording)
· ``scan`` (reading tables) · ``context`` (one query's run) · ``dml`` / ``ddl`` (the statements) ·
``executor`` (runs) · ``patches`` (moto's API handlers).
"""
