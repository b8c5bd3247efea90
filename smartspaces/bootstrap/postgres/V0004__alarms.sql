-- Alarms in the reporting schema: one row per alarm raised in an enriched window, with its response times,
-- and a weekly view of how fast each building's alarms are acknowledged and cleared.
CREATE TABLE reporting.fact_alarm (
    alarm_id uuid PRIMARY KEY,
    rule_id text NOT NULL,
    rule_version integer,
    scope text,
    source_id text,
    building_id text,
    space_id text,
    device_id text,
    severity text,
    raised_severity text,
    message text,
    metric text,
    raised_at timestamptz NOT NULL,
    local_date date NOT NULL REFERENCES reporting.dim_date (date_key),
    escalated_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    cleared_at timestamptz,
    peak_value double precision,
    minutes_to_acknowledge double precision,
    minutes_to_clear double precision
);

CREATE INDEX fact_alarm_raised ON reporting.fact_alarm (raised_at);
CREATE INDEX fact_alarm_building ON reporting.fact_alarm (building_id, local_date);

COMMENT ON TABLE reporting.fact_alarm IS 'Alarms raised in the enriched windows, as they stood when the window was enriched';
COMMENT ON COLUMN reporting.fact_alarm.alarm_id IS 'Deterministic from the rule, the source and the first raise time: a re-run gives the same id';
COMMENT ON COLUMN reporting.fact_alarm.raised_at IS 'When the alarm was raised (UTC instant, an event time); the enrichment replaces rows by this column';
COMMENT ON COLUMN reporting.fact_alarm.severity IS 'Severity as it stood: the raised severity, or the escalated one';
COMMENT ON COLUMN reporting.fact_alarm.minutes_to_acknowledge IS 'From raise to acknowledgement; null while not acknowledged';
COMMENT ON COLUMN reporting.fact_alarm.minutes_to_clear IS 'From raise to clear; null while open';

CREATE VIEW reporting.v_alarms AS
SELECT fact.alarm_id, fact.raised_at, fact.local_date, fact.building_id, fact.space_id, space.space_name,
       fact.device_id, fact.rule_id, fact.rule_version, fact.severity, fact.raised_severity, fact.message,
       fact.metric, fact.peak_value, fact.escalated_at, fact.acknowledged_at, fact.acknowledged_by,
       fact.cleared_at, fact.minutes_to_acknowledge, fact.minutes_to_clear
FROM reporting.fact_alarm AS fact
LEFT JOIN reporting.v_space AS space ON space.space_id = fact.space_id;

COMMENT ON VIEW reporting.v_alarms IS 'Alarms with the current name of their space';

CREATE VIEW reporting.v_alarm_response_weekly AS
SELECT fact.building_id,
       date_trunc('week', fact.local_date)::date AS week_start,
       count(*) AS alarms,
       count(*) FILTER (WHERE fact.severity = 'critical') AS critical_alarms,
       count(fact.acknowledged_at) AS acknowledged,
       count(fact.cleared_at) AS cleared,
       avg(fact.minutes_to_acknowledge) AS mean_minutes_to_acknowledge,
       avg(fact.minutes_to_clear) AS mean_minutes_to_clear
FROM reporting.fact_alarm AS fact
GROUP BY fact.building_id, date_trunc('week', fact.local_date);

COMMENT ON VIEW reporting.v_alarm_response_weekly IS 'Per building and ISO week (starting Monday): alarms raised, mean time to acknowledge and to clear';
