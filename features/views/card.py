"""Card profile: static attributes the router segments on."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import String

from features.entities import card
from features.sources import card_profile_source

# Network and issuing country of each card (never changes once issued).
card_profile = FeatureView(
    name="card_profile",
    entities=[card],
    ttl=timedelta(days=3650),
    schema=[Field(name="card_network", dtype=String), Field(name="issuing_country", dtype=String)],
    source=card_profile_source,
    online=True,
    description="Card network and issuing country.",
    tags={"model": "routing"},
)
