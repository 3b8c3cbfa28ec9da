"""One typed settings tree for every SmartPay process, with three profiles.

`local` (default) runs embedded: SQLite, DuckDB and files under the data dir, gateways
on stand-ins that the harness starts and points us at. `prod` runs on real servers and
refuses to start with a default or missing secret (`Settings.check_production`).
`cluster` is `local` with the data and training steps on Spark (`SMARTPAY_SPARK_MASTER`).

The tree is nested by concern (`serving`, `gateways`, `rewards`, `rag`); every field is
an environment variable with the one prefix `SMARTPAY_` and `__` between levels, e.g.
`SMARTPAY_SERVING__RATE_LIMIT_PER_S=500` or `SMARTPAY_GATEWAYS__TIMEOUT_S=5`, or a line
in an ignored `.env`. Every file path is defined once, in `Paths`. Reading settings has
no side effects: no directory is created, no connection opened.
"""

from __future__ import annotations

import copy
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (BaseSettings, PydanticBaseSettingsSource,
                               SettingsConfigDict)

from smartpay.errors import SmartPayError

Profile = Literal["local", "prod", "cluster"]
Engine = Literal["pandas", "spark"]
# 32+ bytes, so HS256 libraries do not warn; public, so prod refuses it.
LOCAL_JWT_SECRET = "local-dev-secret-change-me-it-is-public"
LOCAL_STRIPE_KEY = "sk_test_local"

_PROD_DEFAULTS: dict[str, str] = {
    "redis_url": "redis://127.0.0.1:6379/0",
    "postgres_url": "postgresql+psycopg://postgres@127.0.0.1:5432/smartpay",
}


class SettingsError(SmartPayError):
    """A setting that makes the process unsafe or unable to start; names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


class ServingSettings(BaseModel):
    """The payment API: the review hold, auth, limits, background jobs, model factories."""

    # The fraud decision is the champion's own (its registered review and decline
    # thresholds). A payment sent to review is authorized and held; without an
    # operator's verdict within `review_hold_s` it gets `review_default` (card
    # authorizations lapse after about 7 days, so keep it well below that).
    review_hold_s: float = Field(default=86_400.0, gt=0, le=6 * 86_400)
    review_default: Literal["approve", "reject"] = "reject"
    # Token buckets sized to this 2-core box, which settles ~35-45 payments/s: one
    # merchant may use about all of it (40/s, 2 s of burst) but not queue work past
    # it; one address gets two merchants' worth (proxies carry several), and since
    # it is checked before auth, floods without a valid token are refused cheaply.
    rate_limit_per_s: float = 40.0  # per merchant (the token's merchant_id)
    rate_limit_burst: int = 80
    ip_rate_limit_per_s: float = 80.0  # per client address, with or without a token
    ip_rate_limit_burst: int = 160
    rate_limit_max_keys: int = 100_000  # buckets kept per kind (idle ones go first)
    jwt_algorithm: str = "HS256"  # RS256 with jwks_url in prod (e.g. Cognito)
    jwks_url: str = ""
    jwt_issuer: str = "smartpay-local"
    jwt_audience: str = "smartpay-api"
    event_retries: int = 3
    redis_prefix: str = "smartpay"  # keys and streams of cache and bus in prod
    idempotency_wait_s: float = 10.0  # how long a duplicate waits for the first
    idempotency_lease_s: float = 30.0  # a claim older than this was abandoned
    # Trace every API request (set with a BentoML tracing exporter, e.g. OTLP); off, the
    # request endpoints are left out of the ASGI tracing middleware.
    trace_requests: bool = False
    model_reload_s: float = 30.0  # how often services look for a new champion
    # How often the router's online-learned state is checkpointed to MLflow (0: never);
    # a restart carries on from the newest checkpoint of the served version.
    router_checkpoint_s: float = Field(default=60.0, ge=0)
    # The router's clock: wall time, or (on) a /route request's `tx_epoch_s`, so that a
    # simulated day can be replayed through a running server (`smartpay evaluate router
    # --through-api`). Its gateway statistics windows follow that clock; prod refuses it.
    router_event_time: bool = False
    # How often the router pushes the gateway statistics its outcomes changed to Feast
    # and re-reads every router process's through `routing_v1` (0: never; decisions
    # then read the router's own statistics). Needs `smartpay features apply`. A sync
    # of 80 segments x 5 gateways took 60-120 ms of a worker thread on this (busy) box,
    # SQLite store; in-process decide+learn p99 went from 3.2 to 4.6-4.7 ms with it.
    router_stats_sync_s: float = Field(default=5.0, ge=0)
    # The seed's 15-minute routing TTL, applied to what a decision is computed from:
    # shared statistics not refreshed for this long are not used (the router falls back
    # to its own). Each payment still gets its own sampled decision.
    router_stats_ttl_s: float = Field(default=900.0, gt=0)
    # How long a fraud check waits, under sustained traffic, for others to share its
    # call to the scorer (0 = always send at once; a quiet service never waits).
    # Measured 2026-12-03 on an idle 2-core box: 0 ms gives /fraud more closed-loop
    # capacity (583/s against 397/s, p50 22.6 vs 39.1 ms, twice). For /pay one demo
    # pair gave 47.0/s at 0 ms against 57.1/s at 5 ms, but identical code varied from
    # 48 to 53/s between runs, so that is unproven; 5 stays until a repeated /pay
    # comparison says otherwise.
    fraud_linger_ms: float = Field(default=5.0, ge=0)
    assistant: bool = True  # POST /chat through integrations.rag (loaded on first use)
    # Where the web app's Models page links to (the MLflow UI of the tracking store).
    mlflow_ui_url: str = "http://127.0.0.1:5000"

    # With a saved KB index (`smartpay kb build`, run by `make demo`) the assistant is
    # loaded while the API starts, so the first /chat answers at once; without one it
    # is built on the first /chat (a start-up never embeds the KB).
    assistant_warm_start: bool = True
    max_body_bytes: int = Field(default=65_536, gt=0)  # larger request bodies get 413
    reconcile_every_s: float = 60.0  # status sync of payments left pending
    # The periodic sync leaves payments changed this recently to their live request
    # (longer than a payment's gateway calls with their retries can take).
    sync_min_age_s: float = 60.0
    # A payment its gateway cannot find is concluded never charged only after this long
    # (real Stripe's search lags about a minute; a stand-in is consistent at once).
    consistency_window_s: float = 60.0
    outbox_poll_s: float = 0.5  # the relay also wakes at once after each commit
    # Push every payment's contribution to its customer's and terminal's online fraud
    # features (Feast push sources; needs `smartpay features apply`).
    fresh_features: bool = True
    # Factories (`module:function`) of the model backends the BentoML services load.
    fraud_backend: str = "serving.backends_real:champion_fraud"
    router_backend: str = "serving.backends_real:champion_router"
    # Where the payment API reaches the model services when each runs as its own
    # deployment (k8s, compose); empty: `bentoml serve` starts them beside the API.
    fraud_scorer_url: str = ""
    gateway_router_url: str = ""
    # Processes `bentoml serve` runs per service, each with its own event loop (read
    # when `serving.services` builds the services). More than one API worker needs
    # the prod profile: ledger, idempotency keys, rate limits, cache and the event
    # stream are shared only through PostgreSQL and Redis. More than one router
    # worker needs it too: an outcome reaching a worker that did not make the
    # decision is passed to the one that did over Redis (`serving.router_outcomes`).
    api_workers: int = Field(default=1, ge=1, le=64)
    fraud_workers: int = Field(default=1, ge=1, le=64)
    router_workers: int = Field(default=1, ge=1, le=64)
    # Versions a Bento serves (set by `smartpay bento build`, read by
    # serving.backends_pinned); empty outside a Bento.
    fraud_model_version: str = ""
    router_model_version: str = ""


class GatewaySettings(BaseModel):
    """Which gateways, where they are, their keys, and the one resilience policy."""

    enabled: list[str] = ["stripe", "amazon_pay", "solana"]
    # Resilience, shared by every gateway (one policy, one builder).
    timeout_s: float = 5.0
    retry_attempts: int = 2
    backoff_s: float = 0.05
    breaker_window: int = 20
    breaker_min_calls: int = 5
    breaker_failure_rate: float = 0.5
    breaker_open_s: float = 10.0
    # Stripe (the secret key is `Settings.stripe_api_key`).
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_secret: SecretStr | None = None
    # Amazon Pay v2.
    amazon_pay_public_key_id: str = ""
    amazon_pay_private_key_file: Path | None = None
    amazon_pay_region: str = "us"
    amazon_pay_environment: Literal["sandbox", "live"] = "sandbox"
    amazon_pay_endpoint: str = ""  # empty: the region's live endpoint
    # Solana (JSON-RPC node; stablecoin mint; custodial payer wallets).
    solana_rpc_url: str = ""
    solana_merchant_keypair_file: Path | None = None
    solana_escrow_keypair_file: Path | None = None
    solana_wallets_dir: Path | None = None
    solana_mint: str = ""  # stablecoin mint address; empty = SOL transfers
    solana_decimals: int = 6
    solana_lamports_per_minor: int = 50_000  # SOL mode only: a fixed quote
    solana_currency: str = "USD"
    # `module:function` giving sandbox behaviour (simulated buyers, on-ramps). Set only
    # by the stand-in harness; the prod profile refuses it.
    sandbox_hooks: str = ""


class RewardSettings(BaseModel):
    """SmartReward tokens: the mint, its authority's key file, amounts and escrow."""

    enabled: bool = True
    mint: str = ""
    authority_keypair_file: Path | None = None
    decimals: int = 6
    tokens_per_step: int = 1  # whole tokens minted ...
    step_major_units: int = 10  # ... per this many major units paid (1 per 10 USD)
    refund_window_s: float = 14 * 24 * 3600  # escrow time lock
    balance_ttl_s: float = 300.0
    release_every_s: float = 60.0  # the release job inside `serve`; 0 = off
    # Rewards are minted beside /pay, this many payments per chain transaction at most
    # (1 = one transaction each; the memo naming them caps it at 20).
    mint_batch_max: int = Field(20, ge=1, le=20)


class RagSettings(BaseModel):
    """Assistant overrides. Unset fields keep the defaults of
    `integrations.rag.config.RagConfig` and the profile's choices (see rag_config), so
    each default is written once, there."""

    kb_dir: Path | None = None
    embedder: Literal["minilm", "openai"] | None = None
    store: Literal["faiss", "opensearch"] | None = None
    cache: Literal["memory", "redis"] | None = None
    opensearch_url: str | None = None
    opensearch_index: str | None = None
    chat_model: str | None = None
    embedding_model: str | None = None
    top_k: int | None = None
    min_confidence: float | None = None
    torch_threads: int | None = None


class ReleaseSettings(BaseModel):
    """Which registry alias an environment serves and how a version gets there."""

    alias: str = "champion"  # `<model>@<alias>` is what serving loads
    # The alias a promotion into this environment takes its version from; empty when
    # only the promotion gate moves `alias` (the first environment).
    promote_from: str = ""
    approval_required: bool = False  # who, when and why are recorded on the version


ENVS_DIR = Path(__file__).parent / "envs"


def environment_file(name: str) -> Path:
    """The committed YAML of environment `name` (dev, staging, prod, ...)."""
    path = ENVS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in ENVS_DIR.glob("*.yaml")))
        raise SettingsError("SMARTPAY_ENV", f"unknown environment {name!r}; expected "
                            f"one of {known}")
    return path


def environment(name: str) -> dict:
    """The settings environment `name` sets (its YAML file, as data; a fresh copy)."""
    return copy.deepcopy(_parsed(environment_file(name)))


@lru_cache(maxsize=8)
def _parsed(path: Path) -> dict:
    # The files are committed with the code: parsed once (a third of a Settings() read).
    return yaml.safe_load(path.read_text()) or {}


def release_of(name: str) -> ReleaseSettings:
    """How environment `name` is released to (read from its file alone)."""
    return ReleaseSettings.model_validate(environment(name).get("release", {}))


class SparkSettings(BaseModel):
    """Memory and extra configuration of the Spark sessions SmartPay starts
    (`SMARTPAY_SPARK__DRIVER_MEMORY=8g`, ...). Memory is fixed when a session's JVM
    starts, so these apply to sessions `smartpay.spark` starts, not to one a caller
    (a notebook, a test) already runs."""

    # In local[N] mode the executors live in the driver JVM, so this heap is all the
    # memory Spark has; Spark's own default (1g) is too small for Feast's point-in-time
    # join plan. On a cluster it is the `smartpay` process's JVM only.
    driver_memory: str = "4g"
    # Heap of each executor on a cluster (ignored by local[N]); "" keeps the cluster's
    # spark-defaults.conf.
    executor_memory: str = ""
    # Any other `spark.*` entries, e.g. SMARTPAY_SPARK__CONF='{"spark.executor.cores": "4"}'.
    conf: dict[str, str] = Field(default_factory=dict)

    def session_conf(self) -> dict[str, str]:
        """The `spark.*` entries a new session is built with."""
        memory = {"spark.driver.memory": self.driver_memory,
                  "spark.executor.memory": self.executor_memory}
        return {**{k: v for k, v in memory.items() if v}, **self.conf}


class _EnvironmentFile(PydanticBaseSettingsSource):
    """Defaults from `smartpay/envs/<SMARTPAY_ENV>.yaml`, below variables and .env."""

    def get_field_value(self, field, field_name):  # unused: __call__ reads the file
        return None, field_name, False

    def __call__(self) -> dict:
        return environment(str(self.current_state.get("env") or "dev"))


class TrackingServerSettings(BaseModel):
    """`smartpay deploy tracking-server`: the team's MLflow server. Runs and models in
    PostgreSQL, artifacts in S3 proxied by the server (clients need no AWS keys; the
    server takes them from boto3's usual chain: variables, profile, instance role)."""

    backend_store_uri: str = ""  # empty: `postgres_url` with the database `mlflow`
    artifacts_destination: str = "s3://smartpay-mlflow/artifacts"
    s3_endpoint_url: str = ""  # an S3-compatible store; empty: AWS itself
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2


class AwsSettings(BaseModel):
    """Where SmartPay's AWS resources live (credentials come from boto3's own chain)."""

    region: str = "eu-west-1"
    # One endpoint for every AWS API (a stand-in such as moto's server); empty: AWS.
    endpoint_url: str = ""
    # `smartpay deploy fraud --target sagemaker`: where the package goes, what runs it.
    artifacts_bucket: str = "smartpay-models"
    sagemaker_role_arn: str = ""  # the execution role SageMaker assumes
    # Our inference image (models/deploy/Dockerfile) pushed to ECR; `serve` entrypoint.
    sagemaker_image_uri: str = ""
    sagemaker_instance_type: str = "ml.m5.large"
    sagemaker_min_instances: int = Field(default=1, ge=1)
    sagemaker_max_instances: int = Field(default=4, ge=1)
    # Target invocations per instance per minute for the autoscaling policy.
    sagemaker_invocations_per_instance: float = 600.0
    # The endpoint the SageMaker fraud backend invokes (`serving.backends_sagemaker`),
    # and where its runtime API is (empty: `endpoint_url`, else AWS).
    sagemaker_endpoint: str = "fraud-detector"
    sagemaker_runtime_url: str = ""


class Paths:
    """Every file the platform writes under the data dir, named once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    @property
    def ledger_db(self) -> Path:
        """Payments, idempotency keys, outbox, dead letters."""
        return self.root / "ledger" / "ledger.db"

    @property
    def rewards_db(self) -> Path:
        """The SmartReward book (its own SQLite file: one writer per file)."""
        return self.root / "ledger" / "rewards.db"

    @property
    def solana_db(self) -> Path:
        """The Solana gateway's book."""
        return self.root / "ledger" / "solana.db"

    @property
    def fresh_events_db(self) -> Path:
        """The recent payments per customer and terminal that fresh fraud features
        are computed from (local profile; Redis in prod), beside the online store."""
        return self.root / "feast" / "fresh_events.db"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow" / "mlflow.db"

    @property
    def secrets(self) -> Path:
        """Key files the local harness generates once and keeps (mode 600)."""
        return self.root / "secrets"

    @property
    def standins(self) -> Path:
        return self.root / "standins"

    @property
    def serve_log(self) -> Path:
        return self.root / "logs" / "serve.log"

    @property
    def kb_index(self) -> Path:
        return self.root / "kb" / "index"


class Settings(BaseSettings):
    """Everything configurable about a SmartPay process."""

    model_config = SettingsConfigDict(env_prefix="SMARTPAY_", env_nested_delimiter="__",
                                      env_file=".env", extra="ignore")

    profile: Profile = "local"
    # dev, staging or prod: picks `smartpay/envs/<env>.yaml`, whose values sit below
    # environment variables and .env (one file per environment, no code per name).
    env: str = "dev"
    data_dir: Path = Field(default=Path("data"), description="Local files root.")
    seed: int = 42

    # Servers used by the prod profile (ignored by `local`).
    redis_url: str = ""
    postgres_url: str = ""
    mlflow_tracking_uri: str = ""

    # Secrets: only from the environment or .env, never committed.
    jwt_secret: SecretStr = SecretStr(LOCAL_JWT_SECRET)
    stripe_api_key: SecretStr = SecretStr(LOCAL_STRIPE_KEY)
    openai_api_key: SecretStr | None = None

    # Data and training engine. `cluster` defaults to Spark at SMARTPAY_SPARK_MASTER
    # (a standalone, YARN or k8s master URL); other profiles to pandas on one machine.
    engine: Engine | None = None
    spark_master: str = "local[2]"
    spark: SparkSettings = SparkSettings()

    serving: ServingSettings = ServingSettings()
    gateways: GatewaySettings = GatewaySettings()
    rewards: RewardSettings = RewardSettings()
    rag: RagSettings = RagSettings()
    release: ReleaseSettings = ReleaseSettings()
    tracking: TrackingServerSettings = TrackingServerSettings()
    aws: AwsSettings = AwsSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        """Arguments, variables, .env, then the environment's file, then secrets."""
        return (init_settings, env_settings, dotenv_settings,
                _EnvironmentFile(settings_cls), file_secret_settings)

    def model_post_init(self, __context: object) -> None:
        """Fill prod server addresses that were not set explicitly; refuse worker
        counts whose state the profile cannot share."""
        if self.profile == "prod":
            for name, value in _PROD_DEFAULTS.items():
                if not getattr(self, name):
                    object.__setattr__(self, name, value)
            return
        for kind, shared in (("api", "the ledger, limits, cache and events"),
                             ("router", "the outcomes of its decisions")):
            n = getattr(self.serving, f"{kind}_workers")
            if n > 1:
                raise SettingsError(
                    f"SMARTPAY_SERVING__{kind.upper()}_WORKERS", f"{n} workers need the "
                    f"prod profile (PostgreSQL and Redis share {shared} between "
                    f"processes); the {self.profile} profile runs 1")

    @property
    def data_engine(self) -> Engine:
        """The engine pipeline steps run on unless a command says otherwise."""
        if self.engine is not None:
            return self.engine
        return "spark" if self.profile == "cluster" else "pandas"

    @property
    def data_path(self) -> Path:
        """Absolute data directory (not created here)."""
        return self.data_dir.expanduser().resolve()

    @cached_property
    def paths(self) -> Paths:
        return Paths(self.data_path)

    def path(self, *parts: str) -> Path:
        """A path under the data directory."""
        return self.data_path.joinpath(*parts)

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: a server in prod if set, else SQLite in the data dir."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.paths.mlflow_db}"

    @property
    def ledger_url(self) -> str:
        """PostgreSQL in prod; a SQLite file in the data dir locally."""
        return self.book_url("ledger_db")

    def book_url(self, book: Literal["ledger_db", "rewards_db", "solana_db"]) -> str:
        """Where a book lives: one PostgreSQL database for all of them in prod (each
        with its own Alembic version table); locally a SQLite file each, since SQLite
        lets one writer at a time into a file and the books write concurrently."""
        if self.profile == "prod":
            return self.postgres_url
        return f"sqlite:///{getattr(self.paths, book)}"

    def check_production(self) -> None:
        """Refuse to start prod on a default secret, a missing key file or a sandbox
        hook; the error names the first offending variable."""
        if self.profile != "prod":
            return
        for variable, problem in _production_problems(self):
            raise SettingsError(variable, problem)


def _production_problems(s: Settings):
    if s.serving.jwt_algorithm != "HS256" and not s.serving.jwks_url:
        yield ("SMARTPAY_SERVING__JWKS_URL", f"{s.serving.jwt_algorithm} tokens need "
               "the issuer's key set URL in prod (or set "
               "SMARTPAY_SERVING__JWT_ALGORITHM=HS256)")
    elif not s.serving.jwks_url and s.jwt_secret.get_secret_value() in ("", LOCAL_JWT_SECRET):
        yield ("SMARTPAY_JWT_SECRET", "the public local default is refused in prod; set "
               "a secret of 32+ characters, or SMARTPAY_SERVING__JWKS_URL for RS256")
    elif not s.serving.jwks_url and len(s.jwt_secret.get_secret_value()) < 32:
        yield "SMARTPAY_JWT_SECRET", "too short for HS256 in prod; use 32+ characters"
    if s.serving.router_event_time:
        yield ("SMARTPAY_SERVING__ROUTER_EVENT_TIME", "a request's own timestamp moving "
               "the router's clock is for replaying simulated days; unset it in prod")
    gw = s.gateways
    if gw.sandbox_hooks:
        yield ("SMARTPAY_GATEWAYS__SANDBOX_HOOKS", "sandbox behaviour is for the local "
               "harness only; unset it in prod")
    if "stripe" in gw.enabled and s.stripe_api_key.get_secret_value() in ("", LOCAL_STRIPE_KEY):
        yield "SMARTPAY_STRIPE_API_KEY", "the local placeholder key is refused in prod"
    files = []
    if "amazon_pay" in gw.enabled:
        files.append(("SMARTPAY_GATEWAYS__AMAZON_PAY_PRIVATE_KEY_FILE",
                      gw.amazon_pay_private_key_file))
    if "solana" in gw.enabled:
        files += [("SMARTPAY_GATEWAYS__SOLANA_MERCHANT_KEYPAIR_FILE",
                   gw.solana_merchant_keypair_file),
                  ("SMARTPAY_GATEWAYS__SOLANA_ESCROW_KEYPAIR_FILE",
                   gw.solana_escrow_keypair_file)]
    if s.rewards.enabled:
        files.append(("SMARTPAY_REWARDS__AUTHORITY_KEYPAIR_FILE",
                      s.rewards.authority_keypair_file))
    for variable, path in files:
        if path is None or not Path(path).is_file():
            yield variable, f"a key file is required in prod (got {path or 'nothing'})"
    if s.rewards.enabled and not s.rewards.mint:
        yield "SMARTPAY_REWARDS__MINT", "the SmartReward mint address is required in prod"
    if "solana" in gw.enabled and not gw.solana_rpc_url:
        yield "SMARTPAY_GATEWAYS__SOLANA_RPC_URL", "a Solana JSON-RPC URL is required"


def get_settings() -> Settings:
    """Read the settings from the environment (entry points call this once and pass
    the object down; nothing caches it process-wide)."""
    return Settings()


def reset_settings() -> None:
    """Kept for callers written when settings were cached; reading is always fresh."""
