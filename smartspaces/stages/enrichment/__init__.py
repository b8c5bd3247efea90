"""The batch enrichment: a window's events from Cassandra, reference data from the lake, facts for PostgreSQL."""
