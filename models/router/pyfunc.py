"""The router as a self-contained MLflow pyfunc: `mlflow models serve`, `mlflow.pyfunc`
and any process without our source can load it.

The model folder carries the VW model, its config, a signature and an input example,
pinned requirements, and the code it runs (`code/models/router`, from `code_paths`):
MLflow puts `code/` on `sys.path` when it loads the model.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import yaml

from models.router.config import WorldConfig
from models.router.policy import RouterPolicy

# The packages the router's code imports when it runs (numbers from this environment).
REQUIREMENTS = ("mlflow", "vowpalwabbit", "numpy", "pandas", "scipy", "pydantic",
                "pyyaml")
INPUT_EXAMPLE = pd.DataFrame([dict(
    card_network="visa", issuing_country="US", currency="USD", amount_minor=1_250,
    merchant_category="grocery", channel="ecommerce", hour=9)])
_ROOT = Path(__file__).resolve().parents[2]


class RouterModel(mlflow.pyfunc.PythonModel):
    """predict() gives each row's gateway, its propensity, the ranking and the
    probability of every eligible gateway (column `eligible_gateways` optional)."""

    def load_context(self, context) -> None:
        self.policy = policy_from_artifacts(Path(context.artifacts["router"]))

    def predict(self, context, model_input, params=None):
        out = []
        for row in model_input.to_dict("records"):
            eligible = row.pop("eligible_gateways", None)
            if eligible is None or (not isinstance(eligible, list | tuple)
                                    and pd.isna(eligible)):
                eligible = self.policy.eligible_for(row)
            d = self.policy.decide(row, list(eligible))
            out.append({"gateway": d.gateway, "probability": d.probability,
                        "ranking": d.ranking, "probabilities": d.probabilities})
        return out


def policy_from_artifacts(folder: Path) -> RouterPolicy:
    """A RouterPolicy from a folder written by `registry.write_artifacts`."""
    cfg = WorldConfig.model_validate(yaml.safe_load((folder / "config.yaml").read_text()))
    return RouterPolicy(cfg, (folder / "router.vw").read_bytes())


def requirements() -> list[str]:
    """Exact pins of what the model needs to run."""
    return [f"{name}=={version(name)}" for name in REQUIREMENTS]


def signature():
    """Input columns of a payment context (plus optional eligible gateways); output of
    the example's prediction."""
    from mlflow.models import infer_signature
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.schema import Array

    inputs = Schema([*(ColSpec(DataType.string, c) for c in (
        "card_network", "issuing_country", "currency", "merchant_category", "channel")),
        ColSpec(DataType.long, "amount_minor"), ColSpec(DataType.long, "hour"),
        ColSpec(Array(DataType.string), "eligible_gateways", required=False)])
    outputs = infer_signature(None, [{"gateway": "stripe", "probability": 0.5,
                                      "ranking": ["stripe"]}]).outputs
    return mlflow.models.ModelSignature(inputs=inputs, outputs=outputs)


# The files the router runs, relative to the repository root.
_CODE = ("models/__init__.py", "models/router", "smartpay/__init__.py",
         "smartpay/errors.py")


@contextmanager
def staged_code():
    """The router's packages (`models.router` and the `smartpay.errors` it raises),
    without caches, in temporary folders given to `code_paths`: the model carries
    exactly the code it runs."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory() as tmp:
        for rel in _CODE:
            src, dst = _ROOT / rel, Path(tmp) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=ignore)
            else:
                shutil.copy(src, dst)
        yield [str(Path(tmp) / "models"), str(Path(tmp) / "smartpay")]


def save(path: str, mlflow_model, folder: Path) -> None:
    """Write the pyfunc model of a router artifacts folder to `path`."""
    with staged_code() as code:
        mlflow.pyfunc.save_model(
            path, python_model=RouterModel(), artifacts={"router": str(folder)},
            code_paths=code, signature=signature(), input_example=INPUT_EXAMPLE,
            pip_requirements=requirements(), mlflow_model=mlflow_model)
    # MLflow copies `artifacts` through a throwaway artifact repository whose transfer
    # pool it never shuts down; the repository sits in a reference cycle, so its idle
    # threads would outlive the call until the next garbage collection. Collect now:
    # a collected pool's workers exit.
    gc.collect()
