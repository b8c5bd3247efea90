"""The streaming ingest: Kafka → validation → Cassandra, quarantine and bronze, one micro-batch at a time."""
