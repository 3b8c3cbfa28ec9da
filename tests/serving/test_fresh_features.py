"""Fresh fraud features: payments made through `/pay` update the Feast online features
of their customer and terminal, and the values agree with the offline build.

Local profile, the real serving path: the PaymentAPI composition in-process, the
FraudScorer reading `fraud_model_v1` from the Feast online store through
`models.fraud.serve.OnlineFraudModel` (its predictor records the feature rows it was
given and approves everything), the ledger's outbox, the relay, the bus subscriber and
Feast push sources.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from features.store import open_store
from features.windows import WINDOWS_DAYS, customer_columns, terminal_columns
from pipelines.features import nodes
from pipelines.features.pipeline import apply, build, materialize, seed_fresh
from pipelines.io import write_parquet_atomic
from pipelines.simulate.pipeline import SimulationParams, simulate
from serving.payments.views import created_event
from serving.schemas import PayRequest
from smartpay.settings import get_settings
from tests.serving.conftest import app_client, auth, pay_body

CUSTOMER = [c for w in WINDOWS_DAYS for c in customer_columns(w)]
TERMINAL = [terminal_columns(w)[0] for w in WINDOWS_DAYS]


class RecordingPredictor:
    """Approves every payment and keeps the feature rows it was asked to score."""

    version = "recording"
    thresholds = SimpleNamespace(review=0.99, decline=1.0)

    def __init__(self, features: list[str]) -> None:
        self.features, self.seen = features, []

    def predict_matrix(self, x: np.ndarray) -> list:
        self.seen += [dict(zip(self.features, row.tolist())) for row in x]
        return [(0.01, "approve", []) for _ in x]


def feast_recording_fraud():
    """The FraudScorer backend of these tests: Feast online features, recorded with
    the requests they were read for."""
    from models.fraud.serve import OnlineFraudModel

    class Recording(OnlineFraudModel):
        requests: list[dict] = []

        def predict(self, rows: list[dict]) -> list[dict]:
            self.requests = self.requests + rows
            return super().predict(rows)

    store = open_store(get_settings())
    service = store.get_feature_service("fraud_model_v1")
    names = [f.name for p in service.feature_view_projections for f in p.features]
    return Recording(RecordingPredictor(names), store)


@pytest.fixture
def fresh_env(serving_env):
    serving_env.setenv("SMARTPAY_SERVING__FRESH_FEATURES", "true")
    serving_env.setenv("SMARTPAY_SERVING__FRAUD_BACKEND",
                       f"{__name__}:feast_recording_fraud")
    return serving_env


def _start_world(history: pd.DataFrame) -> None:
    """features build, apply, materialize and the fresh-feature seed, on `history`."""
    settings = get_settings()
    raw = settings.path("raw", "transactions.parquet")
    write_parquet_atomic(history, raw)
    build(settings, raw, validate=False)
    apply(settings)
    materialize(settings)
    seed_fresh(settings, raw)


def _pay(client, **tx) -> dict:
    r = client.post("/pay", json=pay_body(**tx), headers=auth(key=uuid.uuid4().hex))
    assert r.status_code == 200, r.text
    return r.json()


def _settle_events(client) -> None:
    """Wait until every committed event went through the bus's subscribers."""
    rt = client.app.state.rt
    assert client.portal.call(rt.relay.drain)
    client.portal.call(rt.bus.drain)


def _online(keys: pd.Series, features: list[str], view: str) -> pd.DataFrame:
    got = open_store(get_settings()).get_online_features(
        features=[f"{view}:{f}" for f in features],
        entity_rows=[{keys.name: int(k)} for k in keys]).to_dict()
    return pd.DataFrame(got)


def _scored(scorer) -> list[dict]:
    return scorer.model.current.predictor.seen


def _scored_by_request(scorer) -> pd.DataFrame:
    """What each scored request was scored with, keyed by customer, terminal, time."""
    backend = scorer.model.current
    keys = pd.DataFrame(backend.requests)[["customer_id", "terminal_id", "tx_epoch_s"]]
    return pd.concat([keys, pd.DataFrame(backend.predictor.seen)], axis=1)


def _offline_rows(seen: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    """The offline build's row of each scored transaction (customer and terminal)."""
    at = pd.to_datetime(scored["tx_epoch_s"], unit="s")
    cust = nodes.customer_spending(seen)
    term = nodes.terminal_risk(seen)
    out = scored[["customer_id", "terminal_id"]].assign(event_timestamp=at)
    out = out.merge(cust, on=["customer_id", "event_timestamp"], how="left")
    return out.merge(term[["terminal_id", "event_timestamp", *TERMINAL]],
                     on=["terminal_id", "event_timestamp"], how="left")


def test_online_features_after_a_replay_equal_the_offline_build_at_the_same_instant(
        fresh_env):
    from serving.services import FraudScorer

    world = simulate(SimulationParams(customers=60, terminals=80, days=45, seed=5))
    cut = world["timestamp"].quantile(0.9)
    history, replay = world[world["timestamp"] < cut], world[world["timestamp"] >= cut]
    _start_world(history)
    scorer = FraudScorer()
    with app_client(scorer=scorer) as client:
        for tx in replay.head(150).itertuples():
            _pay(client, customer_id=int(tx.customer_id), terminal_id=int(tx.terminal_id),
                 card_id=int(tx.card_id), amount_minor=int(tx.amount_minor),
                 tx_epoch_s=int(tx.timestamp.timestamp()))
            _settle_events(client)
        assert client.portal.call(client.app.state.rt.bus.dlq) == []
    seen = pd.concat([history, replay.head(150)])
    customers, terminals = nodes.latest_windows(seen)
    online_c = _online(customers["customer_id"], CUSTOMER, "customer_spending")
    online_t = _online(terminals["terminal_id"], TERMINAL, "terminal_activity")
    assert len(online_c) == len(customers) > 20 and len(online_t) == len(terminals) > 20
    for col in CUSTOMER:
        np.testing.assert_allclose(online_c[col].to_numpy(float),
                                   customers[col].to_numpy(float), rtol=1e-9, err_msg=col)
    for col in TERMINAL:
        np.testing.assert_array_equal(online_t[col].to_numpy(), terminals[col].to_numpy(),
                                      err_msg=col)
    # and each payment was scored with the offline build's row of its transaction
    scored = _scored_by_request(scorer)
    assert len(scored) >= 140  # the risk cache answers a repeat within the hour
    offline = _offline_rows(seen, scored)
    for col in CUSTOMER + TERMINAL:  # the model's input is float32
        np.testing.assert_allclose(scored[col].to_numpy(float),
                                   offline[col].to_numpy(float), rtol=1e-6, err_msg=col)


def test_the_next_payment_of_a_customer_is_scored_with_the_previous_one(fresh_env):
    from serving.services import FraudScorer

    _start_world(simulate(SimulationParams(customers=40, terminals=60, days=20, seed=5)))
    t0, new = 1_795_000_000, {"customer_id": 900_001, "terminal_id": 900_002,
                              "card_id": 900_003}
    scorer = FraudScorer()
    with app_client(scorer=scorer) as client:
        _pay(client, amount_minor=1_000, tx_epoch_s=t0, **new)
        _settle_events(client)
        _pay(client, amount_minor=3_000, tx_epoch_s=t0 + 60, **new)
        _settle_events(client)
        _pay(client, amount_minor=2_000, tx_epoch_s=t0 + 120, **new)
        _settle_events(client)
        _pay(client, amount_minor=4_000, tx_epoch_s=t0 + 2 * 86_400, **new)
        _settle_events(client)
        _pay(client, amount_minor=4_000, tx_epoch_s=t0 + 8 * 86_400, **new)
    first, second, third, later, week = _scored(scorer)
    # a customer nobody has seen gets what a first transaction gets offline
    assert first["cust_tx_count_30d"] == 0 and first["cust_avg_amount_30d"] == 0.0
    assert second["cust_tx_count_1d"] == 1 and second["cust_avg_amount_1d"] == 10.0
    assert third["cust_tx_count_30d"] == 2 and third["cust_avg_amount_30d"] == 20.0
    # two days on, the three payments have left the one-day window, not the others
    assert later["cust_tx_count_1d"] == 0 and later["cust_tx_count_7d"] == 3
    # the terminal's counts end 7 days back: a payment enters them a week later. Eight
    # days on, the 1-day one holds (t0, t0 + 1 day]: the second and third payments
    assert third["term_tx_count_30d"] == 0 and later["term_tx_count_30d"] == 0
    assert week["term_tx_count_1d"] == 2 and week["term_tx_count_30d"] == 3


def test_a_replayed_event_counts_its_payment_once(fresh_env):
    from serving.services import FraudScorer

    _start_world(simulate(SimulationParams(customers=40, terminals=60, days=20, seed=5)))
    scorer = FraudScorer()
    with app_client(scorer=scorer) as client:
        paid = _pay(client, customer_id=900_011, terminal_id=900_012, card_id=900_013,
                    amount_minor=1_000, tx_epoch_s=1_795_000_000)
        _settle_events(client)
        rt = client.app.state.rt
        again = created_event(paid["payment_id"], "m1", PayRequest(**pay_body(
            customer_id=900_011, terminal_id=900_012, card_id=900_013,
            amount_minor=1_000, tx_epoch_s=1_795_000_000)))
        # the same payment announced again under another event id (the bus's own
        # dedupe by event id cannot catch it): the log still counts it once
        client.portal.call(rt.bus.publish, again.model_copy(update={"id": "replayed"}))
        client.portal.call(rt.bus.drain)
        assert client.portal.call(rt.bus.dlq) == []
    online = _online(pd.Series([900_011], name="customer_id"), CUSTOMER,
                     "customer_spending")
    assert online["cust_tx_count_30d"].tolist() == [1]


def test_payments_go_through_while_the_feast_registry_has_no_push_sources(
        serving_env):
    serving_env.setenv("SMARTPAY_SERVING__FRESH_FEATURES", "true")  # nothing applied
    with app_client() as client:
        paid = _pay(client, amount_minor=1_500, tx_epoch_s=1_795_000_000)
        _settle_events(client)
        assert paid["status"] == "captured"
        assert client.portal.call(client.app.state.rt.bus.dlq) == []
