"""I/O at the edges: thin readers and writers for Kafka, Cassandra, Delta, PostgreSQL and Redis.

Transformations never import these; jobs wire them to the transformations.
"""
