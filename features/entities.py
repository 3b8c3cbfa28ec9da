"""Entities: the keys features are looked up by."""

from feast import Entity, ValueType

# A cardholder; spending-habit features are keyed by it.
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64,
                  description="A cardholder of the simulated bank.")

# A point-of-sale or online terminal; risk features are keyed by it.
terminal = Entity(name="terminal", join_keys=["terminal_id"], value_type=ValueType.INT64,
                  description="A merchant terminal that accepts card payments.")

# A payment card; its static profile (network, issuing country) is keyed by it.
card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.INT64,
              description="A payment card held by a customer.")
