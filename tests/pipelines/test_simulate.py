"""Behaviour of the transaction simulator."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.simulate import nodes
from pipelines.simulate.pipeline import SimulationParams, simulate
from smartpay.errors import InputError

SMALL = SimulationParams(customers=300, terminals=600, days=40, seed=7)


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return simulate(SMALL)


def test_same_seed_gives_identical_transactions(tx):
    pd.testing.assert_frame_equal(tx, simulate(SMALL))


def test_another_seed_gives_different_transactions(tx):
    other = simulate(SimulationParams(customers=300, terminals=600, days=40, seed=8))
    assert len(other) != len(tx) or not other["amount_minor"].equals(tx["amount_minor"])


def test_transactions_are_time_ordered_with_unique_ids(tx):
    assert tx["timestamp"].is_monotonic_increasing
    assert tx["transaction_id"].is_unique


def test_every_amount_is_positive_integer_minor_units(tx):
    assert tx["amount_minor"].dtype.kind == "i"
    assert (tx["amount_minor"] >= 0).all()


def test_scenario_one_marks_every_large_genuine_amount_as_fraud(tx):
    big = tx[(tx["amount_minor"] > 22_000) & (tx["fraud_scenario"] != 3)]
    assert (big["is_fraud"] == 1).all()


def test_compromised_terminal_frauds_stay_within_28_days_of_a_first_fraud(tx):
    s2 = tx[tx["fraud_scenario"] == 2]
    span = s2.groupby("terminal_id")["timestamp"].agg(lambda t: t.max() - t.min())
    # A terminal can be compromised twice, so allow overlapping windows but not gaps
    # longer than the whole simulation.
    assert (span <= pd.Timedelta(days=SMALL.days)).all()
    assert len(s2) > 0


def test_fraud_label_agrees_with_scenario(tx):
    assert ((tx["fraud_scenario"] > 0) == (tx["is_fraud"] == 1)).all()


def test_transactions_happen_at_terminals_near_the_customer():
    import numpy as np

    rng = np.random.default_rng(0)
    cust = nodes.customer_profiles(50, rng)
    term = nodes.terminal_profiles(400, rng)
    offsets, flat = nodes.terminals_within_radius(cust, term, 5.0)
    for c in range(50):
        ids = flat[offsets[c] : offsets[c + 1]]
        d = np.hypot(term.x[ids] - cust.x[c], term.y[ids] - cust.y[c])
        assert (d <= 5.0).all()


@pytest.mark.parametrize(
    "field,kwargs",
    [("customers", {"customers": -1}), ("days", {"days": 0}), ("start", {"start": "nope"})],
)
def test_bad_option_names_the_field(field, kwargs):
    with pytest.raises(InputError, match=field):
        SimulationParams(**kwargs)


# --- Day partitions and worlds at scale --------------------------------------------

def test_the_reference_world_reads_back_from_day_partitions_unchanged(tx, tmp_path):
    from pipelines.io import read_table
    from pipelines.simulate.pipeline import run

    out = tmp_path / "transactions.parquet"
    run(SMALL, out)
    assert len(list(out.glob("tx_date=*/*.parquet"))) == tx["timestamp"].dt.date.nunique()
    pd.testing.assert_frame_equal(read_table(out), tx)


def test_a_world_at_scale_keeps_the_reference_density_and_fraud_scenarios(tx):
    from pipelines.simulate import stream

    k = 4
    big = SimulationParams(customers=SMALL.customers * k, terminals=SMALL.terminals * k,
                           days=SMALL.days, seed=7, scale=k)
    days = list(stream.world_days(big))
    assert len(days) == SMALL.days
    scaled = pd.concat([d for _, d in days], ignore_index=True)
    per_customer_day = len(scaled) / big.customers / len(days)
    reference = len(tx) / SMALL.customers / SMALL.days
    assert per_customer_day == pytest.approx(reference, rel=0.1)
    assert scaled["transaction_id"].tolist() == list(range(len(scaled)))
    assert scaled["timestamp"].is_monotonic_increasing
    assert set(scaled["fraud_scenario"].unique()) == {0, 1, 2, 3}
    s3 = scaled[scaled["fraud_scenario"] == 3]
    assert s3["customer_id"].nunique() <= 3 * k * SMALL.days


def test_an_in_memory_world_refuses_a_scale(tx):
    with pytest.raises(InputError, match="scale"):
        simulate(SimulationParams(customers=30, terminals=60, days=2, scale=10))
