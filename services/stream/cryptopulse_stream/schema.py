"""Spark schemas derived from the shared contract, so no field name is spelled twice."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from cryptopulse_common.contract import Tick

_SPARK_TYPES: dict[type, DataType] = {
    str: StringType(),
    int: LongType(),
    float: DoubleType(),
    bool: BooleanType(),
}


def _spark_type(annotation: Any) -> tuple[DataType, bool]:
    origin = get_origin(annotation)
    if origin is Annotated:  # Annotated[float, Bounds, Field(...)]: the type is the first part
        return _spark_type(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {annotation!r}")
        return _spark_type(inner[0])[0], True
    return _SPARK_TYPES[annotation], False


def tick_schema() -> StructType:
    """The JSON schema of a tick on the wire (aliases such as ``schema`` as they appear)."""
    fields = []
    for name, info in Tick.model_fields.items():
        data_type, _optional = _spark_type(info.annotation)
        # Everything is nullable on read: validation happens after parsing, with a reason.
        fields.append(StructField(info.alias or name, data_type, nullable=True))
    return StructType(fields)
