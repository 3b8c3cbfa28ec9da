"""Terminal risk: how busy a terminal is and how much known fraud it has seen.

Two views over one table, because they are refreshed differently: the counts need no
label, so every payment pushes them (`terminal_activity`); the fraud shares need labels
that arrive LABEL_DELAY_DAYS later, so only `materialize` writes them (`terminal_risk`).
A push never touches a fraud share.
"""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64

from features.entities import terminal
from features.sources import terminal_activity_push, terminal_risk_source
from features.windows import LABEL_DELAY_DAYS, WINDOWS_DAYS, terminal_columns

# Transaction counts over windows ending LABEL_DELAY_DAYS before (the fraud shares'
# denominators); loaded by `materialize`, then pushed after every payment there.
terminal_activity = FeatureView(
    name="terminal_activity",
    entities=[terminal],
    ttl=timedelta(days=30 + LABEL_DELAY_DAYS),
    schema=[Field(name=terminal_columns(w)[0], dtype=Int64) for w in WINDOWS_DAYS],
    source=terminal_activity_push,
    online=True,
    description="Terminal transaction count over 1/7/30 days, shifted by a 7-day delay.",
    tags={"model": "fraud", "label_delay_days": str(LABEL_DELAY_DAYS)},
)

# Windows end LABEL_DELAY_DAYS before the transaction: labels newer than that are unknown.
terminal_risk = FeatureView(
    name="terminal_risk",
    entities=[terminal],
    ttl=timedelta(days=30 + LABEL_DELAY_DAYS),
    schema=[Field(name=terminal_columns(w)[1], dtype=Float64) for w in WINDOWS_DAYS],
    source=terminal_risk_source,
    online=True,
    description="Terminal fraud share over 1/7/30 days, shifted by a 7-day delay; "
                "refreshed by `materialize` only.",
    tags={"model": "fraud", "label_delay_days": str(LABEL_DELAY_DAYS)},
)
