"""Feature views grouped by entity."""
