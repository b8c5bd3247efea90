-- Which partitions of a staging table are in it: the enrichment's COPY writer claims (table, partition) in
-- the transaction of that partition's COPY, so a task Spark runs again after its COPY committed (a lost
-- executor, a speculative copy) finds the claim and writes nothing twice.
CREATE TABLE reporting_staging.staged_partitions (
    table_name text NOT NULL REFERENCES reporting_staging.staging_tables (table_name) ON DELETE CASCADE,
    partition_id integer NOT NULL,
    rows_copied bigint NOT NULL,
    PRIMARY KEY (table_name, partition_id)
);

COMMENT ON TABLE reporting_staging.staged_partitions IS 'Partitions of each staging table that a COPY has committed, and their rows; dropped with the staging table';
