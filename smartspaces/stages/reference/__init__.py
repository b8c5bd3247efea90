"""Reference data: drops of spaces and devices merged into the lake's histories and copied to Cassandra."""
