"""The deployment files are valid for the tools that read them, and agree with each other.

Compose is checked by `docker compose config` (or Debian's `docker-compose`), which
needs no engine; every k8s manifest against its Kubernetes schema, offline
(`kubernetes-validate`); Prometheus and Alertmanager by their structure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click
import kubernetes_validate
import pytest
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
COMPOSE = INFRA / "docker-compose.prod.yml"
MANIFESTS = sorted((INFRA / "k8s").rglob("*.yaml"))
# What a deployment supplies from its environment (.env); placeholders here.
COMPOSE_ENV = {
    "POSTGRES_PASSWORD": "x",
    "SMARTPAY_SERVING_JWKS_URL": "https://idp/jwks",
    "SMARTPAY_STRIPE_API_KEY": "sk_x",
    "SMARTPAY_ALERT_SECRETS_DIR": "/secrets",
}
STATEFUL = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
}


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    if legacy := shutil.which("docker-compose"):
        return [legacy]
    reason = "no docker compose client (.ci/run installs Debian's docker-compose)"
    if os.environ.get("SMARTPAY_REQUIRE_PROD") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _documents() -> list[tuple[Path, dict]]:
    return [(p, d) for p in MANIFESTS for d in yaml.safe_load_all(p.read_text()) if d]


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["containers"] if "template" in spec else []


def test_docker_compose_accepts_the_prod_stack():
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE), "config", "-q"],
        env={**os.environ, **COMPOSE_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_start_without_the_database_password():
    env = {
        k: v
        for k, v in {**os.environ, **COMPOSE_ENV}.items()
        if k != "POSTGRES_PASSWORD"
    }
    result = subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "POSTGRES_PASSWORD" in result.stderr


def test_the_payment_api_starts_only_after_its_dependencies_are_healthy():
    services = _compose()["services"]
    gates = services["payment-api"]["depends_on"]
    for name in ("postgres", "redis", "fraud-scorer", "gateway-router"):
        assert gates[name] == {"condition": "service_healthy"}, name
    for name, service in services.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits on {dep}'s health"
    for model in ("fraud-scorer", "gateway-router"):
        assert services[model]["depends_on"]["feast-apply"] == {
            "condition": "service_completed_successfully"
        }
        assert services[model]["depends_on"]["mlflow"] == {
            "condition": "service_healthy"
        }


def test_the_stack_runs_an_mlflow_server_on_postgres_and_a_feast_job():
    services = _compose()["services"]
    command = " ".join(services["mlflow"]["command"])
    assert "mlflow server" in command and "postgresql+psycopg://" in command
    assert "--artifacts-destination=s3://" in command
    job = " ".join(services["feast-apply"]["command"])
    assert "features apply" in job and "features materialize" in job


def test_stateful_services_keep_their_data_on_named_volumes():
    compose = _compose()
    for service, path in STATEFUL.items():
        mounts = [v.split(":") for v in compose["services"][service]["volumes"]]
        named = [m for m in mounts if m[1] == path and m[0] in compose["volumes"]]
        assert named, f"{service} keeps {path} on no named volume"


def test_every_host_prometheus_scrapes_is_a_compose_service():
    services = _compose()["services"]
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    targets = [
        t
        for job in config["scrape_configs"]
        for sc in job["static_configs"]
        for t in sc["targets"]
    ]
    targets += [
        t
        for am in config["alerting"]["alertmanagers"]
        for sc in am["static_configs"]
        for t in sc["targets"]
    ]
    for target in targets:
        assert target.split(":")[0] in services, f"{target} is not a compose service"
    for model in ("fraud-scorer", "gateway-router"):
        assert f"{model}:3000" in targets


def test_every_alert_severity_reaches_a_receiver_with_somewhere_to_send_it():
    am = yaml.safe_load((INFRA / "alertmanager" / "alertmanager.yml").read_text())
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    receivers = {r["name"]: r for r in am["receivers"]}
    routes = am["route"]["routes"]
    for severity in {
        r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]
    }:
        hit = [
            r["receiver"]
            for r in routes
            if any(severity in m.split("=")[-1] for m in r["matchers"])
        ]
        assert hit, f"no route for severity {severity}"
        for name in hit:
            assert any(k.endswith("_configs") and v for k, v in receivers[name].items())
    critical = next(r for r in routes if r["matchers"] == ['severity="critical"'])
    assert "pagerduty_configs" in receivers[critical["receiver"]]
    assert am["route"]["receiver"] in receivers


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_k8s_manifest_is_valid_against_its_kubernetes_schema(path):
    version = kubernetes_validate.latest_version()
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_rejects_a_manifest_with_a_misspelled_field():
    doc = next(d for _, d in _documents() if d["kind"] == "Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {
        "httpGet": {"path": "/readyz", "port": 3000}
    }  # readinessProbe misspelled
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            doc, kubernetes_validate.latest_version(), strict=True
        )


def test_each_service_has_a_deployment_with_probes_resources_and_an_autoscaler():
    docs = [d for _, d in _documents()]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    scaled = {
        d["spec"]["scaleTargetRef"]["name"]
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert set(deployments) == {"payment-api", "fraud-scorer", "gateway-router"}
    assert scaled == set(deployments) == services
    for name, deployment in deployments.items():
        (container,) = _containers(deployment)
        assert {"readinessProbe", "livenessProbe", "resources"} <= set(container), name


def test_both_models_are_retrained_by_a_cronjob_that_never_overlaps_itself():
    jobs = [d for _, d in _documents() if d["kind"] == "CronJob"]
    commands = {" ".join(_containers(j)[0]["command"]) for j in jobs}
    assert commands == {
        "python -m cli.main retrain fraud",
        "python -m cli.main retrain router --window 7d",
    }
    assert all(j["spec"]["concurrencyPolicy"] == "Forbid" for j in jobs)
    from typer.testing import CliRunner

    from cli.main import app

    for command in commands:  # each is a command the CLI has, with options it takes
        res = CliRunner().invoke(app, [*command.split()[3:], "--help"])
        assert res.exit_code == 0, (command, res.output)


def test_every_secret_key_a_workload_references_is_in_the_secret_template():
    secret = next(d for _, d in _documents() if d["kind"] == "Secret")
    keys = set(secret["stringData"])
    for _, doc in _documents():
        for container in _containers(doc):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret["metadata"]["name"]
                    assert ref["key"] in keys, (doc["metadata"]["name"], ref["key"])


def test_bentoml_serve_accepts_the_args_of_every_container_plus_the_bento_path():
    """The image entrypoint runs `bentoml <args> $BENTO_PATH` for `serve` args."""
    from bentoml_cli.cli import cli

    compose = _compose()["services"]
    arg_lists = [
        c["args"] for _, d in _documents() for c in _containers(d) if "args" in c
    ]
    arg_lists += [
        s["command"] for s in compose.values() if s.get("command", [None])[0] == "serve"
    ]
    assert len(arg_lists) == 6
    for args in arg_lists:
        parent = cli.make_context("bentoml", list(args))
        serve = cli.get_command(parent, args[0])
        try:
            ctx = serve.make_context(
                args[0], [*args[1:], "/home/bentoml/bento"], parent=parent
            )
        except click.UsageError as exc:
            pytest.fail(f"bentoml {' '.join(args)} BENTO: {exc}")
        assert ctx.params["bento"] == "/home/bentoml/bento"
