"""Glue's transforms, each ``X.apply(frame=..., ...)`` calling the DynamicFrame method that does the work."""

from __future__ import annotations

from typing import Any

from ..dynamicframe import DynamicFrame, DynamicFrameCollection


class GlueTransform:
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class ApplyMapping(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        mappings: Any,
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        **kw: Any,
    ) -> DynamicFrame:
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx)


class ResolveChoice(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        specs: Any = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        catalog_id: str | None = None,
        **kw: Any,
    ) -> DynamicFrame:
        return frame.resolveChoice(specs, choice, database, table_name, transformation_ctx, catalog_id)


class DropNullFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", **kw: Any) -> DynamicFrame:
        """Drops the top-level fields that are NULL (or missing) in every record."""
        from pyspark.sql import functions as F

        df = frame.toDF()
        if not df.columns:
            return frame
        counts = df.select(
            *[F.count(F.col(f"`{c}`")).alias(str(i)) for i, c in enumerate(df.columns)]
        ).first()
        empty = [c for i, c in enumerate(df.columns) if counts is None or counts[str(i)] == 0]
        return DynamicFrame(df.drop(*empty), frame.glue_ctx, frame.name)


class DropFields(GlueTransform):
    def __call__(
        self, frame: DynamicFrame, paths: Any, transformation_ctx: str = "", **kw: Any
    ) -> DynamicFrame:
        return frame.drop_fields(paths, transformation_ctx)


class SelectFields(GlueTransform):
    def __call__(
        self, frame: DynamicFrame, paths: Any, transformation_ctx: str = "", **kw: Any
    ) -> DynamicFrame:
        return frame.select_fields(paths, transformation_ctx)


class RenameField(GlueTransform):
    def __call__(
        self, frame: DynamicFrame, old_name: str, new_name: str, transformation_ctx: str = "", **kw: Any
    ) -> DynamicFrame:
        return frame.rename_field(old_name, new_name, transformation_ctx)


class Filter(GlueTransform):
    def __call__(self, frame: DynamicFrame, f: Any, transformation_ctx: str = "", **kw: Any) -> DynamicFrame:
        return frame.filter(f, transformation_ctx)


class Join(GlueTransform):
    def __call__(
        self,
        frame1: DynamicFrame,
        frame2: DynamicFrame,
        keys1: Any,
        keys2: Any,
        transformation_ctx: str = "",
        **kw: Any,
    ) -> DynamicFrame:
        return frame1.join(keys1, keys2, frame2, transformation_ctx)


class Relationalize(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        staging_path: str = "",
        name: str = "roottable",
        options: Any = None,
        transformation_ctx: str = "",
        **kw: Any,
    ) -> DynamicFrameCollection:
        return frame.relationalize(name, staging_path, options, transformation_ctx)


class UnnestFrame(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", **kw: Any) -> DynamicFrame:
        return frame.unnest(transformation_ctx)


class Repartition(GlueTransform):
    def __call__(
        self, frame: DynamicFrame, num_partitions: int, transformation_ctx: str = "", **kw: Any
    ) -> DynamicFrame:
        return frame.repartition(num_partitions, transformation_ctx)


class Coalesce(GlueTransform):
    def __call__(
        self,
        frame: DynamicFrame,
        num_partitions: int,
        shuffle: bool = False,
        transformation_ctx: str = "",
        **kw: Any,
    ) -> DynamicFrame:
        return frame.coalesce(num_partitions, shuffle, transformation_ctx)


class Union(GlueTransform):
    def __call__(
        self, frame1: DynamicFrame, frame2: DynamicFrame, transformation_ctx: str = "", **kw: Any
    ) -> DynamicFrame:
        return frame1.union(frame2, transformation_ctx)


class SelectFromCollection(GlueTransform):
    def __call__(
        self, dfc: DynamicFrameCollection, key: str, transformation_ctx: str = "", **kw: Any
    ) -> DynamicFrame:
        return dfc.select(key, transformation_ctx)


def __getattr__(name: str) -> Any:
    from ..errors import NotCoveredError

    if name.startswith("_"):
        raise AttributeError(name)
    raise NotCoveredError(f"the transform {name}")


__all__ = [
    "ApplyMapping",
    "Coalesce",
    "DropFields",
    "DropNullFields",
    "Filter",
    "GlueTransform",
    "Join",
    "Relationalize",
    "RenameField",
    "Repartition",
    "ResolveChoice",
    "SelectFields",
    "SelectFromCollection",
    "Union",
    "UnnestFrame",
]
