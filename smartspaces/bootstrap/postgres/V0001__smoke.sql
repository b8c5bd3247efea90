-- The smoke flow's per-device summary, one row per run and device.
CREATE SCHEMA IF NOT EXISTS smoke;

CREATE TABLE IF NOT EXISTS smoke.device_summary (
    run_id text NOT NULL,
    device_id text NOT NULL,
    readings bigint NOT NULL,
    min_value double precision NOT NULL,
    max_value double precision NOT NULL,
    avg_value double precision NOT NULL,
    last_event_time timestamptz NOT NULL,
    PRIMARY KEY (run_id, device_id)
);

COMMENT ON TABLE smoke.device_summary IS 'Smoke flow: readings per device as read back from Cassandra';
