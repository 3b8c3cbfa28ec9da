"""BentoML services and the payment API: composes models and integrations."""
