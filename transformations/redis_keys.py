"""Redis key layouts, versioned (v1) so a layout change can live beside the old one while caches refill."""

from __future__ import annotations

# The latest smoke reading of a device: a hash of the reading's fields.
SMOKE_DEVICE_LATEST = "smartspaces:v1:smoke:device:{device_id}:latest"
