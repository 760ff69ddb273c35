"""``awsglue`` for the local runtime: Glue's ETL programming model over PySpark DataFrames.

Covered: ``GlueContext`` (``create_dynamic_frame`` / ``write_dynamic_frame`` ``from_catalog`` and
``from_options`` over S3 in csv, json and parquet, ``getSink`` with ``enableUpdateCatalog`` and
``partitionKeys``), ``DynamicFrame`` and the common transforms, ``Job`` with job bookmarks, and
``awsglue.utils.getResolvedOptions``. Anything else fails with :class:`NotCoveredError`, naming it.
"""

from .dynamicframe import DynamicFrame, DynamicFrameCollection
from .errors import NotCoveredError

__all__ = ["DynamicFrame", "DynamicFrameCollection", "NotCoveredError"]
