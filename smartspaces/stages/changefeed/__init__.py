"""The change feed over stored events: sources (the Cassandra change log, Cosmos DB's change feed) and leases."""
