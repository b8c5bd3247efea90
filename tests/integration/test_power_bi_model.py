"""The Power BI project against the migrated reporting store: Power BI cannot run here, so what a refresh
would need is checked instead. Every table reads a view that exists, every column is a column of that view
with a matching type, and the read-only role Power BI logs in with can select exactly what the model imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg import sql

from smartspaces.config import PostgresSettings, Settings
from smartspaces.connectors.postgres import connect
from smartspaces.powerbi.checks import REPORTING_SCHEMA, reporting_view, source_problems
from smartspaces.powerbi.tmdl import SemanticModel, load_model

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFINITION = REPO_ROOT / "powerbi" / "SmartSpaces.SemanticModel" / "definition"
READER_ROLE = "reporting_reader"


@pytest.fixture(scope="module")
def model() -> SemanticModel:
    return load_model(DEFINITION)


def reporting_views(pg: PostgresSettings) -> dict[str, dict[str, str]]:
    """View → column → data_type, for every view of schema reporting."""
    with connect(pg) as connection:
        rows = connection.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns AS c "
            "JOIN information_schema.views AS v USING (table_schema, table_name) "
            "WHERE c.table_schema = %s ORDER BY c.table_name, c.ordinal_position",
            (REPORTING_SCHEMA,),
        ).fetchall()
    views: dict[str, dict[str, str]] = {}
    for view, column, data_type in rows:
        views.setdefault(view, {})[column] = data_type
    return views


def test_every_model_column_is_a_view_column_of_the_same_type(settings: Settings, model: SemanticModel) -> None:
    assert source_problems(model, reporting_views(settings.postgres)) == []


def test_the_model_imports_every_reporting_view(settings: Settings, model: SemanticModel) -> None:
    assert {reporting_view(table) for table in model.tables} == set(reporting_views(settings.postgres))


def test_the_reader_role_selects_exactly_the_columns_the_model_imports(
    settings: Settings, model: SemanticModel
) -> None:
    with connect(settings.postgres) as connection:
        connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(READER_ROLE)))
        for table in model.tables:
            view = reporting_view(table)
            assert view is not None, table.name
            columns = [column.source_column or "" for column in table.columns]
            cursor = connection.execute(
                sql.SQL("SELECT {} FROM {} LIMIT 0").format(
                    sql.SQL(", ").join(sql.Identifier(column) for column in columns),
                    sql.Identifier(REPORTING_SCHEMA, view),
                )
            )
            assert [description.name for description in cursor.description or []] == columns, table.name
        connection.rollback()
