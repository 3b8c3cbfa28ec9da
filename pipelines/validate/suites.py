"""The expectation suites, as data: (expectation class name, kwargs) per suite."""

from __future__ import annotations

from smartpay.money import CURRENCY_EXPONENT

Spec = tuple[str, dict]

NETWORKS = ["visa", "mastercard", "amex", "discover"]
CHANNELS = ["ecommerce", "card_present"]
MAX_AMOUNT_MINOR = 10_000_000  # 100,000.00 in major units: far above any real card payment


def _not_null(*cols: str) -> list[Spec]:
    return [("ExpectColumnValuesToNotBeNull", {"column": c}) for c in cols]


def _at_least(col: str, lo: float, hi: float | None = None) -> Spec:
    return ("ExpectColumnValuesToBeBetween", {"column": col, "min_value": lo, "max_value": hi})


def transactions(min_fraud_rate: float = 0.001, max_fraud_rate: float = 0.15) -> list[Spec]:
    """Raw transactions: schema, ranges, no nulls, unique ids, fraud band, time order."""
    return [
        ("ExpectTableColumnsToMatchSet", {"column_set": [
            "transaction_id", "timestamp", "customer_id", "terminal_id", "card_id",
            "amount_minor", "currency", "card_network", "issuing_country",
            "merchant_category", "channel", "device_id", "is_fraud", "fraud_scenario"],
            "exact_match": False}),
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
        *_not_null("transaction_id", "timestamp", "customer_id", "terminal_id", "card_id",
                   "amount_minor", "currency", "card_network", "issuing_country",
                   "merchant_category", "channel", "is_fraud", "fraud_scenario"),
        ("ExpectColumnValuesToBeUnique", {"column": "transaction_id"}),
        ("ExpectColumnValuesToBeIncreasing", {"column": "timestamp", "strictly": False}),
        ("ExpectColumnValuesToBeInTypeList", {"column": "amount_minor",
                                              "type_list": ["int64", "int32", "Int64"]}),
        _at_least("amount_minor", 0, MAX_AMOUNT_MINOR),
        _at_least("customer_id", 0), _at_least("terminal_id", 0), _at_least("card_id", 0),
        ("ExpectColumnValuesToBeInSet", {"column": "currency",
                                         "value_set": sorted(CURRENCY_EXPONENT)}),
        ("ExpectColumnValuesToBeInSet", {"column": "card_network", "value_set": NETWORKS}),
        ("ExpectColumnValuesToBeInSet", {"column": "channel", "value_set": CHANNELS}),
        ("ExpectColumnValuesToBeInSet", {"column": "is_fraud", "value_set": [0, 1]}),
        ("ExpectColumnValuesToBeInSet", {"column": "fraud_scenario", "value_set": [0, 1, 2, 3]}),
        ("ExpectColumnMeanToBeBetween", {"column": "is_fraud", "min_value": min_fraud_rate,
                                         "max_value": max_fraud_rate}),
    ]


def customer_spending() -> list[Spec]:
    """Customer windows: keys present, counts non-negative, means in the amount range."""
    windows = (1, 7, 30)
    return [
        *_not_null("customer_id", "event_timestamp",
                   *[f"cust_tx_count_{w}d" for w in windows],
                   *[f"cust_avg_amount_{w}d" for w in windows]),
        ("ExpectCompoundColumnsToBeUnique", {"column_list": ["customer_id", "event_timestamp"]}),
        *[_at_least(f"cust_tx_count_{w}d", 0) for w in windows],
        *[_at_least(f"cust_avg_amount_{w}d", 0, MAX_AMOUNT_MINOR / 100) for w in windows],
    ]


def terminal_risk() -> list[Spec]:
    """Terminal windows: counts non-negative, fraud shares are proportions."""
    windows = (1, 7, 30)
    return [
        *_not_null("terminal_id", "event_timestamp",
                   *[f"term_tx_count_{w}d" for w in windows],
                   *[f"term_fraud_share_{w}d" for w in windows]),
        ("ExpectCompoundColumnsToBeUnique", {"column_list": ["terminal_id", "event_timestamp"]}),
        *[_at_least(f"term_tx_count_{w}d", 0) for w in windows],
        *[_at_least(f"term_fraud_share_{w}d", 0.0, 1.0) for w in windows],
    ]


def card_profile() -> list[Spec]:
    """Card profiles: one row per card with a known network."""
    return [
        *_not_null("card_id", "event_timestamp", "card_network", "issuing_country"),
        ("ExpectColumnValuesToBeUnique", {"column": "card_id"}),
        ("ExpectColumnValuesToBeInSet", {"column": "card_network", "value_set": NETWORKS}),
    ]


FEATURE_SUITES = {
    "customer_spending": customer_spending,
    "terminal_risk": terminal_risk,
    "card_profile": card_profile,
}
