"""The Great Expectations project of the gate: a file-backed context below QualitySettings.data_docs_dir.

<data_docs_dir>/gx/    suites, validation definitions, checkpoints and every run's results (JSON)
<data_docs_dir>/site/  the Data Docs: index.html, one page per validated table and run, runs/<run>.html
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import great_expectations as gx
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.data_context.data_context.file_data_context import FileDataContext
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier
from great_expectations.datasource.fluent.pandas_datasource import DataFrameAsset as PandasFrameAsset
from great_expectations.datasource.fluent.pandas_datasource import PandasDatasource
from great_expectations.datasource.fluent.spark_datasource import DataFrameAsset as SparkFrameAsset
from great_expectations.datasource.fluent.spark_datasource import SparkDatasource

SITE_NAME = "enrichment"
DATASOURCE_NAME = "enriched"
SPARK_DATASOURCE_NAME = "enriched_spark"
WHOLE_DATAFRAME = "whole_dataframe"
# The index page reads every validation result it lists: a bound keeps each run's docs build short.
INDEX_VALIDATION_RESULTS = 700


def site_config() -> dict[str, Any]:
    """The Data Docs site: beside the project (relative to <data_docs_dir>/gx), without GX's how-to buttons."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": "../site/"},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": INDEX_VALIDATION_RESULTS,
        },
    }


def open_quality_context(data_docs_dir: Path) -> FileDataContext:
    """Opens (creating on first use) the gate's project; slow the first time in a process (GX's import)."""
    context = gx.get_context(mode="file", project_root_dir=data_docs_dir)
    # A pipeline sends nothing to GX's usage analytics (and clusters often have no way out).
    context.enable_analytics(False)
    context.variables.data_docs_sites = {SITE_NAME: site_config()}
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.save()
    return context


def site_dir(context: FileDataContext) -> Path:
    return (Path(context.root_directory) / "../site").resolve()


def _datasource(context: FileDataContext, in_driver: bool) -> PandasDatasource | SparkDatasource:
    """The datasource of tables checked in the driver (pandas) or in Spark, created once."""
    name, kind = (DATASOURCE_NAME, PandasDatasource) if in_driver else (SPARK_DATASOURCE_NAME, SparkDatasource)
    try:
        datasource = context.data_sources.get(name)
    except KeyError:
        datasource = None
    if isinstance(datasource, kind):
        return datasource
    if datasource is not None:
        # A project written when every table was checked in Spark: a datasource only names a run's input.
        context.data_sources.delete(name)
    if in_driver:
        return context.data_sources.add_pandas(name=name)
    # persist=False: GX would persist every batch and never release it; the caller keeps the tables.
    return context.data_sources.add_spark(name=name, persist=False)


def dataframe_batch(context: FileDataContext, asset_name: str, in_driver: bool) -> BatchDefinition[Any]:
    """The whole-DataFrame batch definition of a DataFrame asset, of pandas rows (in_driver) or of a Spark
    DataFrame, created once."""
    datasource = _datasource(context, in_driver)
    asset: PandasFrameAsset | SparkFrameAsset[Any]
    try:
        asset = datasource.get_asset(asset_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition(WHOLE_DATAFRAME)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(WHOLE_DATAFRAME)


def validation_page(context: FileDataContext, identifier: ValidationResultIdentifier) -> Path:
    """The Data Docs page of one validation result (it exists once the docs are built)."""
    [site] = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE_NAME, only_if_exists=False)
    url = site["site_url"]
    if url is None:
        raise LookupError(f"no Data Docs page for {identifier}")
    return Path(unquote(urlparse(url).path)).resolve()
