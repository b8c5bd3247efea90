"""Deterministic ids as column expressions: the same inputs always give the same UUID, so a rewrite is an upsert."""

from __future__ import annotations

import uuid

from pyspark.sql import Column
from pyspark.sql import functions as F

# The namespace of the ids of derived records (critical events); fixed forever, or ids would change.
DERIVED_RECORDS_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://smartspaces.example/derived-records")


def uuid5_column(name: Column, namespace: uuid.UUID = DERIVED_RECORDS_NAMESPACE) -> Column:
    """RFC 4122 version-5 UUID of a string column, equal to Python's uuid.uuid5(namespace, name).

    Built-in functions only (sha1, substrings), so no Python UDF runs per row.
    """
    digest = F.sha1(F.concat(F.lit(bytearray(namespace.bytes)), F.encode(name, "UTF-8")))
    # The variant's nibble: its two high bits become 10.
    variant = F.lower(
        F.conv((F.conv(F.substring(digest, 17, 1), 16, 10).cast("int").bitwiseAND(3) + 8).cast("string"), 10, 16)
    )
    return F.concat_ws(
        "-",
        F.substring(digest, 1, 8),
        F.substring(digest, 9, 4),
        F.concat(F.lit("5"), F.substring(digest, 14, 3)),
        F.concat(variant, F.substring(digest, 18, 3)),
        F.substring(digest, 21, 12),
    )
