"""The handbook's 15 features, derived from our FeatureService columns."""

import numpy as np
import pandas as pd
import pytest

from pipelines.fraud.handbook import HANDBOOK_FEATURES, handbook_features


def _row(**over) -> pd.DataFrame:
    row = {"amount": 30.0, "is_weekend": 1, "is_night": 0, "amount_to_cust_avg_30d": 3.0}
    for w, (n, avg, tn, risk) in {1: (0, 0.0, 5, 0.2), 7: (2, 15.0, 40, 0.05),
                                  30: (9, 10.0, 100, 0.01)}.items():
        row |= {f"cust_tx_count_{w}d": n, f"cust_avg_amount_{w}d": avg,
                f"term_tx_count_{w}d": tn, f"term_fraud_share_{w}d": risk}
    return pd.DataFrame([row | over])


def test_the_handbook_set_has_its_15_features_and_not_our_amount_ratio():
    out = handbook_features(_row())
    assert list(out.columns) == HANDBOOK_FEATURES and len(HANDBOOK_FEATURES) == 15
    assert not any("ratio" in c or "to_cust" in c for c in HANDBOOK_FEATURES)


def test_customer_windows_include_the_transaction_itself_as_the_handbook_does():
    out = handbook_features(_row()).iloc[0]
    # 1 day: no earlier transaction -> the handbook counts this one, mean = its amount.
    assert out["hb_customer_nb_tx_1day_window"] == 1
    assert out["hb_customer_avg_amount_1day_window"] == pytest.approx(30.0)
    # 7 days: two earlier at mean 15 plus this 30 -> 3 transactions, mean 20.
    assert out["hb_customer_nb_tx_7day_window"] == 3
    assert out["hb_customer_avg_amount_7day_window"] == pytest.approx(20.0)
    assert out["hb_customer_avg_amount_30day_window"] == pytest.approx((90 + 30) / 10)


def test_terminal_windows_and_time_flags_are_taken_as_they_are():
    out = handbook_features(_row()).iloc[0]
    assert out["hb_terminal_nb_tx_7day_window"] == 40
    assert out["hb_terminal_risk_1day_window"] == pytest.approx(0.2)
    assert (out["hb_tx_during_weekend"], out["hb_tx_during_night"]) == (1, 0)
    assert np.isclose(out["hb_tx_amount"], 30.0)
