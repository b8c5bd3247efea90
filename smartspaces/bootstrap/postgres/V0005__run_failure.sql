-- Why a failed run wrote no facts when its quality gate did not stop it: the staging tables lost rows before
-- the swap (a PostgreSQL restart empties unlogged tables), say. NULL for every other run.
ALTER TABLE reporting.enrichment_runs ADD COLUMN failure text;

COMMENT ON COLUMN reporting.enrichment_runs.failure IS 'Why a failed run wrote nothing beyond its quality gate (e.g. staged rows lost before the swap); NULL otherwise';

CREATE OR REPLACE VIEW reporting.v_enrichment_runs AS
SELECT run_id, window_start, window_end, time_zone, started_at, finished_at, verdict, rows_written, data_docs, failure
FROM reporting.enrichment_runs;
