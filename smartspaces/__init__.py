"""The platform runtime: pinned versions, typed config, the Spark session, I/O connectors and the local stack."""
