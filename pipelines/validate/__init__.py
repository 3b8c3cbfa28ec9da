"""Great Expectations suites for raw transactions and every feature table."""
