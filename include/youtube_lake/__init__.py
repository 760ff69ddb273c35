"""The lake's contracts, written once: shared by the DAG side, the Lambda and the Glue jobs.

Standard library only, so it ships unchanged inside the Lambda zip, in Glue's ``--extra-py-files`` and in
MWAA's ``plugins.zip``. Each module holds one contract; writers and readers import the same code.
"""
