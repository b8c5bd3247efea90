-- The reporting store: a star schema for Power BI, written by the batch enrichment one window at a time.
-- Columns follow transformations/reporting_schemas.py (the integration tests compare them).
-- Instants are timestamptz (UTC); local_date and local_hour are in the enrichment's time zone.
-- This file goes through string.Template and a split at semicolons that end a line: it holds no dollar
-- sign, and the one DO block is a single-quoted one-liner.

CREATE SCHEMA IF NOT EXISTS reporting;

COMMENT ON SCHEMA reporting IS 'Star schema for Power BI: facts and dimensions of the batch enrichment, and the views to report on';

CREATE SCHEMA IF NOT EXISTS reporting_staging;

COMMENT ON SCHEMA reporting_staging IS 'Per-run staging tables of the enrichment writer (unlogged, dropped after each run); not for reporting';

-- Which staging tables exist and since when, so tables left by a crashed run can be dropped later.
CREATE TABLE reporting_staging.staging_tables (
    table_name text PRIMARY KEY,
    run_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE reporting_staging.staging_tables IS 'Staging tables the writer created and has not dropped yet; rows older than a day are left by crashed runs';

-- Dimensions ---------------------------------------------------------------------------------------

CREATE TABLE reporting.dim_date (
    date_key date PRIMARY KEY,
    year integer NOT NULL,
    quarter integer NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    month integer NOT NULL CHECK (month BETWEEN 1 AND 12),
    month_name text NOT NULL,
    day_of_month integer NOT NULL CHECK (day_of_month BETWEEN 1 AND 31),
    iso_weekday integer NOT NULL CHECK (iso_weekday BETWEEN 1 AND 7),
    weekday_name text NOT NULL,
    iso_week integer NOT NULL CHECK (iso_week BETWEEN 1 AND 53),
    iso_year integer NOT NULL,
    is_weekend boolean NOT NULL
);

COMMENT ON TABLE reporting.dim_date IS 'Calendar days 2015-01-01 .. 2040-12-31: the date dimension every fact joins on local_date';
COMMENT ON COLUMN reporting.dim_date.iso_weekday IS '1 = Monday .. 7 = Sunday (ISO 8601)';
COMMENT ON COLUMN reporting.dim_date.iso_week IS 'ISO 8601 week number; it belongs to iso_year, which differs from year around New Year';
COMMENT ON COLUMN reporting.dim_date.iso_year IS 'The ISO 8601 year that iso_week belongs to';

-- to_char without the TM prefix gives English names whatever the server locale.
INSERT INTO reporting.dim_date
    (date_key, year, quarter, month, month_name, day_of_month, iso_weekday, weekday_name, iso_week, iso_year, is_weekend)
SELECT
    day::date,
    extract(year FROM day)::integer,
    extract(quarter FROM day)::integer,
    extract(month FROM day)::integer,
    to_char(day, 'FMMonth'),
    extract(day FROM day)::integer,
    extract(isodow FROM day)::integer,
    to_char(day, 'FMDay'),
    extract(week FROM day)::integer,
    extract(isoyear FROM day)::integer,
    extract(isodow FROM day) IN (6, 7)
FROM generate_series(date '2015-01-01', date '2040-12-31', interval '1 day') AS day
ON CONFLICT (date_key) DO NOTHING;

CREATE TABLE reporting.dim_space (
    space_id text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    is_current boolean NOT NULL,
    campus_id text,
    building_id text,
    floor integer,
    name text,
    space_type text,
    area_m2 double precision,
    capacity integer,
    tenant text,
    PRIMARY KEY (space_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);

-- One current version per space: the views can join on space_id alone.
CREATE UNIQUE INDEX dim_space_current ON reporting.dim_space (space_id) WHERE is_current;
CREATE INDEX dim_space_building ON reporting.dim_space (building_id) WHERE is_current;

COMMENT ON TABLE reporting.dim_space IS 'Spaces (rooms, desks, floors) as slowly changing dimension type 2: one row per version';
COMMENT ON COLUMN reporting.dim_space.valid_from IS 'When this version took effect (UTC instant)';
COMMENT ON COLUMN reporting.dim_space.valid_to IS 'When the next version took effect; null while this version is current';
COMMENT ON COLUMN reporting.dim_space.is_current IS 'True for the version in effect now (exactly one per space)';
COMMENT ON COLUMN reporting.dim_space.capacity IS 'People the space is designed for; utilisation is occupancy divided by it';

CREATE TABLE reporting.dim_device (
    device_id text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    is_current boolean NOT NULL,
    space_id text,
    device_type text,
    model text,
    installed_at timestamptz,
    retired_at timestamptz,
    PRIMARY KEY (device_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);

CREATE UNIQUE INDEX dim_device_current ON reporting.dim_device (device_id) WHERE is_current;
CREATE INDEX dim_device_space ON reporting.dim_device (space_id) WHERE is_current;

COMMENT ON TABLE reporting.dim_device IS 'Sensors and their placement as slowly changing dimension type 2: a move to another space is a new version';
COMMENT ON COLUMN reporting.dim_device.valid_from IS 'When this version took effect (UTC instant)';
COMMENT ON COLUMN reporting.dim_device.valid_to IS 'When the next version took effect; null while this version is current';
COMMENT ON COLUMN reporting.dim_device.is_current IS 'True for the version in effect now (exactly one per device)';
COMMENT ON COLUMN reporting.dim_device.retired_at IS 'When the device was taken out of service; null while in service';

-- Facts --------------------------------------------------------------------------------------------

CREATE TABLE reporting.fact_space_metric_hourly (
    space_id text NOT NULL,
    building_id text,
    metric text NOT NULL,
    unit text,
    hour_start timestamptz NOT NULL,
    local_date date NOT NULL REFERENCES reporting.dim_date (date_key),
    local_hour integer NOT NULL CHECK (local_hour BETWEEN 0 AND 23),
    readings bigint NOT NULL CHECK (readings >= 0),
    value_min double precision,
    value_max double precision,
    value_avg double precision,
    value_p95 double precision,
    PRIMARY KEY (space_id, metric, hour_start)
);

CREATE INDEX fact_space_metric_hourly_hour ON reporting.fact_space_metric_hourly (hour_start);
CREATE INDEX fact_space_metric_hourly_date ON reporting.fact_space_metric_hourly (local_date);
CREATE INDEX fact_space_metric_hourly_building ON reporting.fact_space_metric_hourly (building_id, local_date);

COMMENT ON TABLE reporting.fact_space_metric_hourly IS 'Readings of each metric in each space, per clock hour: count, min, max, average and 95th percentile';
COMMENT ON COLUMN reporting.fact_space_metric_hourly.hour_start IS 'Start of the hour (UTC instant); the enrichment replaces rows by this column';
COMMENT ON COLUMN reporting.fact_space_metric_hourly.local_date IS 'The local day of hour_start in the enrichment time zone';
COMMENT ON COLUMN reporting.fact_space_metric_hourly.local_hour IS 'The local hour of hour_start (0..23); a DST change repeats or skips one';
COMMENT ON COLUMN reporting.fact_space_metric_hourly.value_p95 IS '95th percentile of the readings of the hour (approximate)';

CREATE TABLE reporting.fact_space_daily (
    space_id text NOT NULL,
    building_id text,
    local_date date NOT NULL REFERENCES reporting.dim_date (date_key),
    capacity integer,
    peak_occupancy double precision,
    avg_occupancy double precision,
    peak_utilisation double precision,
    avg_utilisation double precision,
    energy_kwh double precision,
    occupied_hours integer,
    temperature_comfort_share double precision,
    co2_comfort_share double precision,
    critical_events bigint,
    warning_events bigint,
    info_events bigint,
    PRIMARY KEY (space_id, local_date)
);

CREATE INDEX fact_space_daily_date ON reporting.fact_space_daily (local_date);
CREATE INDEX fact_space_daily_building ON reporting.fact_space_daily (building_id, local_date);

COMMENT ON TABLE reporting.fact_space_daily IS 'Each space per local day: occupancy, utilisation, energy, comfort and events; written only for days a run covers whole';
COMMENT ON COLUMN reporting.fact_space_daily.capacity IS 'The space capacity in effect that day';
COMMENT ON COLUMN reporting.fact_space_daily.peak_utilisation IS 'Highest hourly occupancy divided by capacity (1.0 = full)';
COMMENT ON COLUMN reporting.fact_space_daily.avg_utilisation IS 'Average hourly occupancy divided by capacity (1.0 = full)';
COMMENT ON COLUMN reporting.fact_space_daily.occupied_hours IS 'Hours of the day with anyone in the space';
COMMENT ON COLUMN reporting.fact_space_daily.temperature_comfort_share IS 'Share (0..1) of occupied hours whose average temperature was inside the comfort band';
COMMENT ON COLUMN reporting.fact_space_daily.co2_comfort_share IS 'Share (0..1) of occupied hours whose average CO2 was at most the comfort limit';

CREATE TABLE reporting.fact_building_daily (
    building_id text NOT NULL,
    local_date date NOT NULL REFERENCES reporting.dim_date (date_key),
    spaces integer,
    capacity bigint,
    peak_occupancy double precision,
    avg_utilisation double precision,
    energy_kwh double precision,
    occupied_space_hours bigint,
    temperature_comfort_share double precision,
    co2_comfort_share double precision,
    critical_events bigint,
    warning_events bigint,
    info_events bigint,
    PRIMARY KEY (building_id, local_date)
);

CREATE INDEX fact_building_daily_date ON reporting.fact_building_daily (local_date);

COMMENT ON TABLE reporting.fact_building_daily IS 'Each building per local day, rolled up from its spaces; written only for days a run covers whole';
COMMENT ON COLUMN reporting.fact_building_daily.spaces IS 'Spaces of the building reported that day';
COMMENT ON COLUMN reporting.fact_building_daily.occupied_space_hours IS 'Sum over the spaces of their occupied hours';
COMMENT ON COLUMN reporting.fact_building_daily.temperature_comfort_share IS 'Share (0..1) of occupied space-hours inside the temperature comfort band';
COMMENT ON COLUMN reporting.fact_building_daily.co2_comfort_share IS 'Share (0..1) of occupied space-hours at most the CO2 comfort limit';

CREATE TABLE reporting.fact_critical_event (
    critical_event_id uuid PRIMARY KEY,
    space_id text,
    building_id text,
    device_id text,
    rule_id text,
    rule_version integer,
    severity text,
    metric text,
    value double precision,
    unit text,
    code text,
    message text,
    event_time timestamptz NOT NULL,
    local_date date NOT NULL REFERENCES reporting.dim_date (date_key),
    source_event_id uuid,
    detected_at timestamptz
);

CREATE INDEX fact_critical_event_time ON reporting.fact_critical_event (event_time);
CREATE INDEX fact_critical_event_date ON reporting.fact_critical_event (local_date);
CREATE INDEX fact_critical_event_building ON reporting.fact_critical_event (building_id, local_date);
CREATE INDEX fact_critical_event_space ON reporting.fact_critical_event (space_id, event_time);

COMMENT ON TABLE reporting.fact_critical_event IS 'Events a critical-event rule fired on, one row each';
COMMENT ON COLUMN reporting.fact_critical_event.critical_event_id IS 'Deterministic id from the rule and the source event: a re-run gives the same id';
COMMENT ON COLUMN reporting.fact_critical_event.rule_version IS 'Version of the rule that fired (rules are versioned reference data)';
COMMENT ON COLUMN reporting.fact_critical_event.event_time IS 'When the device measured the reading (UTC instant); the enrichment replaces rows by this column';
COMMENT ON COLUMN reporting.fact_critical_event.source_event_id IS 'The event_id of the reading that fired the rule';
COMMENT ON COLUMN reporting.fact_critical_event.detected_at IS 'When the platform detected the critical event';

-- Runs and their data quality ----------------------------------------------------------------------

CREATE TABLE reporting.enrichment_runs (
    run_id uuid PRIMARY KEY,
    window_start timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    time_zone text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    verdict text NOT NULL CHECK (verdict IN ('passed', 'warned', 'failed')),
    rows_written jsonb NOT NULL DEFAULT '{}',
    data_docs text,
    CHECK (window_end > window_start)
);

CREATE INDEX enrichment_runs_window ON reporting.enrichment_runs (window_start, window_end, started_at DESC);

COMMENT ON TABLE reporting.enrichment_runs IS 'One row per enrichment run: its window, its quality verdict and what it wrote';
COMMENT ON COLUMN reporting.enrichment_runs.window_start IS 'Start of the window the run covered (UTC instant, included)';
COMMENT ON COLUMN reporting.enrichment_runs.window_end IS 'End of the window the run covered (UTC instant, excluded)';
COMMENT ON COLUMN reporting.enrichment_runs.time_zone IS 'IANA time zone of the local days and hours the run wrote';
COMMENT ON COLUMN reporting.enrichment_runs.verdict IS 'passed: every expectation met; warned: only warn-level ones missed, facts written; failed: facts not written';
COMMENT ON COLUMN reporting.enrichment_runs.rows_written IS 'Rows inserted or changed per reporting table, e.g. {"fact_space_daily": 120}; empty for a failed run';
COMMENT ON COLUMN reporting.enrichment_runs.data_docs IS 'Where the Great Expectations Data Docs of the run are';

CREATE TABLE reporting.dq_results (
    run_id uuid NOT NULL REFERENCES reporting.enrichment_runs (run_id) ON DELETE CASCADE,
    expectation text NOT NULL,
    table_name text NOT NULL,
    column_name text NOT NULL DEFAULT '',
    severity text NOT NULL CHECK (severity IN ('fail', 'warn')),
    success boolean,
    observed text,
    details jsonb NOT NULL DEFAULT '{}',
    window_start timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    checked_at timestamptz NOT NULL,
    PRIMARY KEY (run_id, expectation, table_name, column_name)
);

CREATE INDEX dq_results_window ON reporting.dq_results (window_start, window_end);

COMMENT ON TABLE reporting.dq_results IS 'Outcome of each data quality expectation of each enrichment run';
COMMENT ON COLUMN reporting.dq_results.column_name IS 'The column checked; empty for an expectation on the whole table';
COMMENT ON COLUMN reporting.dq_results.severity IS 'fail: a miss stops the write; warn: a miss is recorded and the write goes on';
COMMENT ON COLUMN reporting.dq_results.success IS 'Whether the expectation was met; null when it did not apply to the run (e.g. a row count with no previous window)';
COMMENT ON COLUMN reporting.dq_results.observed IS 'What the check saw, in words (e.g. 3 null values, 0.42 of the previous window)';
COMMENT ON COLUMN reporting.dq_results.details IS 'The expectation result as Great Expectations reported it';

-- Views for Power BI -------------------------------------------------------------------------------

CREATE VIEW reporting.v_date AS
SELECT date_key AS local_date, year, quarter, month, month_name, day_of_month, iso_weekday, weekday_name,
       iso_week, iso_year, is_weekend
FROM reporting.dim_date;

COMMENT ON VIEW reporting.v_date IS 'Calendar: relate local_date to local_date of every other view';

CREATE VIEW reporting.v_space AS
SELECT space_id, name AS space_name, space_type, campus_id, building_id, floor, area_m2, capacity, tenant,
       valid_from AS version_valid_from
FROM reporting.dim_space
WHERE is_current;

COMMENT ON VIEW reporting.v_space IS 'The current version of each space, one row per space_id';

CREATE VIEW reporting.v_space_history AS
SELECT space_id, name AS space_name, space_type, campus_id, building_id, floor, area_m2, capacity, tenant,
       valid_from, valid_to, is_current
FROM reporting.dim_space;

COMMENT ON VIEW reporting.v_space_history IS 'Every version of every space, for as-was reporting';

CREATE VIEW reporting.v_device_current AS
SELECT device.device_id, device.device_type, device.model, device.space_id, space.space_name, space.building_id,
       device.installed_at, device.retired_at, device.valid_from AS version_valid_from
FROM reporting.dim_device AS device
LEFT JOIN reporting.v_space AS space ON space.space_id = device.space_id
WHERE device.is_current;

COMMENT ON VIEW reporting.v_device_current IS 'The current version of each device, with the space it is in now';

CREATE VIEW reporting.v_space_daily AS
SELECT fact.space_id, space.space_name, space.space_type, space.floor, space.tenant, fact.building_id,
       fact.local_date, calendar.year, calendar.month, calendar.month_name, calendar.iso_week,
       calendar.weekday_name, calendar.is_weekend,
       fact.capacity, fact.peak_occupancy, fact.avg_occupancy, fact.peak_utilisation, fact.avg_utilisation,
       fact.energy_kwh, fact.occupied_hours, fact.temperature_comfort_share, fact.co2_comfort_share,
       fact.critical_events, fact.warning_events, fact.info_events
FROM reporting.fact_space_daily AS fact
JOIN reporting.dim_date AS calendar ON calendar.date_key = fact.local_date
LEFT JOIN reporting.v_space AS space ON space.space_id = fact.space_id;

COMMENT ON VIEW reporting.v_space_daily IS 'Each space per local day with its current name and type and the calendar attributes';

CREATE VIEW reporting.v_space_hourly AS
SELECT fact.space_id, space.space_name, space.space_type, fact.building_id, fact.metric, fact.unit,
       fact.hour_start, fact.local_date, fact.local_hour, fact.readings,
       fact.value_min, fact.value_max, fact.value_avg, fact.value_p95
FROM reporting.fact_space_metric_hourly AS fact
LEFT JOIN reporting.v_space AS space ON space.space_id = fact.space_id;

COMMENT ON VIEW reporting.v_space_hourly IS 'Each metric of each space per hour with the space current name; filter on local_date in DirectQuery';

CREATE VIEW reporting.v_building_daily AS
SELECT fact.building_id, fact.local_date, calendar.year, calendar.month, calendar.month_name, calendar.iso_week,
       calendar.weekday_name, calendar.is_weekend,
       fact.spaces, fact.capacity, fact.peak_occupancy, fact.avg_utilisation, fact.energy_kwh,
       fact.occupied_space_hours, fact.temperature_comfort_share, fact.co2_comfort_share,
       fact.critical_events, fact.warning_events, fact.info_events
FROM reporting.fact_building_daily AS fact
JOIN reporting.dim_date AS calendar ON calendar.date_key = fact.local_date;

COMMENT ON VIEW reporting.v_building_daily IS 'Each building per local day with the calendar attributes';

CREATE VIEW reporting.v_critical_events AS
SELECT fact.critical_event_id, fact.event_time, fact.local_date, fact.space_id, space.space_name,
       fact.building_id, fact.device_id, device.device_type, fact.rule_id, fact.rule_version, fact.severity,
       fact.metric, fact.value, fact.unit, fact.code, fact.message, fact.detected_at, fact.source_event_id
FROM reporting.fact_critical_event AS fact
LEFT JOIN reporting.v_space AS space ON space.space_id = fact.space_id
LEFT JOIN reporting.dim_device AS device ON device.device_id = fact.device_id AND device.is_current;

COMMENT ON VIEW reporting.v_critical_events IS 'Critical events with the current name of their space and the type of their device';

CREATE VIEW reporting.v_enrichment_runs AS
SELECT run_id, window_start, window_end, time_zone, started_at, finished_at, verdict, rows_written, data_docs
FROM reporting.enrichment_runs;

COMMENT ON VIEW reporting.v_enrichment_runs IS 'Every enrichment run, its verdict and what it wrote';

CREATE VIEW reporting.v_data_quality AS
SELECT latest.window_start, latest.window_end, latest.time_zone, latest.run_id, latest.started_at,
       latest.verdict, result.table_name, result.column_name, result.expectation, result.severity,
       result.success, result.observed, result.checked_at
FROM (
    SELECT DISTINCT ON (window_start, window_end) run_id, window_start, window_end, time_zone, started_at, verdict
    FROM reporting.enrichment_runs
    ORDER BY window_start, window_end, started_at DESC, run_id
) AS latest
JOIN reporting.dq_results AS result ON result.run_id = latest.run_id;

COMMENT ON VIEW reporting.v_data_quality IS 'The expectations of the latest run of each window: what the figures of that window rest on';

-- The read-only role for Power BI ------------------------------------------------------------------

-- Roles belong to the whole server: created once, and a concurrent creation elsewhere is not an error.
DO 'BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''reporting_reader'') THEN CREATE ROLE reporting_reader NOLOGIN; END IF; EXCEPTION WHEN duplicate_object THEN NULL; END';

COMMENT ON ROLE reporting_reader IS 'Read-only access to the reporting schema (Power BI); grant it to a login user';

GRANT USAGE ON SCHEMA reporting TO reporting_reader;

GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO reporting_reader;

-- Tables and views later migrations add (created by the same owner) are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA reporting GRANT SELECT ON TABLES TO reporting_reader;
