"""Pure, vectorised steps of the transaction simulator.

Design (facts from the Reproducible ML for Credit Card Fraud Detection handbook):
customers and terminals uniform on a 100x100 grid; per customer mean spend U(5,100)
with spread half the mean and U(0,4) transactions a day (Poisson); time of day
~N(noon, 20000 s) kept inside the day; amounts N(mean, spread) with negatives redrawn
U(0, 2*mean); terminals within radius r of the customer. Fraud scenarios: (1) amount
> 220; (2) 2 terminals compromised a day, all their transactions for 28 days are fraud;
(3) 3 customers compromised a day, a third of their transactions for 14 days get
amount x5 and are fraud. The payment context (card, network, country, currency, MCC,
channel, device) is our own addition for the router.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

DAY_S = 86_400
NETWORKS = np.array(["visa", "mastercard", "amex", "discover"])
NETWORK_P = np.array([0.55, 0.33, 0.08, 0.04])
# Grid quadrants map to a country and its currency (customers and terminals alike).
COUNTRIES = np.array(["US", "GB", "DE", "CA"])
CURRENCIES = np.array(["USD", "GBP", "EUR", "CAD"])
MCCS = np.array(["grocery", "restaurants", "fuel", "electronics", "travel", "digital_goods"])
MCC_P = np.array([0.30, 0.22, 0.12, 0.14, 0.10, 0.12])
ECOM_SHARE = {"grocery": 0.1, "restaurants": 0.1, "fuel": 0.0, "electronics": 0.5,
              "travel": 0.7, "digital_goods": 1.0}


def customer_profiles(n: int, rng: np.random.Generator,
                      side: float = 100.0) -> pd.DataFrame:
    """Customer locations on a side x side grid, spending habits, cards and devices."""
    x, y = rng.uniform(0, side, n), rng.uniform(0, side, n)
    mean = rng.uniform(5, 100, n)
    return pd.DataFrame({
        "customer_id": np.arange(n, dtype=np.int64),
        "x": x, "y": y,
        "mean_amount": mean, "std_amount": mean / 2,
        "mean_nb_tx_per_day": rng.uniform(0, 4, n),
        "country_idx": _quadrant(x, y, side),
        "n_cards": rng.integers(1, 3, n),
    })


def terminal_profiles(n: int, rng: np.random.Generator,
                      side: float = 100.0) -> pd.DataFrame:
    """Terminal locations on a side x side grid with merchant category and channel."""
    x, y = rng.uniform(0, side, n), rng.uniform(0, side, n)
    mcc = rng.choice(len(MCCS), n, p=MCC_P)
    ecom_p = np.array([ECOM_SHARE[m] for m in MCCS])[mcc]
    return pd.DataFrame({
        "terminal_id": np.arange(n, dtype=np.int64), "x": x, "y": y,
        "country_idx": _quadrant(x, y, side), "mcc_idx": mcc,
        "is_ecom": rng.random(n) < ecom_p,
    })


def _quadrant(x: np.ndarray, y: np.ndarray, side: float = 100.0) -> np.ndarray:
    half = side / 2
    return (x >= half).astype(np.int64) + 2 * (y >= half).astype(np.int64)


def terminals_within_radius(
    customers: pd.DataFrame, terminals: pd.DataFrame, r: float
) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists of terminals within radius r of each customer: (offsets, indices)."""
    tree = cKDTree(terminals[["x", "y"]].to_numpy())
    lists = tree.query_ball_point(customers[["x", "y"]].to_numpy(), r=r)
    counts = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    flat = np.fromiter((t for v in lists for t in sorted(v)), dtype=np.int64,
                       count=int(offsets[-1]))
    return offsets, flat


def genuine_transactions(
    customers: pd.DataFrame, offsets: np.ndarray, flat: np.ndarray,
    n_days: int, rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw every customer's transactions for n_days (times in seconds from start)."""
    n_cust = len(customers)
    per_day = rng.poisson(np.repeat(customers["mean_nb_tx_per_day"].to_numpy(), n_days))
    cust = np.repeat(np.repeat(np.arange(n_cust), n_days), per_day)
    day = np.repeat(np.tile(np.arange(n_days), n_cust), per_day)
    tod = rng.normal(DAY_S / 2, 20_000, len(cust)).astype(np.int64)
    n_avail = np.diff(offsets)[cust]
    keep = (tod > 0) & (tod < DAY_S) & (n_avail > 0)
    cust, day, tod, n_avail = cust[keep], day[keep], tod[keep], n_avail[keep]
    mean = customers["mean_amount"].to_numpy()[cust]
    amount = rng.normal(mean, mean / 2)
    neg = amount < 0
    amount[neg] = rng.uniform(0, 2 * mean[neg])
    pick = (rng.random(len(cust)) * n_avail).astype(np.int64)
    terminal = flat[offsets[cust] + pick]
    return pd.DataFrame({
        "customer_id": cust.astype(np.int64), "terminal_id": terminal,
        "tx_time_s": day * DAY_S + tod, "tx_day": day.astype(np.int64),
        "amount": np.round(amount, 2),
    })


def add_frauds(
    tx: pd.DataFrame, n_customers: int, n_terminals: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Label the three fraud scenarios (later scenarios override earlier labels)."""
    tx = tx.copy()
    n_days = int(tx["tx_day"].max()) + 1 if len(tx) else 0
    scenario = np.where(tx["amount"].to_numpy() > 220, 1, 0).astype(np.int8)
    scenario[_compromised_terminal_mask(tx, n_terminals, n_days, rng)] = 2
    amount = tx["amount"].to_numpy().copy()
    hit = _compromised_customer_picks(tx, n_customers, n_days, rng)
    np.multiply.at(amount, hit, 5.0)
    scenario[hit] = 3
    tx["amount"] = np.round(amount, 2)
    tx["fraud_scenario"] = scenario
    tx["is_fraud"] = (scenario > 0).astype(np.int8)
    return tx


def _compromised_terminal_mask(tx, n_terminals, n_days, rng) -> np.ndarray:
    """Scenario 2: each day 2 terminals compromised for the next 28 days."""
    onset = np.zeros((n_days + 1, n_terminals), dtype=np.int32)
    for d in range(n_days):
        onset[d, rng.choice(n_terminals, 2, replace=False)] += 1
    cum = np.cumsum(onset, axis=0)
    active = cum.copy()
    if len(cum) > 28:
        active[28:] -= cum[:-28]
    return active[tx["tx_day"].to_numpy(), tx["terminal_id"].to_numpy()] > 0


def _compromised_customer_picks(tx, n_customers, n_days, rng) -> np.ndarray:
    """Scenario 3: each day 3 customers; a third of their next-14-day transactions."""
    order = np.lexsort((tx["tx_day"].to_numpy(), tx["customer_id"].to_numpy()))
    cust_sorted = tx["customer_id"].to_numpy()[order]
    day_sorted = tx["tx_day"].to_numpy()[order]
    key = cust_sorted * (n_days + 15) + day_sorted
    picks = []
    for d in range(n_days):
        for c in rng.choice(n_customers, 3, replace=False):
            lo = np.searchsorted(key, c * (n_days + 15) + d, "left")
            hi = np.searchsorted(key, c * (n_days + 15) + d + 14, "left")
            k = (hi - lo) // 3
            if k:
                picks.append(order[lo + rng.choice(hi - lo, k, replace=False)])
    return np.concatenate(picks) if picks else np.empty(0, dtype=np.int64)


def add_payment_context(
    tx: pd.DataFrame, customers: pd.DataFrame, terminals: pd.DataFrame,
    start: pd.Timestamp, rng: np.random.Generator,
) -> pd.DataFrame:
    """Attach ids, timestamp, card, network, country, currency, MCC, channel, device."""
    tx = tx.sort_values(["tx_time_s", "customer_id", "terminal_id"], kind="stable")
    tx = tx.reset_index(drop=True)
    n_cards = customers["n_cards"].to_numpy()[tx["customer_id"].to_numpy()]
    card_slot = (rng.random(len(tx)) * n_cards).astype(np.int64)
    card_id = tx["customer_id"].to_numpy() * 2 + card_slot
    net = _card_attribute(card_id, NETWORK_P)
    term = terminals.iloc[tx["terminal_id"].to_numpy()]
    cust_country = customers["country_idx"].to_numpy()[tx["customer_id"].to_numpy()]
    ecom = term["is_ecom"].to_numpy()
    device = np.where(ecom, "dev_" + (card_id // 2 * 3 + card_slot).astype(str), None)
    return pd.DataFrame({
        "transaction_id": np.arange(len(tx), dtype=np.int64),
        "timestamp": start + pd.to_timedelta(tx["tx_time_s"].to_numpy(), unit="s"),
        "customer_id": tx["customer_id"].to_numpy(),
        "terminal_id": tx["terminal_id"].to_numpy(),
        "card_id": card_id,
        "amount_minor": np.rint(tx["amount"].to_numpy() * 100).astype(np.int64),
        "currency": CURRENCIES[term["country_idx"].to_numpy()],
        "card_network": NETWORKS[net],
        "issuing_country": COUNTRIES[cust_country],
        "merchant_category": MCCS[term["mcc_idx"].to_numpy()],
        "channel": np.where(ecom, "ecommerce", "card_present"),
        "device_id": device,
        "is_fraud": tx["is_fraud"].to_numpy(),
        "fraud_scenario": tx["fraud_scenario"].to_numpy(),
    })


def _card_attribute(card_id: np.ndarray, p: np.ndarray) -> np.ndarray:
    """A stable categorical attribute per card, drawn from p by hashing the id."""
    u = ((card_id * 2654435761) % 2**32) / 2**32
    return np.searchsorted(np.cumsum(p), u, side="right").clip(0, len(p) - 1)


def summarise(tx: pd.DataFrame) -> dict[str, float | int]:
    """Totals to compare with the handbook's published run."""
    by = tx["fraud_scenario"].value_counts()
    return {
        "transactions": int(len(tx)),
        "frauds": int(tx["is_fraud"].sum()),
        "fraud_rate": float(tx["is_fraud"].mean()) if len(tx) else 0.0,
        **{f"scenario_{s}": int(by.get(s, 0)) for s in (1, 2, 3)},
    }
