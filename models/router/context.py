"""The payment context the router sees, its derived fields, segments and VW features.

One definition serves the vectorised replay (DataFrames) and the in-process policy
(one `PaymentContext` at a time); tests check both produce the same features.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.router.config import WorldConfig

NIGHT_HOURS, EVENING_HOURS = range(0, 6), range(18, 24)


class PaymentContext(BaseModel):
    """What is known about a payment when it is routed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    card_network: str
    issuing_country: str
    currency: str
    amount_minor: int = Field(ge=0)
    merchant_category: str
    channel: str
    hour: int = Field(default_factory=lambda: datetime.now(timezone.utc).hour, ge=0, le=23)
    risk_score: float = Field(0.0, ge=0, le=1)


def hour_band(hour: np.ndarray) -> np.ndarray:
    """night (0-5), day (6-17) or evening (18-23)."""
    return np.where(hour < 6, "night", np.where(hour >= 18, "evening", "day"))


def derive(df: pd.DataFrame, cfg: WorldConfig) -> pd.DataFrame:
    """Add hour_band, amount_usd, cross_border and segment to context columns."""
    out = df.copy()
    out["hour_band"] = hour_band(out["hour"].to_numpy())
    fx = out["currency"].map(cfg.fx_to_usd).fillna(1.0).to_numpy()
    out["amount_usd"] = out["amount_minor"].to_numpy() / 100.0 * fx
    home = out["issuing_country"].map(cfg.country_currency)
    out["cross_border"] = (home != out["currency"]).to_numpy()
    out["segment"] = segment_key(out, cfg.router.segment_by)
    return out


def derive_one(ctx: PaymentContext, cfg: WorldConfig) -> dict:
    """The scalar twin of `derive` for one payment."""
    row = ctx.model_dump()
    row["hour_band"] = "night" if ctx.hour < 6 else "evening" if ctx.hour >= 18 else "day"
    row["amount_usd"] = ctx.amount_minor / 100.0 * cfg.fx_to_usd.get(ctx.currency, 1.0)
    row["cross_border"] = cfg.country_currency.get(ctx.issuing_country) != ctx.currency
    row["segment"] = ":".join(str(row[d]) for d in cfg.router.segment_by)
    return row


def segment_key(df: pd.DataFrame, dims: list[str]) -> np.ndarray:
    """'visa:US:ecommerce'-style keys over the configured dimensions."""
    key = df[dims[0]].astype(str)
    for d in dims[1:]:
        key = key + ":" + df[d].astype(str)
    return key.to_numpy()


def _amount_bucket(amount_usd: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(np.log2(np.maximum(amount_usd, 1.0))), 0, 12).astype(int)


def shared_features(df: pd.DataFrame) -> np.ndarray:
    """VW 'shared' lines: categorical context in namespace s, numeric in x."""
    lamt = np.log10(np.maximum(df["amount_usd"].to_numpy(), 0.5))
    line = ("shared |s n=" + df["card_network"].astype(str) + " c=" + df["issuing_country"].astype(str)
            + " cur=" + df["currency"].astype(str) + " m=" + df["merchant_category"].astype(str)
            + " ch=" + df["channel"].astype(str) + " h=" + df["hour_band"].astype(str)
            + " seg=" + df["segment"].astype(str)
            + " a=" + pd.Series(_amount_bucket(df["amount_usd"].to_numpy()), index=df.index).astype(str)
            + np.where(df["cross_border"].to_numpy(), " xb", "")
            + " |x lamt:" + pd.Series(np.round(lamt, 3), index=df.index).astype(str)
            + " risk:" + df["risk_score"].round(3).astype(str))
    return line.to_numpy()


def shared_features_one(row: dict) -> str:
    """The scalar twin of `shared_features` (plain Python: serving calls it per payment)."""
    amount = row["amount_usd"]
    bucket = int(min(max(np.floor(np.log2(max(amount, 1.0))), 0), 12))
    lamt = float(np.round(np.log10(max(amount, 0.5)), 3))
    return (f"shared |s n={row['card_network']} c={row['issuing_country']} cur={row['currency']}"
            f" m={row['merchant_category']} ch={row['channel']} h={row['hour_band']}"
            f" seg={row['segment']} a={bucket}{' xb' if row['cross_border'] else ''}"
            f" |x lamt:{lamt} risk:{float(np.round(row['risk_score'], 3))}")
