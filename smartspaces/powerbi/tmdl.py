"""A reader for the subset of TMDL that powerbi/ uses: tables, columns, measures, partitions, relationships and
expressions (M parameters).

TMDL (Tabular Model Definition Language) is indentation-based: an object is `keyword name` (optionally
`= default expression`), its properties are `key: value`, `key = expression` or a bare flag one tab deeper,
and a multi-line expression is indented deeper than the properties of its owner. Indentation is tabs, as
Power BI Desktop writes it. Objects this reader does not model (annotations, hierarchies, roles, ...) are
parsed and kept in the tree but not turned into model objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# A quoted name ('Space daily', with '' for a quote) or a bare one.
_NAME = r"'(?:[^']|'')*'|[^\s=':]+"
_OBJECT = re.compile(rf"^(?P<keyword>[A-Za-z]+)\s+(?P<name>{_NAME})\s*(?:=\s*(?P<value>.*))?$")
_REF = re.compile(rf"^ref\s+(?P<keyword>[A-Za-z]+)\s+(?P<name>{_NAME})$")
_PROPERTY = re.compile(r"^(?P<key>[A-Za-z_]+)\s*(?P<separator>[:=])\s*(?P<value>.*)$")
_FLAG = re.compile(r"^(?P<key>[A-Za-z_]+)$")
_COLUMN_REFERENCE = re.compile(rf"^(?P<table>{_NAME})\.(?P<column>{_NAME})$")
_FENCE = "```"


class TmdlError(ValueError):
    """A line the reader cannot place, naming the file and line."""


@dataclass
class TmdlNode:
    """One object of the text: its keyword and name, default expression, properties and children."""

    keyword: str
    name: str | None
    line: int
    value: str | None = None
    description: str = ""
    is_ref: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    children: list[TmdlNode] = field(default_factory=list)

    def of_kind(self, keyword: str) -> list[TmdlNode]:
        return [child for child in self.children if child.keyword == keyword and not child.is_ref]


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str | None
    source_column: str | None
    sort_by_column: str | None
    is_key: bool


@dataclass(frozen=True)
class Measure:
    name: str
    expression: str


@dataclass(frozen=True)
class Partition:
    name: str
    kind: str
    mode: str | None
    source: str


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    measures: tuple[Measure, ...]
    partitions: tuple[Partition, ...]

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)


@dataclass(frozen=True)
class ColumnReference:
    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}[{self.column}]"


@dataclass(frozen=True)
class Relationship:
    name: str
    from_column: ColumnReference
    to_column: ColumnReference
    is_active: bool


@dataclass(frozen=True)
class Expression:
    name: str
    text: str


@dataclass(frozen=True)
class SemanticModel:
    tables: tuple[Table, ...]
    relationships: tuple[Relationship, ...]
    expressions: tuple[Expression, ...]
    referenced_tables: tuple[str, ...]

    def table(self, name: str) -> Table | None:
        return next((table for table in self.tables if table.name == name), None)


def unquote(name: str) -> str:
    """'Space daily' → Space daily; a bare name stays as it is."""
    if len(name) >= 2 and name.startswith("'") and name.endswith("'"):
        return name[1:-1].replace("''", "'")
    return name


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip("\t"))


def _expression(lines: list[str], start: int, first: str, deeper_than: int) -> tuple[str, int]:
    """The expression that starts with `first` after `=`: the rest of the line, a fenced block, or the lines
    below indented deeper than `deeper_than` tabs. Returns it dedented, and the index of the next line."""
    index = start + 1
    if first.strip() == _FENCE:
        body: list[str] = []
        while index < len(lines) and lines[index].strip() != _FENCE:
            body.append(lines[index])
            index += 1
        return "\n".join(body).strip("\n"), index + 1
    body = [first.rstrip()] if first.strip() else []
    continuation: list[str] = []
    while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > deeper_than):
        continuation.append(lines[index])
        index += 1
    # Blank lines between this expression and the next object belong to neither.
    while continuation and not continuation[-1].strip():
        continuation.pop()
        index -= 1
    margin = min((_indent(line) for line in continuation if line.strip()), default=0)
    body += [line[margin:] if line.strip() else "" for line in continuation]
    return "\n".join(body).strip("\n"), index


def parse_tmdl(text: str, source: str = "<text>") -> list[TmdlNode]:
    """The top-level objects of one TMDL text, each with its properties and children."""
    lines = text.replace("\r\n", "\n").split("\n")
    roots: list[TmdlNode] = []
    stack: list[tuple[int, TmdlNode]] = []
    description: list[str] = []
    index = 0
    while index < len(lines):
        line, number = lines[index], index + 1
        content = line.strip()
        if not content:
            index += 1
            continue
        if line.startswith(" "):
            raise TmdlError(f"{source}:{number}: indented with spaces; TMDL here is indented with tabs")
        depth = _indent(line)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1] if stack else None
        index += 1
        if content.startswith("///"):
            description.append(content[3:].strip())
            continue
        if reference := _REF.match(content):
            node = TmdlNode(reference["keyword"], unquote(reference["name"]), number, is_ref=True)
        elif (prop := _PROPERTY.match(content)) and parent is not None:
            if prop["separator"] == ":":
                parent.properties[prop["key"]] = prop["value"].strip()
            else:
                parent.properties[prop["key"]], index = _expression(lines, index - 1, prop["value"], depth)
            continue
        elif obj := _OBJECT.match(content):
            node = TmdlNode(obj["keyword"], unquote(obj["name"]), number)
            if obj["value"] is not None:
                node.value, index = _expression(lines, index - 1, obj["value"], depth + 1)
        elif flag := _FLAG.match(content):
            following = next((later for later in lines[index:] if later.strip()), "")
            if parent is not None and _indent(following) <= depth:
                parent.properties[flag["key"]] = "true"
                continue
            node = TmdlNode(flag["key"], None, number)
        else:
            raise TmdlError(f"{source}:{number}: not an object, property or flag: {content!r}")
        node.description, description = " ".join(description), []
        (parent.children if parent is not None else roots).append(node)
        stack.append((depth, node))
    return roots


def _column_reference(text: str, relationship: str) -> ColumnReference:
    match = _COLUMN_REFERENCE.match(text.strip())
    if not match:
        raise TmdlError(f"relationship {relationship}: {text!r} is not Table.column")
    return ColumnReference(unquote(match["table"]), unquote(match["column"]))


def _table(node: TmdlNode) -> Table:
    columns = tuple(
        Column(
            name=column.name or "",
            data_type=column.properties.get("dataType"),
            source_column=column.properties.get("sourceColumn"),
            sort_by_column=unquote(column.properties["sortByColumn"]) if "sortByColumn" in column.properties else None,
            is_key=column.properties.get("isKey") == "true",
        )
        for column in node.of_kind("column")
    )
    measures = tuple(Measure(measure.name or "", measure.value or "") for measure in node.of_kind("measure"))
    partitions = tuple(
        Partition(
            name=partition.name or "",
            kind=(partition.value or "").strip(),
            mode=partition.properties.get("mode"),
            source=partition.properties.get("source", ""),
        )
        for partition in node.of_kind("partition")
    )
    return Table(node.name or "", columns, measures, partitions)


def build_model(nodes: list[TmdlNode]) -> SemanticModel:
    """The model objects of the parsed top-level nodes (of one text or of every file of a definition folder)."""
    tables = tuple(_table(node) for node in nodes if node.keyword == "table" and not node.is_ref)
    relationships = tuple(
        Relationship(
            name=node.name or "",
            from_column=_column_reference(node.properties.get("fromColumn", ""), node.name or ""),
            to_column=_column_reference(node.properties.get("toColumn", ""), node.name or ""),
            is_active=node.properties.get("isActive", "true") != "false",
        )
        for node in nodes
        if node.keyword == "relationship"
    )
    expressions = tuple(Expression(node.name or "", node.value or "") for node in nodes if node.keyword == "expression")
    referenced = tuple(node.name or "" for node in nodes if node.is_ref and node.keyword == "table")
    return SemanticModel(tables, relationships, expressions, referenced)


def load_model(definition: Path) -> SemanticModel:
    """The semantic model of a PBIP definition folder (…SemanticModel/definition), every .tmdl file in it."""
    nodes: list[TmdlNode] = []
    for path in sorted(definition.rglob("*.tmdl")):
        nodes += parse_tmdl(path.read_text(encoding="utf-8"), str(path.relative_to(definition)))
    return build_model(nodes)
