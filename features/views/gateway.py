"""Gateway health per segment: what the router's VW action features read."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64

from features.sources_gateway import gateway_segment, gateway_stats_push

# Recent authorisation rates (smoothed towards 0.9) and latency of a gateway in a segment;
# written by the router pipeline's table and `materialize`, or pushed from served outcomes.
gateway_stats = FeatureView(
    name="gateway_stats",
    entities=[gateway_segment],
    ttl=timedelta(days=1),
    schema=[Field(name="sr_15m", dtype=Float64), Field(name="sr_1h", dtype=Float64),
            Field(name="sr_24h", dtype=Float64), Field(name="latency_1h_s", dtype=Float64),
            Field(name="attempts_1h", dtype=Int64)],
    source=gateway_stats_push,
    online=True,
    description="Gateway success rate per segment over 15 min / 1 h / 24 h and 1 h latency.",
    tags={"model": "routing"},
)
