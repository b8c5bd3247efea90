"""The hot-path benchmark's report: a Markdown summary of the JSON, and a latency-over-time plot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.hotpath_pipeline import StepResult


def plot_latency(steps: dict[str, StepResult], path: Path) -> None:
    """Produce -> Redis latency of every critical event over the step's time, one panel per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not steps:
        return
    figure, axes = plt.subplots(len(steps), 1, figsize=(9, 3.2 * len(steps)), squeeze=False)
    for axis, (label, step) in zip(axes[:, 0], steps.items(), strict=True):
        started = min((stored.produced_at for _, stored in step.critical), default=0.0)
        points = sorted(
            (stored.produced_at - started, seen.seen_at - stored.produced_at) for seen, stored in step.critical
        )
        axis.plot([x for x, _ in points], [y for _, y in points], "o", markersize=3, color="black", label="to Redis")
        produced = {seen.critical_event_id: stored.produced_at for seen, stored in step.critical}
        api = sorted(
            (produced[event_id] - started, at - produced[event_id])
            for event_id, at in step.api_served.items()
            if event_id in produced
        )
        axis.plot([x for x, _ in api], [y for _, y in api], "x", markersize=4, color="grey", label="to the read API")
        axis.set_title(f"{label} % of capacity: {step.rate:.0f} events/s, {len(points)} critical events")
        axis.set_xlabel("seconds into the step (produce time)")
        axis.set_ylabel("produce -> seen (s)")
        axis.set_ylim(bottom=0)
        axis.grid(True, linestyle=":")
        axis.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def summary(result: dict[str, Any]) -> str:
    """The results as Markdown: the steps, the targets with their verdicts, and the capacity searches."""
    lines = [
        "# Hot-path benchmark",
        "",
        f"Run {result['run']} on {result['cores']} cores, {result['step_s']:g} s of producing per step; the producer,",
        "the ingest and the change feed (two Spark applications), the read API, Kafka, Cassandra and Redis share",
        "the machine. Latency = the moment a critical event is in Redis (keyspace notification) or served by the",
        "read API, minus its source event's Kafka timestamp.",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    for name in (
        "capacity_events_per_s",
        "capacity_is_lower_bound",
        "ingest_alone_events_per_s",
        "ingest_alone_is_lower_bound",
        "rate_25_events_per_s",
        "e2e_p50_s_at_25",
        "e2e_p99_s_at_25",
        "api_p99_s_at_25",
        "critical_events_at_25",
        "rate_50_events_per_s",
        "e2e_p50_s_at_50",
        "e2e_p99_s_at_50",
        "e2e_max_s_at_50",
        "api_p99_s_at_50",
        "drain_s_at_50",
        "lag_growth_at_50",
        "critical_events_at_50",
        "ingest_batch_p50_s_at_25",
        "ingest_batch_p99_s_at_25",
        "changefeed_batch_p50_s_at_25",
        "changefeed_batch_p99_s_at_25",
        "ingest_batch_p50_s_at_50",
        "ingest_batch_p99_s_at_50",
        "changefeed_batch_p50_s_at_50",
        "changefeed_batch_p99_s_at_50",
        "floor_rate_events_per_s",
        "floor_p50_s",
        "floor_p99_s",
    ):
        if name in result:
            lines.append(f"| `{name}` | {result[name]} |")
    lines += _batch_parts_table(result)
    lines += ["", "| target | value | bound | met |", "| --- | --- | --- | --- |"]
    for name, verdict in result.get("targets", {}).items():
        met = {True: "yes", False: "**no**", None: "not measured"}[verdict["met"]]
        lines.append(f"| `{name}` | {verdict['value']} | {verdict['target']} | {met} |")
    for search in ("capacity_trials", "ingest_alone_trials"):
        lines += ["", f"{search.replace('_', ' ')}:", ""]
        lines += [
            f"- {trial['rate_events_per_s']} events/s: {'sustained' if trial['sustained'] else 'not sustained'} "
            f"({trial['verdict']})"
            for trial in result.get(search, [])
        ]
    lines += ["", "![latency over time](hotpath.png)", ""]
    return "\n".join(lines)


def _batch_parts_table(result: dict[str, Any]) -> list[str]:
    """Per measured step: the machine's busy cores and the median seconds of each part of each stream's batches."""
    lines = ["", "| step | busy cores | micro-batch parts, median s |", "| --- | --- | --- |"]
    for label in ("25", "50"):
        suffix = f"_p50_s_at_{label}"
        parts = [
            f"{name.removesuffix(suffix).replace('_', ' ', 1)} {value}"
            for name, value in result.items()
            if name.endswith(suffix) and not name.endswith(f"_batch{suffix}") and not name.startswith(("e2e", "api"))
        ]
        if f"busy_cores_at_{label}" in result:
            lines.append(f"| {label} % | {result[f'busy_cores_at_{label}']} | {', '.join(parts)} |")
    return lines if len(lines) > 3 else []
