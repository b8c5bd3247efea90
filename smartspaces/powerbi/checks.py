"""Checks of the semantic model that Power BI would otherwise make only when someone opens or refreshes it.

`model_problems` needs nothing but the model: each table reads one view of schema reporting through the
Server and Database parameters and keeps exactly its columns' sourceColumns; relationships join columns
that exist; measures use only tables, columns and measures that exist. `source_problems` compares the model
with the columns the views really have (information_schema of the reporting store).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from smartspaces.powerbi.expressions import ViewSource, dax_references, is_text_parameter, view_source
from smartspaces.powerbi.tmdl import ColumnReference, Measure, SemanticModel, Table

REPORTING_SCHEMA = "reporting"
CONNECTOR = "PostgreSQL.Database"

# information_schema.columns.data_type of a view column → the TMDL dataType of a column importing it.
TMDL_TYPE_OF_POSTGRES = {
    "text": "string",
    "character varying": "string",
    "uuid": "string",
    "jsonb": "string",
    "smallint": "int64",
    "integer": "int64",
    "bigint": "int64",
    "double precision": "double",
    "real": "double",
    "numeric": "decimal",
    "boolean": "boolean",
    "date": "dateTime",
    "timestamp with time zone": "dateTime",
    "timestamp without time zone": "dateTime",
}


def _duplicates(names: list[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def reporting_view(table: Table) -> str | None:
    """The view of schema reporting that a table's single partition reads, if it reads exactly one."""
    if len(table.partitions) != 1:
        return None
    navigations = view_source(table.partitions[0].source).navigations
    if len(navigations) != 1 or navigations[0][0] != REPORTING_SCHEMA:
        return None
    return navigations[0][1]


def _source_problems(table: Table, source: ViewSource, parameters: set[str]) -> list[str]:
    problems = []
    if source.connector != CONNECTOR:
        problems.append(f"table {table.name}: reads with {source.connector}, not {CONNECTOR}")
    unknown = [argument for argument in source.arguments if argument not in parameters]
    if len(source.arguments) != 2 or unknown:
        problems.append(f"table {table.name}: {CONNECTOR} takes {source.arguments}, not two text parameters")
    if len(source.navigations) != 1 or source.navigations[0][0] != REPORTING_SCHEMA:
        problems.append(f"table {table.name}: navigates to {source.navigations}, not one view of {REPORTING_SCHEMA}")
    source_columns = [column.source_column for column in table.columns if column.source_column]
    if source.selected_columns is None:
        problems.append(f"table {table.name}: keeps no explicit columns (Table.SelectColumns)")
    elif sorted(source.selected_columns) != sorted(source_columns):
        problems.append(
            f"table {table.name}: Table.SelectColumns keeps {sorted(source.selected_columns)}, "
            f"the columns read {sorted(source_columns)}"
        )
    return problems


def _table_problems(table: Table, parameters: set[str]) -> list[str]:
    problems = [
        f"table {table.name}: {name} is declared twice"
        for name in _duplicates(
            [column.name for column in table.columns] + [measure.name for measure in table.measures]
        )
    ]
    if len(table.partitions) != 1:
        return [*problems, f"table {table.name}: has {len(table.partitions)} partitions, not one"]
    partition = table.partitions[0]
    if partition.kind != "m":
        problems.append(f"table {table.name}: partition {partition.name} is {partition.kind!r}, not an M query")
    for column in table.columns:
        if not column.source_column:
            problems.append(f"{ColumnReference(table.name, column.name)}: no sourceColumn")
        if column.sort_by_column and table.column(column.sort_by_column) is None:
            problems.append(f"{ColumnReference(table.name, column.name)}: sorts by unknown {column.sort_by_column}")
    return problems + _source_problems(table, view_source(partition.source), parameters)


def _measure_problems(model: SemanticModel, table: Table, measure: Measure, measures: set[str]) -> list[str]:
    where = f"measure {table.name}[{measure.name}]"
    references = dax_references(measure.expression)
    problems = [f"{where}: unknown table {name}" for name in sorted(references.tables) if model.table(name) is None]
    for reference in sorted(references.columns, key=str):
        target = model.table(reference.table)
        if target is None:
            problems.append(f"{where}: unknown table in {reference}")
        elif target.column(reference.column) is None and reference.column not in {m.name for m in target.measures}:
            problems.append(f"{where}: unknown column {reference}")
    problems += [
        f"{where}: [{name}] is no measure (write columns as 'Table'[column])"
        for name in sorted(references.measures - measures)
    ]
    problems += [
        f'{where}: [{name}] is used but never declared as "{name}"'
        for name in sorted(references.local_columns_used - references.local_columns_declared)
    ]
    return problems


def _relationship_problems(model: SemanticModel) -> list[str]:
    problems = [
        f"relationship {name} is declared twice"
        for name in _duplicates([relationship.name for relationship in model.relationships])
    ]
    for relationship in model.relationships:
        for end in (relationship.from_column, relationship.to_column):
            table = model.table(end.table)
            if table is None or table.column(end.column) is None:
                problems.append(f"relationship {relationship.name}: unknown column {end}")
        if relationship.from_column.table == relationship.to_column.table:
            problems.append(f"relationship {relationship.name}: joins {relationship.from_column.table} to itself")
    return problems


def model_problems(model: SemanticModel) -> list[str]:
    """Everything in the model that refers to something missing or reads other than one reporting view."""
    table_names = [table.name for table in model.tables]
    problems = [f"table {name} is declared twice" for name in _duplicates(table_names)]
    problems += [f"model refers to unknown table {name}" for name in model.referenced_tables if name not in table_names]
    problems += [
        f"table {name} is not referenced by the model" for name in table_names if name not in model.referenced_tables
    ]
    parameters = {expression.name for expression in model.expressions if is_text_parameter(expression.text)}
    measure_names = [measure.name for table in model.tables for measure in table.measures]
    problems += [f"measure {name} is declared twice" for name in _duplicates(measure_names)]
    known_measures = set(measure_names)
    for table in model.tables:
        problems += _table_problems(table, parameters)
        for measure in table.measures:
            problems += _measure_problems(model, table, measure, known_measures)
    return problems + _relationship_problems(model)


def source_problems(model: SemanticModel, views: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Columns of the model that the views do not have, or have with another type.

    views: view name → column name → information_schema data_type, for the views of schema reporting.
    """
    problems = []
    for table in model.tables:
        view = reporting_view(table)
        if view is None:
            continue  # model_problems names it
        if view not in views:
            problems.append(f"table {table.name}: {REPORTING_SCHEMA}.{view} does not exist")
            continue
        for column in table.columns:
            if not column.source_column:
                continue
            postgres_type = views[view].get(column.source_column)
            if postgres_type is None:
                problems.append(
                    f"{ColumnReference(table.name, column.name)}: {REPORTING_SCHEMA}.{view} has no column "
                    f"{column.source_column}"
                )
            elif TMDL_TYPE_OF_POSTGRES.get(postgres_type) != column.data_type:
                problems.append(
                    f"{ColumnReference(table.name, column.name)}: dataType {column.data_type}, but "
                    f"{REPORTING_SCHEMA}.{view}.{column.source_column} is {postgres_type}"
                )
    return problems
