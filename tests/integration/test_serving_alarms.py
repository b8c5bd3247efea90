"""Alarms through the read API on the real Redis and Cassandra: active (cache-aside) and history, one alarm,
and acknowledgement by an authenticated operator only, kept when the change feed updates the alarm."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cassandra.cluster import Session
from fastapi.testclient import TestClient
from pydantic import SecretStr

from smartspaces.config import Settings
from smartspaces.connectors.redis import redis_client
from smartspaces.stages.cache.active_alarms import update_active_alarms
from smartspaces.stages.changefeed.alarms import CassandraAlarmSink
from smartspaces.stages.serving.api_keys import Scope, entry, new_key
from smartspaces.stages.serving.app import create_app
from tests.integration.serving_fixtures import TableRows, at, chromium, chromium_dom, insert_space, unique
from transformations.alarms.lifecycle import Alarm, alarm_id, alarm_to_json

OPERATOR_KEY, BOB_KEY, READER_KEY = new_key(), new_key(), new_key()
# Where SMARTSPACES_SAVE_SCREENSHOTS=1 puts the board's screenshot for the docs.
DOCS_IMAGES = Path(__file__).parents[2] / "docs" / "images"


def alarm(space_id: str, raised: datetime, cleared: datetime | None = None, peak: float = 1600.0) -> Alarm:
    return Alarm(
        alarm_id=alarm_id("co2_high", "space", space_id, raised),
        rule_id="co2_high",
        rule_version=1,
        scope="space",
        source_id=space_id,
        building_id="b1",
        space_id=space_id,
        device_id=None,
        severity="warning",
        raised_severity="warning",
        message="CO2 above 1500 ppm for 5 minutes",
        metric="co2",
        raised_at=raised,
        cleared_at=cleared,
        peak_value=peak,
        last_value=peak,
    )


def view(alarm: Alarm, state: str, acknowledged_at: str | None = None, by: str | None = None) -> dict[str, Any]:
    def spelt(at: datetime | None) -> str | None:
        return None if at is None else at.astimezone(UTC).isoformat(timespec="microseconds")

    return {
        **alarm_to_json(alarm),
        "raised_at": spelt(alarm.raised_at),
        "escalated_at": spelt(alarm.escalated_at),
        "cleared_at": spelt(alarm.cleared_at),
        "acknowledged_at": acknowledged_at,
        "acknowledged_by": by,
        "state": state,
    }


def with_keys(settings: Settings, *entries: str) -> Settings:
    secret = SecretStr(",".join(entries)) if entries else None
    return settings.model_copy(update={"api": settings.api.model_copy(update={"keys": secret})})


def seed(serving_settings: Settings, session: Session) -> tuple[str, Alarm, Alarm]:
    space = unique("space")
    insert_space(session, space)
    open_alarm, cleared = alarm(space, at(5)), alarm(space, at(1), cleared=at(3))
    CassandraAlarmSink(session, serving_settings.cassandra.keyspace).write([open_alarm, cleared])
    return space, open_alarm, cleared


def test_active_alarms_miss_then_hit_and_the_history(serving_settings: Settings, session: Session) -> None:
    space, open_alarm, cleared = seed(serving_settings, session)
    with TestClient(create_app(serving_settings)) as client:
        miss = client.get(f"/spaces/{space}/alarms")
        hit = client.get(f"/spaces/{space}/alarms", params={"state": "active"})
        history = client.get(f"/spaces/{space}/alarms", params={"state": "all"})
        one = client.get(f"/alarms/{cleared.alarm_id}")
        unknown = client.get(f"/alarms/{uuid.uuid4()}")
        unknown_space = client.get("/spaces/no-such-space/alarms")
        malformed = client.get("/alarms/not-a-uuid")
        bad_state = client.get(f"/spaces/{space}/alarms", params={"state": "open"})
    active = [view(open_alarm, "active")]
    assert (miss.status_code, miss.json()) == (200, {"space_id": space, "source": "cassandra", "alarms": active})
    assert (hit.status_code, hit.json()) == (200, {"space_id": space, "source": "cache", "alarms": active})
    assert history.json()["alarms"] == [view(open_alarm, "active"), view(cleared, "cleared")]
    assert one.json() == {"alarm_id": cleared.alarm_id, "source": "cassandra", "alarm": view(cleared, "cleared")}
    statuses = [answer.status_code for answer in (unknown, unknown_space, malformed, bad_state)]
    assert statuses == [404, 404, 422, 422]


def test_only_an_operator_with_a_key_acknowledges_and_the_feed_keeps_it(
    serving_settings: Settings, session: Session
) -> None:
    space, open_alarm, _ = seed(serving_settings, session)
    operators = frozenset(Scope)
    settings = with_keys(
        serving_settings,
        entry("alice", operators, OPERATOR_KEY),
        entry("bob", operators, BOB_KEY),
        entry("board", frozenset({Scope.READ}), READER_KEY),
    )
    path = f"/alarms/{open_alarm.alarm_id}/acknowledge"
    with TestClient(create_app(settings)) as client:
        client.get(f"/spaces/{space}/alarms")  # cached before the acknowledgement
        anonymous = client.post(path)
        wrong = client.post(path, headers={"Authorization": "Bearer not-a-key-0123456789"})
        reader = client.post(path, headers={"Authorization": f"Bearer {READER_KEY}"})
        acknowledged = client.post(path, headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
        again = client.post(path, headers={"X-API-Key": BOB_KEY})
        after = client.get(f"/spaces/{space}/alarms")
        # The change feed updates the alarm (a new peak): Cassandra and Redis keep the acknowledgement.
        updated = alarm(space, at(5), peak=1700.0)
        CassandraAlarmSink(session, settings.cassandra.keyspace).write([updated])
        update_active_alarms(redis_client(settings.redis), [alarm_to_json(updated)], settings.cache.critical_ttl_s)
        cached = client.get(f"/spaces/{space}/alarms")
        stored = client.get(f"/alarms/{open_alarm.alarm_id}")
    assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, "Bearer")
    assert (wrong.status_code, reader.status_code) == (401, 403)
    body = acknowledged.json()["alarm"]
    assert (acknowledged.status_code, body["state"], body["acknowledged_by"]) == (200, "acknowledged", "alice")
    # The first acknowledgement stands.
    assert (again.status_code, again.json()["alarm"]) == (200, body)
    assert after.json() == {"space_id": space, "source": "cassandra", "alarms": [body]}
    expected = view(updated, "acknowledged", body["acknowledged_at"], "alice")
    assert cached.json() == {"space_id": space, "source": "cache", "alarms": [expected]}
    assert stored.json()["alarm"] == expected


def test_without_an_acknowledge_scope_acknowledgement_is_forbidden(
    serving_settings: Settings, session: Session
) -> None:
    _, open_alarm, _ = seed(serving_settings, session)
    with TestClient(create_app(with_keys(serving_settings))) as client:
        refused = client.post(f"/alarms/{open_alarm.alarm_id}/acknowledge", headers={"X-API-Key": OPERATOR_KEY})
        still = client.get(f"/alarms/{open_alarm.alarm_id}")
    assert refused.status_code == 403
    assert still.json()["alarm"]["state"] == "active"


def board_alarms(space: str, device: str, now: datetime) -> list[Alarm]:
    """What the rules of conf/reference/alarm_rules.yaml leave open on one space at a time: one alarm per (rule,
    source), so a rule's earlier alarm on the same source has cleared."""
    co2 = alarm(space, now - timedelta(hours=2, minutes=5), peak=2400.0)
    warm = alarm(space, now - timedelta(minutes=12), peak=27.4)
    offline = alarm(space, now - timedelta(minutes=47))
    return [
        # Escalated to critical 30 minutes after its raise.
        replace(co2, severity="critical", escalated_at=co2.raised_at + timedelta(minutes=30)),
        replace(
            warm,
            alarm_id=alarm_id("office_too_warm", "space", space, warm.raised_at),
            rule_id="office_too_warm",
            message="Temperature above 26 °C for 10 minutes",
            metric="temperature",
        ),
        replace(
            offline,
            alarm_id=alarm_id("device_offline", "device", device, offline.raised_at),
            rule_id="device_offline",
            scope="device",
            source_id=device,
            device_id=device,
            message="No message from the device for 15 minutes",
            metric=None,
            peak_value=None,
            last_value=None,
        ),
        # The same rule on the same space yesterday, cleared: history, not on the board.
        alarm(space, now - timedelta(days=1), cleared=now - timedelta(hours=23), peak=1710.0),
    ]


def test_the_board_shows_a_building_and_a_space_open_alarms_in_chromium(
    running_api: str, serving_settings: Settings, session: Session, tmp_path: Path
) -> None:
    space, quiet, device = unique("space"), unique("space"), unique("co2")
    insert_space(session, space)
    insert_space(session, quiet)
    now = datetime.now(UTC).replace(microsecond=0)
    CassandraAlarmSink(session, serving_settings.cassandra.keyspace).write(board_alarms(space, device, now))

    overview = TableRows("space-rows")
    overview.feed(chromium_dom(f"{running_api}/board/buildings/b1", tmp_path))
    assert [row for row in overview.rows if row[1] in (f"Room {space}", f"Room {quiet}")] == sorted(
        [["1", f"Room {space}", "office", "3", "1", "2"], ["1", f"Room {quiet}", "office", "0", "0", "0"]],
        key=lambda row: row[1],
    )

    page = chromium_dom(f"{running_api}/board/spaces/{space}", tmp_path)
    rows = TableRows("alarm-rows")
    rows.feed(page)
    # Newest first; a device's alarm names the device, a space's the space.
    assert [(row[0], row[1], row[2], row[4], row[5], row[6]) for row in rows.rows] == [
        ("WARNING", "Temperature above 26 °C for 10 minutes", space, "active", "27.4", "Acknowledge"),
        ("WARNING", "No message from the device for 15 minutes", device, "active", "", "Acknowledge"),
        ("CRITICAL", "CO2 above 1500 ppm for 5 minutes", space, "active", "2400", "Acknowledge"),
    ]
    # Local time and age, not ISO instants; the button waits for an operator key.
    ages = ("12 min ago", "47 min ago", "2 h 5 min ago")
    assert all(row[3].endswith(age) for row, age in zip(rows.rows, ages, strict=True)), [row[3] for row in rows.rows]
    assert "T" not in rows.rows[0][3].split(" ago")[0][-12:]
    assert page.count('title="Sign in with an operator key to acknowledge"') == 3
    assert f'<h1 id="title">Room {space}</h1>' in page

    screenshot = tmp_path / "alarm-board.png"
    chromium(f"{running_api}/board/spaces/{space}", tmp_path, f"--screenshot={screenshot}", "--window-size=1100,470")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SMARTSPACES_SAVE_SCREENSHOTS"):
        (DOCS_IMAGES / "alarm-board.png").write_bytes(screenshot.read_bytes())
