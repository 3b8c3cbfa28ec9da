"""The fresh-feature write: the proto path (through the provider Feast keeps behind a
private accessor) and the public DataFrame path store the same values, and the public
path is taken when that accessor is gone (what a Feast upgrade could do)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import features.fresh as fresh
from features.fresh import CUSTOMER_PUSH, TERMINAL_PUSH, Windows, customer_row, \
    terminal_row, views_of, write_rows
from features.store import open_store
from pipelines.features.pipeline import apply
from smartpay.settings import get_settings
from tests.features.conftest import use_prod_feast

T = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def store(data_dir):
    apply(get_settings())
    return open_store(get_settings())


class _WithoutProvider:
    """A FeatureStore as a later Feast might expose it: no `_get_provider`."""

    def __init__(self, store) -> None:
        self._store = store

    def __getattr__(self, name):
        if name == "_get_provider":
            raise AttributeError(name)
        return getattr(self._store, name)


def _rows(offset: int) -> tuple[list[dict], list[dict]]:
    cust, term = [], []
    for i in range(5):
        w = Windows(instant_s=int((T + timedelta(seconds=i)).timestamp()), latest_s=0,
                    n_events=i + 1, counts=(i + offset, 2 * i + offset, 3 * i + offset),
                    sums_minor=(1234 * i + offset, 99 * i, 7 * i + 1))
        cust.append(customer_row(100 + i, w))
        term.append(terminal_row(200 + i, w))
    return cust, term


def _read(store, view: str, key: str, ids: range) -> list[dict]:
    names = [f"{view}:{f.name}" for f in store.get_feature_view(view).features]
    out = store.get_online_features(features=names,
                                    entity_rows=[{key: i} for i in ids]).to_dict()
    return [{k: out[k][j] for k in sorted(out)} for j in range(len(ids))]


def test_the_proto_path_is_taken_and_stores_what_the_public_path_stores(store, monkeypatch):
    assert fresh._provider(store) is not None  # fails once Feast drops the accessor
    assert fresh._provider(_WithoutProvider(store)) is None
    cust, term = _rows(offset=1)
    write_rows(store, views_of(store, CUSTOMER_PUSH), cust)  # by name
    write_rows(store, fresh.feature_views_of(store, TERMINAL_PUSH), term)  # kept objects
    fast = (_read(store, "customer_spending", "customer_id", range(100, 105)),
            _read(store, "terminal_activity", "terminal_id", range(200, 205)))

    public, real_write_frame = [], fresh._write_frame

    def recorded_write_frame(s, view, rows):  # the real fallback, its calls noted
        public.append(view)
        real_write_frame(s, view, rows)

    monkeypatch.setattr(fresh, "_write_frame", recorded_write_frame)
    slow_store = _WithoutProvider(store)
    cust2, term2 = _rows(offset=7)  # different values first, so the rewrite shows
    write_rows(slow_store, views_of(store, CUSTOMER_PUSH), cust2)
    write_rows(slow_store, views_of(store, TERMINAL_PUSH), term2)
    assert public == ["customer_spending", "terminal_activity"]
    assert _read(store, "customer_spending", "customer_id", range(100, 105)) != fast[0]
    write_rows(slow_store, views_of(store, CUSTOMER_PUSH), cust)
    write_rows(slow_store, fresh.feature_views_of(store, TERMINAL_PUSH), term)
    slow = (_read(store, "customer_spending", "customer_id", range(100, 105)),
            _read(store, "terminal_activity", "terminal_id", range(200, 205)))
    assert fast == slow
    assert fast[0][1]["cust_tx_count_1d"] == 2  # customer 101: i + offset
    assert fast[0][1]["cust_avg_amount_1d"] == pytest.approx(1235 / 100 / 2)
    assert fast[1][3]["term_tx_count_7d"] == 2 * 3 + 1


@pytest.mark.prod
def test_the_proto_path_writes_the_redis_online_store(data_dir, monkeypatch, prod_server):
    """The prod store (Redis online, PostgreSQL registry) takes the same protos; a
    row older than the stored one is skipped there, as a push's would be."""
    from smartpay.settings import reset_settings

    use_prod_feast(monkeypatch, prod_server, redis_db=13)
    try:
        apply(get_settings())
        store = open_store(get_settings())
        assert store.config.online_store.type == "redis"
        assert fresh._provider(store) is not None
        cust, _ = _rows(offset=1)
        write_rows(store, views_of(store, CUSTOMER_PUSH), cust)
        first = _read(store, "customer_spending", "customer_id", range(100, 105))
        assert [r["cust_tx_count_1d"] for r in first] == [1, 2, 3, 4, 5]
        older = [r | {"event_timestamp": r["event_timestamp"] - timedelta(hours=1),
                      "cust_tx_count_1d": 99} for r in cust]
        write_rows(store, views_of(store, CUSTOMER_PUSH), older)
        assert _read(store, "customer_spending", "customer_id", range(100, 105)) == first
    finally:
        reset_settings()
