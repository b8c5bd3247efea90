"""The TMDL reader and the model checks on small inline models, and the shipped project's internal consistency."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smartspaces.powerbi.checks import model_problems, source_problems
from smartspaces.powerbi.expressions import DaxReferences, ViewSource, dax_references, view_source
from smartspaces.powerbi.tmdl import (
    Column,
    ColumnReference,
    Partition,
    Relationship,
    Table,
    TmdlError,
    build_model,
    load_model,
    parse_tmdl,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = REPO_ROOT / "powerbi"


def tabs(text: str) -> str:
    """The samples are written with four spaces per level; TMDL is indented with tabs."""
    return re.sub(r"(?m)^((?:    )+)", lambda match: "\t" * (len(match[1]) // 4), text)


SAMPLE = tabs("""\
expression Server = "127.0.0.1:5432" meta [IsParameterQuery=true, Type="Text", IsParameterQueryRequired=true]

expression Database = "smartspaces" meta [IsParameterQuery=true, Type="Text", IsParameterQueryRequired=true]

ref table Space
ref table 'Space daily'

/// Spaces as they are now.
table Space

    column space_id
        dataType: string
        isKey
        summarizeBy: none
        sourceColumn: space_id

    column area_m2
        dataType: double
        summarizeBy: sum
        sourceColumn: area_m2

    partition Space = m
        mode: import
        source =
                let
                    Source = PostgreSQL.Database(Server, Database),
                    View = Source{[Schema = "reporting", Item = "v_space"]}[Data],
                    Columns = Table.SelectColumns(View, {"space_id", "area_m2"})
                in
                    Columns

table 'Space daily'

    /// kWh per square metre of the metered spaces.
    measure 'Energy per m²' =
            VAR perSpace =
                ADDCOLUMNS (
                    VALUES ( 'Space'[space_id] ),
                    "@kwh", CALCULATE ( [Energy] ),
                    "@area", CALCULATE ( SUM ( Space[area_m2] ) )
                )
            RETURN
                DIVIDE ( SUMX ( perSpace, [@kwh] ), SUMX ( perSpace, [@area] ) ) // not [a reference]
        formatString: #,##0.00

    measure Energy = SUM ( 'Space daily'[energy_kwh] )

    column space_id
        dataType: string
        isHidden
        sourceColumn: space_id

    column energy_kwh
        dataType: double
        sourceColumn: energy_kwh

    partition 'Space daily' = m
        mode: import
        source = ```
            let
                Source = PostgreSQL.Database(Server, Database),
                View = Source{[Schema = "reporting", Item = "v_space_daily"]}[Data],
                Columns = Table.SelectColumns(View, {"space_id", "energy_kwh"})
            in
                Columns
            ```

relationship 3f1c
    fromColumn: 'Space daily'.space_id
    toColumn: Space.space_id
""")

SPACE_M = (
    "let\n"
    "\tSource = PostgreSQL.Database(Server, Database),\n"
    '\tView = Source{[Schema = "reporting", Item = "v_space"]}[Data],\n'
    '\tColumns = Table.SelectColumns(View, {"space_id", "area_m2"})\n'
    "in\n"
    "\tColumns"
)

ENERGY_PER_M2 = (
    "VAR perSpace =\n"
    "\tADDCOLUMNS (\n"
    "\t\tVALUES ( 'Space'[space_id] ),\n"
    '\t\t"@kwh", CALCULATE ( [Energy] ),\n'
    '\t\t"@area", CALCULATE ( SUM ( Space[area_m2] ) )\n'
    "\t)\n"
    "RETURN\n"
    "\tDIVIDE ( SUMX ( perSpace, [@kwh] ), SUMX ( perSpace, [@area] ) ) // not [a reference]"
)

# The views of the sample as information_schema describes them.
SAMPLE_VIEWS = {
    "v_space": {"space_id": "text", "area_m2": "double precision"},
    "v_space_daily": {"space_id": "text", "energy_kwh": "double precision"},
}


def test_the_reader_finds_tables_with_their_columns_and_partition() -> None:
    model = build_model(parse_tmdl(SAMPLE))
    assert model.table("Space") == Table(
        name="Space",
        columns=(
            Column("space_id", "string", "space_id", None, is_key=True),
            Column("area_m2", "double", "area_m2", None, is_key=False),
        ),
        measures=(),
        partitions=(Partition("Space", "m", "import", SPACE_M),),
    )


def test_the_reader_keeps_multi_line_and_single_line_measures_and_fenced_m() -> None:
    daily = build_model(parse_tmdl(SAMPLE)).table("Space daily")
    assert daily is not None
    assert [(measure.name, measure.expression) for measure in daily.measures] == [
        ("Energy per m²", ENERGY_PER_M2),
        ("Energy", "SUM ( 'Space daily'[energy_kwh] )"),
    ]
    assert view_source(daily.partitions[0].source) == ViewSource(
        connector="PostgreSQL.Database",
        arguments=("Server", "Database"),
        navigations=(("reporting", "v_space_daily"),),
        selected_columns=("space_id", "energy_kwh"),
    )


def test_the_reader_finds_relationships_parameters_and_table_references() -> None:
    model = build_model(parse_tmdl(SAMPLE))
    assert model.relationships == (
        Relationship("3f1c", ColumnReference("Space daily", "space_id"), ColumnReference("Space", "space_id"), True),
    )
    assert [expression.name for expression in model.expressions] == ["Server", "Database"]
    assert model.referenced_tables == ("Space", "Space daily")


def test_dax_references_separate_tables_columns_measures_and_local_columns() -> None:
    assert dax_references(ENERGY_PER_M2) == DaxReferences(
        tables=frozenset(),
        columns=frozenset({ColumnReference("Space", "space_id"), ColumnReference("Space", "area_m2")}),
        measures=frozenset({"Energy"}),
        local_columns_used=frozenset({"@kwh", "@area"}),
        local_columns_declared=frozenset({"@kwh", "@area"}),
    )


def test_dax_strings_and_comments_hold_no_references() -> None:
    dax = "CALCULATE ( COUNTROWS ( 'Critical events' ), 'Critical events'[severity] = \"it's [x]\" ) /* [y] */"
    assert dax_references(dax) == DaxReferences(
        tables=frozenset({"Critical events"}),
        columns=frozenset({ColumnReference("Critical events", "severity")}),
        measures=frozenset(),
        local_columns_used=frozenset(),
        local_columns_declared=frozenset(),
    )


def test_a_consistent_model_has_no_problems() -> None:
    model = build_model(parse_tmdl(SAMPLE))
    assert model_problems(model) == []
    assert source_problems(model, SAMPLE_VIEWS) == []


def test_broken_references_are_reported() -> None:
    broken = (
        SAMPLE.replace("SUM ( Space[area_m2] )", "SUM ( Space[floor_area] )")
        .replace("CALCULATE ( [Energy] )", "CALCULATE ( [Energy used] )")
        .replace("SUMX ( perSpace, [@area] )", "SUMX ( perSpace, [@m2] )")
        .replace("toColumn: Space.space_id", "toColumn: Space.id")
        .replace('{"space_id", "energy_kwh"}', '{"space_id"}')
    )
    assert model_problems(build_model(parse_tmdl(broken))) == [
        "table Space daily: Table.SelectColumns keeps ['space_id'], the columns read ['energy_kwh', 'space_id']",
        "measure Space daily[Energy per m²]: unknown column Space[floor_area]",
        "measure Space daily[Energy per m²]: [Energy used] is no measure (write columns as 'Table'[column])",
        'measure Space daily[Energy per m²]: [@m2] is used but never declared as "@m2"',
        "relationship 3f1c: unknown column Space[id]",
    ]


def test_columns_the_views_lack_or_type_otherwise_are_reported() -> None:
    views = {"v_space": {"space_id": "text", "area_m2": "text"}, "v_space_daily": {"space_id": "text"}}
    assert source_problems(build_model(parse_tmdl(SAMPLE)), views) == [
        "Space[area_m2]: dataType double, but reporting.v_space.area_m2 is text",
        "Space daily[energy_kwh]: reporting.v_space_daily has no column energy_kwh",
    ]
    assert source_problems(build_model(parse_tmdl(SAMPLE)), {"v_space_daily": SAMPLE_VIEWS["v_space_daily"]}) == [
        "table Space: reporting.v_space does not exist"
    ]


def test_a_table_reading_another_schema_is_reported() -> None:
    elsewhere = SAMPLE.replace('Schema = "reporting", Item = "v_space"]', 'Schema = "public", Item = "v_space"]')
    assert model_problems(build_model(parse_tmdl(elsewhere))) == [
        "table Space: navigates to (('public', 'v_space'),), not one view of reporting"
    ]


def test_tmdl_indented_with_spaces_is_refused() -> None:
    with pytest.raises(TmdlError, match=r"sample\.tmdl:2: indented with spaces"):
        parse_tmdl("table Space\n    column space_id\n", "sample.tmdl")


def test_the_shipped_model_refers_only_to_what_it_declares() -> None:
    model = load_model(PROJECT / "SmartSpaces.SemanticModel" / "definition")
    assert model_problems(model) == []
    assert len(model.tables) == 13


def test_the_project_opens_the_report_and_the_report_its_model_by_path() -> None:
    project = json.loads((PROJECT / "SmartSpaces.pbip").read_text(encoding="utf-8"))
    report = PROJECT / project["artifacts"][0]["report"]["path"]
    pbir = json.loads((report / "definition.pbir").read_text(encoding="utf-8"))
    semantic_model = (report / pbir["datasetReference"]["byPath"]["path"]).resolve()
    assert semantic_model == (PROJECT / "SmartSpaces.SemanticModel").resolve()
    assert json.loads((semantic_model / "definition.pbism").read_text(encoding="utf-8"))["version"] == "4.2"
