-- Least privilege in the reporting database. The owner, the user that applies these migrations, owns every
-- object. The enrichment writes as reporting_writer, with exactly the grants its window write needs; Power BI
-- reads as reporting_reader: the BI views and nothing else. Both are roles of the whole server; grant them to
-- login users (or log in as reporting_writer, which may).

-- The reader: the views only. A view reads its tables with its owner's rights, so no table grant is needed.
REVOKE SELECT ON ALL TABLES IN SCHEMA reporting FROM reporting_reader;

ALTER DEFAULT PRIVILEGES IN SCHEMA reporting REVOKE SELECT ON TABLES FROM reporting_reader;

-- Every view there is now; a later migration that adds a view grants it (a test checks every view is readable).
DO 'DECLARE v record; BEGIN FOR v IN SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ''reporting'' AND c.relkind = ''v'' LOOP EXECUTE format(''GRANT SELECT ON reporting.%I TO reporting_reader'', v.relname); END LOOP; END';

-- The writer: what the enrichment's staging, swap and run records do, and nothing more -----------------------

DO 'BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ''reporting_writer'') THEN CREATE ROLE reporting_writer LOGIN; END IF; EXCEPTION WHEN duplicate_object THEN NULL; END';

COMMENT ON ROLE reporting_writer IS 'The enrichment: fills its staging tables and swaps a window of the star schema; creates and alters no reporting table';

GRANT USAGE ON SCHEMA reporting TO reporting_writer;

-- The window swap deletes the window's facts and inserts the staged ones (its WHERE clauses read columns).
GRANT SELECT, INSERT, DELETE ON reporting.fact_space_metric_hourly, reporting.fact_space_daily, reporting.fact_building_daily, reporting.fact_critical_event, reporting.fact_alarm TO reporting_writer;

-- The registries' versions are upserted (INSERT ... ON CONFLICT DO UPDATE) and a rebuilt id's versions replaced.
GRANT SELECT, INSERT, UPDATE, DELETE ON reporting.dim_space, reporting.dim_device TO reporting_writer;

-- A run records itself (upserted when it ends) and replaces its expectations' results.
GRANT SELECT, INSERT, UPDATE ON reporting.enrichment_runs TO reporting_writer;

GRANT SELECT, INSERT, DELETE ON reporting.dq_results TO reporting_writer;

-- Staging: the writer creates (and so owns and drops) its per-run tables and keeps their registries.
GRANT USAGE, CREATE ON SCHEMA reporting_staging TO reporting_writer;

GRANT SELECT, INSERT, UPDATE, DELETE ON reporting_staging.staging_tables, reporting_staging.staged_partitions TO reporting_writer;
