"""What the M and DAX expressions of the semantic model refer to.

M: which connector and parameters a partition connects with, which schema and view it navigates to and
which columns it keeps. DAX: which tables, columns and measures a measure uses. Both are read with regular
expressions over the forms powerbi/ writes (`Source{[Schema = "...", Item = "..."]}[Data]`,
`Table.SelectColumns(..., {...})`, `'Table'[column]`, `Table[column]`, `[Measure]`), not with full grammars:
a table named bare in DAX (`FILTER(Space, ...)`) is not seen, so the model quotes every table name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smartspaces.powerbi.tmdl import ColumnReference, unquote

_CONNECTOR = re.compile(r"(?P<function>[A-Za-z]+\.Database)\s*\(\s*(?P<arguments>[^)]*)\)")
_NAVIGATION = re.compile(
    r'\{\s*\[\s*Schema\s*=\s*"(?P<schema>[^"]*)"\s*,\s*Item\s*=\s*"(?P<item>[^"]*)"\s*\]\s*\}\s*\[\s*Data\s*\]'
)
_SELECT_COLUMNS = re.compile(r"Table\.SelectColumns\s*\(\s*[^,]+,\s*\{(?P<columns>[^}]*)\}")
_M_STRING = re.compile(r'"((?:[^"]|"")*)"')
_PARAMETER = re.compile(r'meta\s*\[[^\]]*IsParameterQuery\s*=\s*true[^\]]*Type\s*=\s*"Text"')

# DAX string literals and comments, masked before references are read so that neither can look like one.
_DAX_LITERAL_OR_COMMENT = re.compile(r'"(?:[^"]|"")*"|//[^\n]*|--[^\n]*|/\*.*?\*/', re.DOTALL)
# One pass left to right, so a quote closing one table name never opens another.
_DAX_REFERENCE = re.compile(
    r"(?P<quoted>'(?:[^']|'')+')(?:\[(?P<quoted_column>[^\]]+)\])?"
    r"|\b(?P<bare>[A-Za-z_]\w*)\[(?P<bare_column>[^\]]+)\]"
    r"|\[(?P<name>[^\]]+)\]"
)
# Columns an expression adds itself (ADDCOLUMNS, SELECTCOLUMNS), named "@..." by convention.
LOCAL_COLUMN_PREFIX = "@"


@dataclass(frozen=True)
class ViewSource:
    """What a partition's M reads: `connector(arguments)`, then the (schema, view) it navigates to."""

    connector: str | None
    arguments: tuple[str, ...]
    navigations: tuple[tuple[str, str], ...]
    selected_columns: tuple[str, ...] | None


def _m_identifier(text: str) -> str:
    text = text.strip()
    return text[2:-1] if text.startswith('#"') and text.endswith('"') else text


def view_source(m: str) -> ViewSource:
    """The connector, its arguments, the navigations and the kept columns of one partition's M query."""
    connector = _CONNECTOR.search(m)
    arguments = (
        tuple(_m_identifier(argument) for argument in connector["arguments"].split(",") if argument.strip())
        if connector
        else ()
    )
    selected = _SELECT_COLUMNS.search(m)
    return ViewSource(
        connector=connector["function"] if connector else None,
        arguments=arguments,
        navigations=tuple((match["schema"], match["item"]) for match in _NAVIGATION.finditer(m)),
        selected_columns=(
            tuple(name.replace('""', '"') for name in _M_STRING.findall(selected["columns"])) if selected else None
        ),
    )


def is_text_parameter(m: str) -> bool:
    """Whether an expression is a Power Query parameter of type Text (`"..." meta [IsParameterQuery=true, ...]`)."""
    return _PARAMETER.search(m) is not None


@dataclass(frozen=True)
class DaxReferences:
    """Tables used as tables ('Space'), columns ('Space'[space_id]), measures ([Energy (kWh)]), and the local
    columns an expression uses ([@kwh]) and declares ("@kwh")."""

    tables: frozenset[str]
    columns: frozenset[ColumnReference]
    measures: frozenset[str]
    local_columns_used: frozenset[str]
    local_columns_declared: frozenset[str]


def dax_references(dax: str) -> DaxReferences:
    literals: list[str] = []

    def mask(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith('"'):
            literals.append(token[1:-1].replace('""', '"'))
            return '""'
        return " "

    code = _DAX_LITERAL_OR_COMMENT.sub(mask, dax)
    tables: set[str] = set()
    columns: set[ColumnReference] = set()
    names: set[str] = set()
    for match in _DAX_REFERENCE.finditer(code):
        if match["quoted"] and match["quoted_column"] is None:
            tables.add(unquote(match["quoted"]))
        elif match["quoted"]:
            columns.add(ColumnReference(unquote(match["quoted"]), match["quoted_column"]))
        elif match["bare"]:
            columns.add(ColumnReference(match["bare"], match["bare_column"]))
        else:
            names.add(match["name"])
    local = {name for name in names if name.startswith(LOCAL_COLUMN_PREFIX)}
    return DaxReferences(
        tables=frozenset(tables),
        columns=frozenset(columns),
        measures=frozenset(names - local),
        local_columns_used=frozenset(local),
        local_columns_declared=frozenset(text for text in literals if text.startswith(LOCAL_COLUMN_PREFIX)),
    )
