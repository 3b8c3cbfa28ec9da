"""The `smartpay` command line: one command per lifecycle stage."""
