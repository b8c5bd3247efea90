"""Query results as pandas DataFrames: the one way the exploration modules read PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import psycopg


def query_frame(
    connection: psycopg.Connection[Any], query: str, params: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The rows of a query, one column per selected column (named as the query names them)."""
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        columns = [column.name for column in cursor.description or ()]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
