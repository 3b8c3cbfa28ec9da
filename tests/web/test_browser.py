"""The web app in a real browser (Playwright driving Debian's headless Chromium) against
a real `bentoml serve` of the API and the stand-ins: sign in, see a payment made
through /pay appear live, hold it for review and approve it from the operators' queue,
open its detail and refund it, and prove merchant B's browser never shows merchant A's
payments. Screenshots of each page go to the test output (and to docs/screenshots
with SMARTPAY_SCREENSHOTS=docs)."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import TEST_BACKENDS, pay_body, token

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SMARTPAY_CHROMIUM", "/usr/bin/chromium")
DIST = REPO / "serving" / "webapp" / "dist" / "index.html"
STRIPE = "SMARTPAY_GATEWAYS__STRIPE_API_BASE"
STRIPE_PROXY = None  # the fault proxy in front of the Stripe stand-in (set by `served`)
CHAMPION = None  # the fraud-detector version `served` registered as champion
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _require(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("SMARTPAY_REQUIRE_PROD") == "1":
        pytest.fail(reason + "; under .ci/run a skipped browser test is a failure")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def served(tmp_path_factory, request):
    """The API (every payment held for review by the test fraud model), with Stripe
    behind a fault proxy the outage test opens; its URL."""
    _require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    _require(DIST.exists(), "the web app is not built (make web)")
    from harness.standins import running_standins
    from serving.launcher import running_service
    from tests.web.proxy import CuttableProxy

    data = tmp_path_factory.mktemp("web") / "data"
    tracking_uri = f"sqlite:///{data.parent / 'mlflow.db'}"
    global CHAMPION
    CHAMPION = _register_champion(tracking_uri, data.parent)
    _kb_index(Path(request.config.cache.mkdir("rag_kb_index")), data / "kb" / "index")
    env = {**TEST_BACKENDS, "PYTHONPATH": str(REPO),
           "SMARTPAY_SERVING__FRAUD_BACKEND": "tests.serving.backends:reviewing_fraud",
           "SMARTPAY_SERVING__RATE_LIMIT_PER_S": "10000",
           # Stripe (behind the fault proxy) and Solana: the fresh router prefers the
           # first eligible gateway, so Stripe carries the traffic the outage cuts
           "SMARTPAY_GATEWAYS__ENABLED": '["stripe", "solana"]',
           "SMARTPAY_MLFLOW_TRACKING_URI": tracking_uri}
    old = os.environ.get("SMARTPAY_DATA_DIR")
    os.environ["SMARTPAY_DATA_DIR"] = str(data)  # the tokens' secret is the local one
    try:
        with running_standins(data) as standins, \
                CuttableProxy(standins[STRIPE]) as stripe, \
                running_service(None, extra_env=standins | env | {STRIPE: stripe.url}) as url:
            global STRIPE_PROXY
            STRIPE_PROXY = stripe
            yield url
    finally:
        if old is None:
            os.environ.pop("SMARTPAY_DATA_DIR", None)
        else:
            os.environ["SMARTPAY_DATA_DIR"] = old


def _register_champion(tracking_uri: str, log_dir: Path) -> str:
    """The test booster as `fraud-detector@champion` in the served store, as training
    leaves one: its test AP on a fresh small simulated window, its thresholds, the
    gate's verdict, and a reference profile of its scores (the models page measures
    drift against it); its version."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import average_precision_score

    from models.fraud import drift, gate
    from models.fraud.registry import PROFILE_ARTIFACT, FraudRegistry
    from pipelines.simulate.pipeline import SimulationParams, simulate
    from tests.serving.backends import FEATURES, TinyFraud, register_tiny

    registry = FraudRegistry(tracking_uri)
    version = register_tiny(registry, review=0.0, decline=1.0)
    run_id = registry.run_of(version)
    test = simulate(SimulationParams(customers=100, terminals=200, days=5, seed=11))
    epoch = (test["timestamp"].astype("int64") // 10**9).to_numpy()
    rows = [{"amount_minor": int(a), "tx_epoch_s": int(t)}
            for a, t in zip(test["amount_minor"].to_numpy(), epoch)]
    scores = np.asarray([r["risk_score"] for r in TinyFraud().predict(rows)])
    ap = float(average_precision_score(test["is_fraud"].to_numpy(), scores))
    registry.log_batch(run_id, metrics={"xgboost_tuned.test_ap": ap,
                                        "threshold.review": 0.0, "threshold.decline": 1.0})
    registry.record_decision(version, gate.decide(ap, None, []).model_dump(),
                             log_dir / "gate_decisions.jsonl")
    registry.set_alias("champion", version)
    # the reference: card payments of 10-200 USD at the moment the tests pay at
    served = [{"amount_minor": int(a), "tx_epoch_s": 1_795_000_000}
              for a in np.linspace(1_000, 20_000, 200)]
    ref = np.asarray([r["risk_score"] for r in TinyFraud().predict(served)])
    frame = pd.DataFrame({f: np.zeros(len(ref)) for f in FEATURES})
    registry.client.log_dict(run_id, drift.profile(frame, FEATURES, ref),
                             PROFILE_ARTIFACT)
    return version


def _kb_index(cached: Path, into: Path) -> None:
    """The KB index, built once and kept in pytest's cache (the folder the assistant's
    tests keep it in), copied where the served assistant loads it: the first /chat
    then loads an index instead of embedding the whole KB (as after `make demo`)."""
    import json

    from integrations.rag.config import DEFAULT_KB_DIR
    from integrations.rag.index import KnowledgeIndex, kb_digest, read_kb

    docs = read_kb(DEFAULT_KB_DIR)
    meta = cached / "meta.json"
    if not (meta.exists() and json.loads(meta.read_text()).get("digest") == kb_digest(docs)):
        from integrations.rag.embeddings import MiniLMEmbedder

        KnowledgeIndex.build(docs, MiniLMEmbedder()).save(cached)
    shutil.copytree(cached, into)


@pytest.fixture(autouse=True)
def _proxy_connections_end_with_the_test():
    """The API keeps its connections to the Stripe proxy alive, one proxy thread each:
    cut them when a test ends, so no thread outlives the test that opened it."""
    yield
    if STRIPE_PROXY is not None:
        STRIPE_PROXY.cut()


def _warm(browser, url: str, tmp: Path) -> None:
    """One page through every kind of call the tests make, so the executor threads
    Playwright's event loop starts on first use belong to this fixture."""
    page = browser.new_page()
    page.goto(f"{url}/app/")
    page.get_by_label("token").fill(token("warm"))
    page.screenshot(path=str(tmp / "warm.png"))
    page.close()


@pytest.fixture(scope="module")
def browser(served, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    manager = sync_playwright()
    with manager as pw:
        # Playwright's loop hands file writes (screenshots) to its default executor,
        # whose threads start on first use: one thread, started here, so they are
        # this fixture's and not a test's
        manager._loop.set_default_executor(ThreadPoolExecutor(1, "playwright-io"))
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            _warm(b, served, tmp_path_factory.mktemp("warm"))
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _signed_in(browser, url: str, tok: str):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/app/")
    page.get_by_label("token").fill(tok)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("live").filter(has_text="live").wait_for(timeout=10_000)
    return page


def _pay(url: str, merchant: str, **over) -> dict:
    r = httpx.post(f"{url}/pay", json=pay_body(**over), timeout=30,
                   headers={"Authorization": f"Bearer {token(merchant)}",
                            "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 200, r.text
    return r.json()


def _shot(page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("SMARTPAY_SCREENSHOTS") == "docs":
        (REPO / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, REPO / "docs" / "screenshots" / path.name)


def test_a_payment_appears_live_is_approved_from_the_queue_then_refunded(served, browser,
                                                                        shots):
    merchant = _signed_in(browser, served, token("m-a"))
    ops = _signed_in(browser, served, token("ops", scopes=("admin",)))
    assert merchant.get_by_test_id("who").inner_text() == "merchant m-a"

    p = _pay(served, "m-a", amount_minor=4_200)
    t0 = time.monotonic()
    row = merchant.locator(f"tr[data-payment='{p['payment_id']}']")
    row.wait_for(timeout=5_000)
    seen_after = time.monotonic() - t0
    assert seen_after < 1.0, f"the payment showed after {seen_after:.2f} s"
    assert "review" in row.inner_text()
    _shot(merchant, shots, "payments")

    ops.get_by_role("button", name="Fraud", exact=True).click()
    held = ops.locator(f"tr[data-payment='{p['payment_id']}']")
    held.wait_for(timeout=5_000)
    _shot(ops, shots, "reviews")
    ops.get_by_label("review note").fill("buyer confirmed")
    held.get_by_role("button", name="Approve").click()
    held.wait_for(state="detached", timeout=10_000)

    merchant.locator(f"tr[data-payment='{p['payment_id']}'] .status").filter(
        has_text="captured").wait_for(timeout=5_000)
    row.click()
    detail = merchant.get_by_test_id("detail")
    detail.get_by_test_id("detail-status").filter(has_text="captured").wait_for()
    assert "capturing -> captured" in detail.inner_text()
    _shot(merchant, shots, "payment-detail")
    detail.get_by_label("refund amount").fill("1200")
    detail.get_by_role("button", name="Refund").click()
    detail.get_by_role("status").filter(has_text="12.00 USD refunded in all").wait_for(
        timeout=15_000)
    got = httpx.get(f"{served}/payments/{p['payment_id']}", timeout=10,
                    headers={"Authorization": f"Bearer {token('m-a')}"}).json()
    assert got["refunded_minor"] == 1_200 and got["status"] == "captured"


def test_merchant_b_never_sees_merchant_a_but_the_operator_sees_both(served, browser):
    b_page = _signed_in(browser, served, token("m-b"))
    ops = _signed_in(browser, served, token("ops", scopes=("admin",)))
    mine = _pay(served, "m-b", amount_minor=3_100)
    theirs = _pay(served, "m-a", amount_minor=5_300)
    b_page.locator(f"tr[data-payment='{mine['payment_id']}']").wait_for(timeout=5_000)
    ops.locator(f"tr[data-payment='{theirs['payment_id']}']").wait_for(timeout=5_000)
    ops.locator(f"tr[data-payment='{mine['payment_id']}']").wait_for(timeout=5_000)
    time.sleep(1.0)  # long enough for a leaked event to have arrived
    b_page.reload()
    b_page.get_by_test_id("live").filter(has_text="live").wait_for(timeout=10_000)
    b_page.locator(f"tr[data-payment='{mine['payment_id']}']").wait_for(timeout=5_000)
    merchants = b_page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert merchants and set(merchants) == {"m-b"}, merchants
    assert b_page.locator(f"tr[data-payment='{theirs['payment_id']}']").count() == 0


def test_a_bad_token_is_refused_with_the_apis_reason(served, browser):
    page = browser.new_page()
    page.goto(f"{served}/app/")
    page.get_by_label("token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    assert "JWT" in page.get_by_role("alert").inner_text()
    page.get_by_label("token").fill(token("m-a")[:-4] + "AAAA")  # bad signature
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="token").wait_for(timeout=5_000)


def test_the_gateway_chart_shows_an_outage_as_it_happens(served, browser, shots):
    ops = _signed_in(browser, served, token("ops", scopes=("admin",)))
    ops.get_by_role("button", name="Gateways").click()
    # in EUR only Stripe takes a card here (Solana settles USD): every one goes there
    for i in range(5):
        _pay(served, "m-c", amount_minor=2_000 + i, currency="EUR")
    rate = ops.get_by_test_id("rate-stripe")
    rate.filter(has_text="100.0 %").wait_for(timeout=5_000)
    line = ops.locator("[data-testid=chart-approval_rate] polyline[data-gateway=stripe]")
    before = line.get_attribute("points")

    STRIPE_PROXY.inject("5xx", times=10_000)  # Stripe answers 503 to everything
    try:
        for i in range(5):
            _pay(served, "m-c", amount_minor=3_000 + i, currency="EUR")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and rate.inner_text() == "100.0 %":
            time.sleep(0.1)  # the page polls the API every second
        assert float(rate.inner_text().rstrip(" %")) < 100.0
        ops.get_by_test_id("breaker-stripe").filter(has_text="open").wait_for(timeout=5_000)
        assert line.get_attribute("points") != before
        _shot(ops, shots, "gateways")
    finally:
        STRIPE_PROXY.clear()


def _approve(url: str, payment_id: str) -> None:
    r = httpx.post(f"{url}/payments/{payment_id}/review", timeout=30,
                   json={"verdict": "approve", "note": "test"},
                   headers={"Authorization":
                            f"Bearer {token('ops', scopes=('admin',))}"})
    assert r.status_code == 200, r.text


def _open(browser, url: str, tok: str, page_name: str):
    page = _signed_in(browser, url, tok)
    page.get_by_role("button", name=page_name, exact=True).click()
    return page


def test_the_fraud_page_counts_a_new_payment_in_its_histogram(served, browser, shots):
    page = _open(browser, served, token("m-fraud"), "Fraud")
    total = page.get_by_test_id("fraud-total")
    total.filter(has_text="0 scored").wait_for(timeout=5_000)
    _pay(served, "m-fraud", amount_minor=7_700)
    total.filter(has_text="1 scored").wait_for(timeout=5_000)
    bars = page.locator("[data-testid=histogram] rect")
    counts = bars.evaluate_all("rs => rs.map(r => Number(r.dataset.count))")
    assert sum(counts) == 1
    assert page.get_by_test_id("alerts").locator("tr[data-alert]").count() == 3
    assert page.locator("[data-testid=reviews]").count() == 0  # the queue is operators'
    ops = _open(browser, served, token("ops", scopes=("admin",)), "Fraud")
    ops.get_by_test_id("reviews").wait_for(timeout=5_000)
    ops.locator("[data-testid=histogram] rect").first.wait_for(timeout=5_000)
    _shot(ops, shots, "fraud")


def test_the_rewards_page_shows_a_users_reward_once_the_payment_is_captured(
        served, browser, shots):
    page = _open(browser, served, token("m-rew"), "Rewards")
    user = f"u-{uuid.uuid4().hex[:8]}"
    p = _pay(served, "m-rew", amount_minor=5_000, user_id=user)  # held for review
    _approve(served, p["payment_id"])  # captured: 50.00 USD earns 5 tokens in escrow
    # minting first (nothing in escrow yet), then 5 tokens escrowed
    page.get_by_test_id(f"escrow-{user}").filter(has_text=re.compile(r"^5$")).wait_for(
        timeout=20_000)
    assert page.locator("tr[data-user]").all_inner_texts()[0].startswith(user)
    assert page.locator(f"tr[data-payment='{p['payment_id']}']").count() == 1
    _shot(page, shots, "rewards")


def test_the_models_page_lists_the_champion_the_fixture_registered(served, browser,
                                                                   shots):
    from serving.modelsview import MIN_DRIFT_SCORES

    ops = {"Authorization": f"Bearer {token('ops', scopes=('admin',))}"}
    made = len(httpx.get(f"{served}/payments?limit=200", timeout=30, headers=ops).json())
    for i in range(max(0, MIN_DRIFT_SCORES - made)):  # enough served scores to compare
        _pay(served, "m-models", amount_minor=1_000 + 900 * i)
    page = _open(browser, served, token("ops", scopes=("admin",)), "Models")
    card = page.get_by_test_id("fraud-detector-champion")
    card.wait_for(timeout=20_000)
    text = card.inner_text()
    assert "PSI" in text  # served scores against its reference profile
    assert "promoted" in text and "no champion yet" in text  # the gate's verdict
    assert "xgboost_tuned.test_ap" in text
    link = card.get_by_role("link", name=f"version {CHAMPION}")
    assert link.get_attribute("href") == (
        f"http://127.0.0.1:5000/#/models/fraud-detector/versions/{CHAMPION}")
    page.locator("[data-model=gateway-router]").wait_for()
    _shot(page, shots, "models")
    r = httpx.get(f"{served}/admin/models", timeout=30,
                  headers={"Authorization": f"Bearer {token('m-a')}"})
    assert r.status_code == 403


def test_the_assistant_answers_with_a_citation(served, browser, shots):
    page = _open(browser, served, token("m-a"), "Assistant")
    assert page.get_by_role("button", name="Models").count() == 0  # operators' page
    page.get_by_label("question").fill("How do I refund a payment?")
    page.get_by_role("button", name="Ask").click()
    answer = page.get_by_test_id("answer")
    answer.wait_for(timeout=60_000)  # the first question loads the assistant
    assert answer.inner_text().strip()
    assert page.locator("[data-testid=sources] li").count() >= 1
    _shot(page, shots, "assistant")
