"""One Bento per BentoML service, each pinned to the model versions it serves.

Pure: what a bentofile says, from the pins resolved by `smartpay bento build`. A Bento
never follows a registry alias: it names `models:/<name>/<version>` (immutable) in its
labels and loads exactly that version through `serving.backends_pinned`, so the image
that passed staging is the one that runs in prod. It carries everything read at run
time: code, model and Feast configs, the assistant's knowledge base, Alembic migrations,
the built web app.
"""

from __future__ import annotations

import re

FRAUD_MODEL, ROUTER_MODEL = "fraud-detector", "gateway-router"
# The PyTorch CPU build: the index that serves it under the plain version number.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# name -> (service import path, models it loads)
SERVICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "payment_api": ("serving.services:PaymentAPI", (FRAUD_MODEL, ROUTER_MODEL)),
    "fraud_scorer": ("serving.services:FraudScorer", (FRAUD_MODEL,)),
    "gateway_router": ("serving.services:GatewayRouter", (ROUTER_MODEL,)),
}

INCLUDE = [
    "smartpay/**/*.py",
    "smartpay/**/*.yaml",
    "cli/**/*.py",
    "pipelines/**/*.py",  # the image also runs the retraining jobs
    "models/**/*.py",
    "models/**/*.yaml",
    "features/**/*.py",
    "features/**/*.yaml",
    "features/.feastignore",
    "integrations/**/*.py",
    "integrations/**/*.md",
    "integrations/**/*.mako",
    "serving/**/*.py",
    "serving/ledger/alembic.ini",
    "serving/ledger/migrations/**/*",
    "serving/webapp/dist/**/*",
]
EXCLUDE = ["**/__pycache__", "**/*.pyc", "tests/", "data/", "web/", ".venv/"]

# Settings names (env) through which a Bento's services load their pinned versions.
_PIN_ENV = {
    FRAUD_MODEL: "SMARTPAY_SERVING__FRAUD_MODEL_VERSION",
    ROUTER_MODEL: "SMARTPAY_SERVING__ROUTER_MODEL_VERSION",
}
_BACKEND_ENV = {
    FRAUD_MODEL: (
        "SMARTPAY_SERVING__FRAUD_BACKEND",
        "serving.backends_pinned:pinned_fraud",
    ),
    ROUTER_MODEL: (
        "SMARTPAY_SERVING__ROUTER_BACKEND",
        "serving.backends_pinned:pinned_router",
    ),
}


def model_uri(model: str, version: str) -> str:
    """The immutable registry URI of one model version."""
    return f"models:/{model}/{version}"


def portable_requirements(lock: str) -> str:
    """The lock without local version labels (`torch==2.13.0+cpu` exists only on the
    disk it was installed from): the CPU build comes from the PyTorch CPU index, which
    serves it as `torch==2.13.0`."""
    return re.sub(
        r"^([A-Za-z0-9_.\-\[\],]+==[^\s+;#]+)\+[A-Za-z0-9_.]+",
        r"\1",
        lock,
        flags=re.MULTILINE,
    )


def lock_packages(lock: str) -> list[str]:
    """The pinned requirement lines of a lock file, portable (see above)."""
    lines = (
        line.split("#")[0].strip() for line in portable_requirements(lock).splitlines()
    )
    return [line for line in lines if line and not line.startswith("-")]


def bentofile(name: str, pins: dict[str, str], packages: list[str]) -> dict:
    """The bentofile of Bento `name` with its models pinned (`pins`: model -> version)
    and `packages` (exact pins) installed, the CPU torch from the PyTorch CPU index."""
    service, models = SERVICES[name]
    missing = [m for m in models if not pins.get(m)]
    if missing:
        raise ValueError(f"bento {name}: no version pinned for {', '.join(missing)}")
    envs = [{"name": "SMARTPAY_PROFILE", "value": "prod"}]
    for model in models:
        envs.append({"name": _PIN_ENV[model], "value": pins[model]})
        key, backend = _BACKEND_ENV[model]
        envs.append({"name": key, "value": backend})
    return {
        "service": service,
        "name": name,
        "labels": {"owner": "smartpay", **{m: model_uri(m, pins[m]) for m in models}},
        "include": INCLUDE,
        "exclude": EXCLUDE,
        "python": {
            "packages": packages,
            "lock_packages": False,
            "extra_index_url": [TORCH_CPU_INDEX],
        },
        "docker": {"python_version": "3.11", "system_packages": ["curl"]},
        "envs": envs,
    }
