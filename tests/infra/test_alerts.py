"""The alert rules parse, carry the seed's thresholds and watch metrics the API exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parents[2] / "infra" / "prometheus" / "alerts.yml"


def _rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


def test_the_seed_thresholds_are_alerted_on():
    rules = _rules()
    assert "> 0.01" in rules["SmartPayErrorRateAbove1Percent"]["expr"]
    assert rules["SmartPayLatencyAbove2s"]["expr"].strip().endswith("> 2")
    assert "> 0.05" in rules["SmartPayFailedPaymentsAbove5Percent"]["expr"]
    assert rules["SmartPayModelServiceDown"]["labels"]["severity"] == "critical"


def test_every_smartpay_metric_an_alert_uses_is_exported_by_the_api():
    from serving.observability import REGISTRY

    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"],
                "gauge": [""]}
    exported = {m.name + x for m in REGISTRY.collect() for x in suffixes[m.type]}
    used = {m for r in _rules().values() for m in re.findall(r"smartpay_\w+", r["expr"])}
    assert used and used <= exported, used - exported
