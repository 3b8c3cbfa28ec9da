"""Fresh fraud features: what one payment changes in its customer's and terminal's
online windows, as rows for the Feast push sources.

After each payment the windows of its customer and terminal are recomputed from their
event logs (`features.event_log`) as of the second after the entity's newest payment:
the earliest instant a later payment can have (payment times are whole seconds), so
the next payment of that customer is scored with windows that include this one. The
windows are those of the offline build (`features.windows` offsets), so the online
value equals the offline build's value for a transaction at that instant.

Only what needs no label is pushed: the customer counts and mean amounts, and the
terminal counts. The terminal fraud shares need labels that arrive LABEL_DELAY_DAYS
later; they live in their own view, refreshed by `smartpay features materialize`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from features.windows import (WINDOWS_DAYS, customer_columns, customer_offsets,
                              terminal_columns, terminal_offsets)

CUSTOMER_PUSH = "customer_spending_push"
TERMINAL_PUSH = "terminal_activity_push"
# (lo, hi) offsets of each entity's windows, in WINDOWS_DAYS order.
CUSTOMER_WINDOWS = tuple(customer_offsets(w) for w in WINDOWS_DAYS)
TERMINAL_WINDOWS = tuple(terminal_offsets(w) for w in WINDOWS_DAYS)
# How far back an entity's events matter (its widest window's lo): older ones go.
RETENTION_S = {"customer": max(lo for lo, _ in CUSTOMER_WINDOWS),
               "terminal": max(lo for lo, _ in TERMINAL_WINDOWS)}
WINDOWS = {"customer": CUSTOMER_WINDOWS, "terminal": TERMINAL_WINDOWS}
_MAX_TICKS = 999_999


@dataclass(frozen=True)
class Payment:
    """What a payment contributes to the windows: who, where, how much, when."""

    payment_id: str
    customer_id: int
    terminal_id: int
    amount_minor: int
    epoch_s: int


@dataclass(frozen=True)
class Windows:
    """An entity's windows as of `instant_s`: its newest event time, how many events
    its log keeps, and per window (WINDOWS_DAYS order) a count and an amount sum."""

    instant_s: int
    latest_s: int
    n_events: int
    counts: tuple[int, ...]
    sums_minor: tuple[int, ...]

    def same_values(self, other: "Windows") -> bool:
        return (self.counts, self.sums_minor) == (other.counts, other.sums_minor)


def pushed_at(w: Windows) -> datetime:
    """The event timestamp of a pushed row: the second before its instant (after a
    payment: the payment's second), plus one microsecond per logged event. Redis keeps
    a row only if it is newer than the one stored: a later instant always is; a
    payment that arrives late adds an event and so still gets through; a repeat adds
    none and is skipped."""
    ticks = min(w.n_events, _MAX_TICKS)
    return (datetime.fromtimestamp(w.instant_s - 1, timezone.utc)
            + timedelta(microseconds=ticks))


def customer_row(customer_id: int, w: Windows) -> dict:
    """The `customer_spending` row of one customer (mean amounts in major units)."""
    row: dict = {"customer_id": int(customer_id), "event_timestamp": pushed_at(w)}
    for days, n, total in zip(WINDOWS_DAYS, w.counts, w.sums_minor, strict=True):
        n_col, avg_col = customer_columns(days)
        row[n_col] = int(n)
        row[avg_col] = total / 100.0 / n if n else 0.0
    return row


def terminal_row(terminal_id: int, w: Windows) -> dict:
    """The `terminal_activity` row of one terminal (counts only, never fraud shares)."""
    row: dict = {"terminal_id": int(terminal_id), "event_timestamp": pushed_at(w)}
    for days, n in zip(WINDOWS_DAYS, w.counts, strict=True):
        row[terminal_columns(days)[0]] = int(n)
    return row


def views_of(store, source: str) -> list[str]:
    """The feature views a push source feeds (what `FeatureStore.push` looks up)."""
    return [fv.name for fv in feature_views_of(store, source)]


def feature_views_of(store, source: str) -> list:
    """The same views as Feast objects, for a writer that keeps them (a lookup by
    name deserializes the view and type-checks the call: ~0.5 ms a write)."""
    return [fv for fv in store.list_feature_views()
            if fv.stream_source is not None and fv.stream_source.name == source]


def write_rows(store, views: list, rows: list[dict]) -> None:
    """Write rows to the online store of the views a push source feeds: what
    `FeatureStore.push(..., to=PushMode.ONLINE)` does, minus its per-call registry
    listing (it deserializes every view and FeatureService again: 30 ms of a 32 ms
    push, measured), so callers resolve `views_of` (names) or `feature_views_of`
    (objects) once. Blocking: callers on an event loop run it in an executor.

    The rows go to the provider's `online_write_batch` as protos built here, not
    through `write_to_online_store`'s DataFrame -> Arrow -> proto conversion (pandas
    and pyarrow were a tenth of a payment's API CPU in benchmarks/profile_pay.py).
    That reaches the store's provider through `FeatureStore._get_provider`, a
    private method: where it is missing (a Feast upgrade) the public path is taken,
    and tests/features/test_fresh_write.py checks both paths store the same values."""
    provider = _provider(store)
    for view in views:
        if provider is None:
            _write_frame(store, view if isinstance(view, str) else view.name, rows)
        else:
            fv = (store.get_feature_view(view, allow_registry_cache=True)
                  if isinstance(view, str) else view)
            provider.online_write_batch(store.config, fv, _protos(fv, rows), progress=None)


def _provider(store):
    get = getattr(store, "_get_provider", None)
    provider = get() if callable(get) else None
    return provider if callable(getattr(provider, "online_write_batch", None)) else None


def _write_frame(store, view: str, rows: list[dict]) -> None:
    """The public path: a DataFrame through `write_to_online_store`."""
    import pandas as pd

    store.write_to_online_store(view, pd.DataFrame(rows))


def _protos(fv, rows: list[dict]) -> list[tuple]:
    """(entity key, {feature: value}, event time, created time) per row, typed by the
    view's schema, as the online stores' `online_write_batch` takes them."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.type_map import python_values_to_proto_values

    def column(field) -> list:
        return python_values_to_proto_values([r[field.name] for r in rows],
                                             field.dtype.to_value_type())

    keys = list(fv.entity_columns)
    key_values = [column(f) for f in keys]
    features = {f.name: column(f) for f in fv.features}
    names = [f.name for f in keys]
    return [(EntityKey(join_keys=names, entity_values=[v[i] for v in key_values]),
             {name: values[i] for name, values in features.items()},
             _datetime(row["event_timestamp"]), None)
            for i, row in enumerate(rows)]


def _datetime(ts) -> datetime:
    """A plain datetime (rows from a DataFrame carry pandas Timestamps, which the
    SQLite online store cannot bind)."""
    return ts.to_pydatetime() if hasattr(ts, "to_pydatetime") else ts
