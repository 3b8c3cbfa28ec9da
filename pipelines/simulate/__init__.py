"""Card-transaction simulator after the design of the Fraud Detection Handbook (Le Borgne et al.)."""
