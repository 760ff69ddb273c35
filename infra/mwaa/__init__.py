"""Packaging for Amazon MWAA: the source-bucket bundle (dags, plugins.zip, requirements, startup script)."""
