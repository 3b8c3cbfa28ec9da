"""The stand-in harness: local servers that speak the real protocols of external
systems (localstripe, an Amazon Pay v2 sandbox, a Solana JSON-RPC node over LiteSVM),
the sandbox behaviour only they need (simulated buyers, on-ramps, throwaway keys), and
`running_standins`, which starts them and hands the product URLs and key files the way
a real deployment would. The local profile and the tests start it; the product never
imports it, and the prod profile refuses its hooks."""
