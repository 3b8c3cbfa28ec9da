"""Entity and offline source of the router's gateway statistics.

The table is written by the router pipeline (`smartpay evaluate router`) from decision
logs; its path is relative to the store's repo path like the other sources.
"""

from feast import Entity, FileSource, PushSource, ValueType

GATEWAY_STATS_TABLE = "gateway_stats.parquet"

# A gateway within one routing segment, e.g. 'stripe|visa:US:ecommerce'.
gateway_segment = Entity(
    name="gateway_segment", join_keys=["gateway_segment"], value_type=ValueType.STRING,
    description="A gateway x routing segment (card network : issuing country : channel).",
)

# Per gateway x segment, at each minute with traffic: trailing success rates and latency.
gateway_stats_source = FileSource(
    name="gateway_stats_source", path=f"tables/{GATEWAY_STATS_TABLE}",
    timestamp_field="event_timestamp",
    description="Gateway success rates over 15 min / 1 h / 24 h and mean latency over 1 h.",
)

# Served routing outcomes push the statistics they change, so training (the table above)
# and serving read one implementation through `gateway_stats` / `routing_v1`.
gateway_stats_push = PushSource(
    name="gateway_stats_push", batch_source=gateway_stats_source,
    description="Gateway statistics recomputed online from served outcomes.",
)
