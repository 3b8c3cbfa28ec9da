"""Typed schema of the gateway world (YAML) and of the router's own options.

The world says, per gateway, how likely a payment is to be authorised in each
context, how long it takes and what it costs; the router section configures the
policies. `load_config()` reads the committed default; `load_config(world_path(name))`
another committed world; `load_config(path)` any file of the same schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from smartpay.errors import DataFileError, InputError

CONFIG_DIR = Path(__file__).parent / "config"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
# The committed worlds, by name: `default` (context barely matters) and `regional`
# (more gateways; category, amount and hour effects; faster drift; soft degradations).
WORLDS = ("default", "regional")
CONTEXT_DIMS = ("card_network", "issuing_country", "currency", "merchant_category",
                "channel", "hour_band")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fee(_Strict):
    """What the acquirer charges per successful payment: percent of amount + fixed."""

    percent: float = Field(ge=0, le=20)
    fixed_minor: int = Field(ge=0, description="Fixed part in minor units of the payment currency.")


class Latency(_Strict):
    """Log-normal response time: median in ms and log-space sigma."""

    median_ms: float = Field(gt=0)
    sigma: float = Field(ge=0, le=3)


class Drift(_Strict):
    """Slow sinusoidal drift of the success log-odds (non-stationarity)."""

    amplitude_logit: float = Field(0.0, ge=0, le=3)
    period_days: float = Field(10.0, gt=0)
    phase: float = 0.0


class Eligibility(_Strict):
    """Which payments a gateway can take (None = any)."""

    channels: list[str] | None = None
    currencies: list[str] | None = None
    max_amount_minor: int | None = None


class Gateway(_Strict):
    """One gateway: base authorisation rate, context effects (log-odds), fees, latency."""

    base_auth: float = Field(gt=0.0, lt=1.0)
    effects: dict[str, dict[str, float]] = Field(default_factory=dict)
    amount_slope: float = 0.0  # log-odds per decade of amount (USD), centred at 50 USD
    risk_slope: float = 0.0  # log-odds per unit of fraud risk score
    cross_border: float = 0.0  # log-odds added when issuer country != payment currency
    fee: Fee
    latency: Latency
    drift: Drift = Drift()
    eligible: Eligibility = Eligibility()

    @model_validator(mode="after")
    def _known_dims(self) -> "Gateway":
        for dim in self.effects:
            if dim not in CONTEXT_DIMS:
                raise ValueError(f"effects: unknown dimension {dim!r}, expected one of {CONTEXT_DIMS}")
        return self


class Outage(_Strict):
    """A window in which a gateway's success rate collapses, globally or for a segment."""

    gateway: str
    start_hour: float = Field(ge=0, description="Hours after the first payment.")
    duration_minutes: float = Field(gt=0)
    segment: dict[str, str] = Field(default_factory=dict)
    success_multiplier: float = Field(0.1, ge=0, le=1)
    latency_multiplier: float = Field(1.0, ge=1)
    decline_code: str = "91"


class DeclineCode(_Strict):
    """An issuer/acquirer response code; soft codes may be retried, hard ones not."""

    code: str
    reason: str
    kind: Literal["soft", "hard"]
    weight: float = Field(gt=0)


class Reward(_Strict):
    """Multi-objective reward = success - fee_weight*fee/amount - latency_weight*seconds."""

    fee_weight: float = Field(0.0, ge=0)
    latency_weight_per_s: float = Field(0.0, ge=0)


class Exploration(_Strict):
    """VW exploration: algorithm and its knobs, plus the router's own safety nets."""

    algorithm: Literal["epsilon", "squarecb", "softmax", "cover"] = "epsilon"
    epsilon: float = Field(0.05, ge=0, le=1)
    gamma_scale: float = Field(10.0, gt=0)
    lambda_: float = Field(10.0, gt=0, alias="lambda")
    cover: int = Field(3, ge=1)
    min_probability: float = Field(0.002, ge=0, le=0.2, description="Floor for every healthy eligible gateway.")


class Elimination(_Strict):
    """Take a gateway out of rotation when its recent success rate collapses."""

    window_minutes: int = Field(15, ge=1, le=1440)
    below: float = Field(0.6, ge=0, le=1)
    min_attempts: int = Field(5, ge=1)
    probe_probability: float = Field(0.005, ge=0, le=0.2)


class RouterOptions(_Strict):
    """The router's policies: segmenting, windows and VW settings."""

    segment_by: list[str] = ["card_network", "issuing_country", "channel"]
    vw_args: str = "-q gs -q gx"
    # A router trained offline from logs (`smartpay train router`) starts from many
    # examples and wants a smaller, faster-decaying learning rate than one learning
    # from scratch online; its registered model keeps these arguments when served.
    offline_vw_args: str | None = None
    cb_type: Literal["ips", "dr", "mtr", "dm"] = "mtr"
    exploration: Exploration = Exploration()
    elimination: Elimination = Elimination()
    sr_window: int = Field(200, ge=5)
    sr_hedge: float = Field(0.05, ge=0, le=1)
    thompson_discount: float = Field(0.999, gt=0, le=1)

    def for_offline(self) -> "RouterOptions":
        """These options with the offline VW arguments in force (if any are set)."""
        if self.offline_vw_args is None:
            return self
        return self.model_copy(update={"vw_args": self.offline_vw_args})


class WorldConfig(_Strict):
    """The whole YAML file: gateways, outages, decline codes, FX, reward, router."""

    seed: int = 7
    fx_to_usd: dict[str, float]
    country_currency: dict[str, str]
    gateways: dict[str, Gateway]
    outages: list[Outage] = Field(default_factory=list)
    decline_codes: list[DeclineCode]
    reward: Reward = Reward()
    router: RouterOptions = RouterOptions()

    @model_validator(mode="after")
    def _consistent(self) -> "WorldConfig":
        if len(self.gateways) < 2:
            raise ValueError("gateways: need at least two")
        for o in self.outages:
            if o.gateway not in self.gateways:
                raise ValueError(f"outages: unknown gateway {o.gateway!r}")
            for dim in o.segment:
                if dim not in CONTEXT_DIMS:
                    raise ValueError(f"outages.segment: unknown dimension {dim!r}")
        return self

    @property
    def gateway_names(self) -> list[str]:
        """Gateways in config order (the action order everywhere)."""
        return list(self.gateways)


def world_path(world: str) -> Path:
    """The YAML file of a committed world by name (see WORLDS)."""
    if world not in WORLDS:
        raise InputError("world", world, "one of " + ", ".join(WORLDS))
    return CONFIG_DIR / f"{world}.yaml"


def load_config(path: Path | str | None = None) -> WorldConfig:
    """Read and validate a world YAML; None means the committed default."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.exists():
        raise DataFileError(path, "does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DataFileError(path, f"is not valid YAML ({exc})") from None
    try:
        return WorldConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = "config." + ".".join(str(p) for p in err["loc"])
        raise InputError(field, err.get("input"), err["msg"]) from None
