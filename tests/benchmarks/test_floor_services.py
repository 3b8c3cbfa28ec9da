"""The floor services score with the API's fraud booster (in-process instances)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from benchmarks.floor_services import ConstantFloor, XGBoostFloor, load_model


def test_the_xgboost_floor_returns_the_tiny_boosters_probability(monkeypatch):
    monkeypatch.setenv("SMARTPAY_FLOOR_MODEL", "tiny")
    svc = XGBoostFloor()
    info = asyncio.run(svc.model())
    assert info == {"version": "tiny-test", "features": ["amount", "is_night",
                                                         "is_weekend"]}
    x = np.asarray([[250.0, 1.0, 0.0]], dtype=np.float32)
    want = float(svc.booster.inplace_predict(x)[0])
    assert asyncio.run(svc.score([250.0, 1.0, 0.0])) == pytest.approx(want)
    assert 0.0 <= want <= 1.0


def test_the_constant_floor_answers_without_a_model():
    assert asyncio.run(ConstantFloor().score([1.0, 2.0])) == 0.5


def test_an_unknown_floor_model_is_refused_by_name():
    with pytest.raises(ValueError, match="SMARTPAY_FLOOR_MODEL"):
        load_model("latest")
