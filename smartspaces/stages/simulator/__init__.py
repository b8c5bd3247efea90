"""A device simulator: a seeded campus of buildings, spaces and devices sending events (good and bad) to Kafka."""
