"""What a quality check can decide: a missed check's severity, and the gate's verdict on a run."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """The quality gate's decision on a run (the check constraint of reporting.enrichment_runs)."""

    PASSED = "passed"
    WARNED = "warned"
    FAILED = "failed"


class CheckSeverity(StrEnum):
    """What a missed check does: fail stops the write, warn is recorded and the write goes on.

    Not an event's severity (transformations.contract.Severity: info, warning, critical).
    """

    FAIL = "fail"
    WARN = "warn"
