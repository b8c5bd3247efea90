"""The change feed's reference data: where each device is (current registry versions) and the current rules.

Kept in memory between micro-batches and reloaded only when a source changed (a new Delta commit of either
registry, a rewritten rules file): checking costs a directory listing, reloading costs Spark jobs.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from smartspaces import lake
from smartspaces.config import Settings
from smartspaces.connectors.delta import file_version, read_delta, table_version
from transformations.alarms.rules import AlarmRules, parse_alarm_rules
from transformations.critical_rules import located_devices
from transformations.scd2 import current_versions
from transformations.schemas import CRITICAL_RULE


def read_alarm_rules(spark: SparkSession, rules_file: str) -> AlarmRules:
    """The alarm rules file (YAML, local or in the lake), validated; AlarmRulesError names each bad line."""
    text = spark.read.text(rules_file, wholetext=True).first()
    return parse_alarm_rules("" if text is None else text[0], rules_file)


def read_rules(spark: SparkSession, rules_file: str) -> DataFrame:
    """The versioned critical-event rules (reference data, CSV with a header)."""
    return spark.read.csv(rules_file, header=True, schema=CRITICAL_RULE, enforceSchema=False, mode="FAILFAST")


class FeedReference:
    """(device → space registry, rules), cached and reloaded when their version changes."""

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self.spark = spark
        self.spaces_path = lake.space_registry(settings.lake)
        self.devices_path = lake.device_registry(settings.lake)
        self.rules_file = settings.changefeed.rules_file
        self._versions: tuple[str | None, ...] | None = None
        self._loaded: tuple[DataFrame, DataFrame] | None = None
        self.reloads = 0

    def versions(self) -> tuple[str | None, ...]:
        return (
            table_version(self.spark, self.spaces_path),
            table_version(self.spark, self.devices_path),
            file_version(self.spark, self.rules_file),
        )

    def current(self) -> tuple[DataFrame, DataFrame]:
        """The located devices and the rules, reloaded first if any source has a new version."""
        versions = self.versions()
        if self._loaded is None or versions != self._versions:
            self._reload()
            self._versions = versions
        assert self._loaded is not None
        return self._loaded

    def _reload(self) -> None:
        if self._loaded is not None:
            for frame in self._loaded:
                frame.unpersist()
        # The registries' current versions: where each device is now.
        spaces = read_delta(self.spark, self.spaces_path).transform(current_versions)
        registry = (
            read_delta(self.spark, self.devices_path)
            .transform(current_versions)
            .transform(located_devices(spaces))
            .persist()
        )
        rules = read_rules(self.spark, self.rules_file).persist()
        registry.count(), rules.count()  # materialised now, so a bad rules file fails here
        self._loaded = (registry, rules)
        self.reloads += 1
