"""The chaos benchmark's judgement (answers, ledger and gateway compared) and the
localstripe restart it relies on."""

from __future__ import annotations

import stripe

from benchmarks import _chaos_audit as ca
from harness.localstripe import start_localstripe, stop_localstripe
from harness.server import free_port


def _row(pid: str, key: str, status: str = "captured", gateway: str = "stripe") -> dict:
    return {"id": pid, "idem_key": key, "status": status, "gateway": gateway}


def test_answers_are_named_by_payment_status_or_http_error_code():
    assert ca.answer_kind(200, b'{"status": "captured"}') == "captured"
    assert ca.answer_kind(503, b'{"error": "fraud_scorer_unavailable"}') == (
        "503 fraud_scorer_unavailable")
    assert ca.answer_kind(0, b"connection lost") == "connection_error"
    assert ca.answer_kind(500, b"Internal Server Error") == "500"


def test_a_client_retries_server_errors_and_keys_in_progress_but_not_conflicts():
    assert ca.retryable(503, b"{}") and ca.retryable(0, b"")
    assert ca.retryable(409, b'{"error": "idempotency_in_progress"}')
    assert not ca.retryable(409, b'{"error": "idempotency_conflict"}')
    assert not ca.retryable(422, b"{}")


def test_the_final_share_counts_pending_and_errors_as_not_final():
    answers = [ca.Answer("k1", "captured", "captured"),
               ca.Answer("k2", "pending", "pending"),
               ca.Answer("k3", "503 x", "declined"),
               ca.Answer("k4", "failed", "failed")]
    t = ca.tallies(answers)
    assert t["first_final_pct"] == 50.0 and t["last_final_pct"] == 75.0
    assert t["first_answers"]["503 x"] == 1


def _answers(*pairs: tuple[str, str]) -> list[ca.Answer]:
    return [ca.Answer(key, last, last) for key, last in pairs]


def test_a_clean_run_passes_every_line():
    rows = [_row("p1", "k1"), _row("p2", "k2", "declined", None)]
    answers = _answers(("k1", "captured"), ("k2", "declined"))
    found = ca.audit(answers, rows, rows, {"p1": 1}, {"k1": "p1", "k2": "p2"})
    assert found.lost() == 0 and found.double() == 0
    assert all(ok for _, _, ok in ca.acceptance(ca.tallies(answers), found, problems=0))


def test_a_payment_captured_twice_at_the_gateway_is_a_double_charge():
    rows = [_row("p1", "k1")]
    found = ca.audit(_answers(("k1", "captured")), rows, rows, {"p1": 2}, {"k1": "p1"})
    assert found.double_charged == ["k1"] and found.double() == 1


def test_two_payments_under_one_key_are_a_double_charge():
    rows = [_row("p1", "k1"), _row("p2", "k1")]
    found = ca.audit(_answers(("k1", "captured")), rows, rows, {"p1": 1, "p2": 1},
                     {"k1": "p1"})
    assert found.several == ["k1"] and found.double() == 1


def test_a_charge_at_two_gateways_found_by_reconciliation_is_a_double_charge():
    rows = [_row("p1", "k1", gateway="solana")]
    problems = ["p1: charged 2 times (stripe pi_1, solana sig)"]
    found = ca.audit(_answers(("k1", "captured")), rows, rows, {"p1": 1}, {"k1": "p1"},
                     problems)
    assert found.double_charged == ["k1"] and found.lost() == 0


def test_a_final_answer_the_ledger_does_not_hold_is_a_lost_payment():
    answers = _answers(("k1", "captured"), ("k2", "pending"), ("k3", "captured"),
                       ("k4", "failed"))
    settled = [_row("p2", "k2", "pending"), _row("p3", "k3"), _row("p4", "k4")]
    final = settled + [_row("p1", "k1")]
    found = ca.audit(answers, settled, final, {"p3": 1, "p4": 0, "p1": 1},
                     {"k1": "p1", "k2": "p2", "k3": "p9", "k4": "p4"})
    assert found.answered_unrecorded == ["k1"] and found.unsettled == ["k2"]
    assert found.replay_mismatch == ["k3"]
    assert found.answer_disagrees == ["k4"]  # answered failed, the ledger captured it
    assert found.lost() == 4


def test_a_request_refused_before_anything_was_written_is_not_lost():
    refused = "503 fraud_scorer_unavailable"
    answers = [ca.Answer("k1", refused, refused)]
    found = ca.audit(answers, [], [_row("p1", "k1")], {"p1": 1}, {"k1": "p1"})
    assert found.unanswered_unrecorded == ["k1"] and found.lost() == 0


def test_money_taken_for_a_payment_the_ledger_calls_failed_is_lost():
    rows = [_row("p1", "k1", "failed")]
    found = ca.audit(_answers(("k1", "failed")), rows, rows, {"p1": 1}, {"k1": "p1"})
    assert found.charged_not_recorded == ["k1"] and found.lost() == 1


def test_a_capture_in_the_ledger_with_no_charge_at_localstripe_is_lost():
    rows = [_row("p1", "k1")]
    found = ca.audit(_answers(("k1", "captured")), rows, rows, {}, {"k1": "p1"})
    assert found.recorded_not_charged == ["k1"]
    other = [_row("p1", "k1", gateway="solana")]
    found = ca.audit(_answers(("k1", "captured")), other, other, {}, {"k1": "p1"})
    assert found.lost() == 0


def test_a_run_below_the_final_share_fails_its_line():
    t = {"last_final_pct": 99.5}
    lines = ca.acceptance(t, ca.Audit(), problems=0)
    assert [ok for _, _, ok in lines] == [False, True, True, True]


def _intent(client: stripe.StripeClient, key: str) -> stripe.PaymentIntent:
    return client.payment_intents.create(
        {"amount": 1234, "currency": "usd", "payment_method": "pm_card_visa",
         "confirm": True, "metadata": {"payment_id": "pay_x-1"},
         "payment_method_types": ["card"]}, {"idempotency_key": key})


def test_a_restarted_localstripe_keeps_its_charges_and_its_idempotent_answers(tmp_path):
    port, state = free_port(), tmp_path / "localstripe.pickle"
    client = stripe.StripeClient("sk_test_chaos",
                                 base_addresses={"api": f"http://127.0.0.1:{port}"})
    proc = start_localstripe(port, state)
    try:
        first = _intent(client, "key-1")
    finally:
        stop_localstripe(proc)
    assert state.is_file()
    proc = start_localstripe(port, state)
    try:
        again = _intent(client, "key-1")  # a retry after the restart: no new charge
        assert again.id == first.id
        assert client.payment_intents.retrieve(first.id).status == "succeeded"
        assert ca.stripe_charges(f"http://127.0.0.1:{port}", "sk_test_chaos") == {
            "pay_x": 1}
    finally:
        stop_localstripe(proc)


def test_without_a_state_file_a_restarted_localstripe_starts_empty():
    port = free_port()
    client = stripe.StripeClient("sk_test_chaos",
                                 base_addresses={"api": f"http://127.0.0.1:{port}"})
    proc = start_localstripe(port)
    try:
        _intent(client, "key-1")
    finally:
        stop_localstripe(proc)
    proc = start_localstripe(port)
    try:
        assert ca.stripe_charges(f"http://127.0.0.1:{port}", "sk_test_chaos") == {}
    finally:
        stop_localstripe(proc)


def test_the_timeline_counts_not_final_first_answers_per_window_of_sending():
    answers = [ca.Answer("a", "captured", "captured", first_ms=10, sent_s=0.5),
               ca.Answer("b", "503 x", "captured", first_ms=900, sent_s=5.2),
               ca.Answer("c", "pending", "pending", first_ms=30, sent_s=6.0)]
    rows = ca.timeline(answers, bucket_s=5.0)
    assert [(r["from_s"], r["n"], r["not_final"]) for r in rows] == [(0.0, 1, 0),
                                                                     (5.0, 2, 2)]
    assert rows[1]["p99_ms"] == 900


def test_localstripe_finds_a_payment_intent_by_our_payment_id(tmp_path):
    port = free_port()
    client = stripe.StripeClient("sk_test_chaos",
                                 base_addresses={"api": f"http://127.0.0.1:{port}"})
    proc = start_localstripe(port)
    try:
        made = _intent(client, "key-1")
        query = "metadata['payment_id']:'pay_x-1'"
        found = client.payment_intents.search({"query": query})
        assert [i.id for i in found.data] == [made.id]
        other = client.payment_intents.search({"query": "metadata['payment_id']:'no'"})
        assert other.data == []
    finally:
        stop_localstripe(proc)


def test_the_client_resends_a_503_with_the_same_bytes_and_keeps_both_answers():
    import asyncio

    from aiohttp import web

    from benchmarks._wire import HttpPool, request_bytes
    from benchmarks.chaos import Client

    seen: list[bytes] = []

    async def pay(request: web.Request) -> web.Response:
        seen.append(await request.read())
        if request.headers["Idempotency-Key"] == "bad":
            return web.json_response({"error": "validation_error"}, status=422)
        if len(seen) == 1:
            return web.json_response({"error": "fraud_scorer_unavailable"}, status=503)
        return web.json_response({"status": "captured", "payment_id": "p1"})

    async def run() -> list[ca.Answer]:
        app = web.Application()
        app.router.add_post("/pay", pay)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            pool = HttpPool(f"http://127.0.0.1:{port}", limit=4)
            await pool.open(1)
            client = Client(pool, retries=3, backoff_s=0.01)
            answers = [ca.Answer("k1"), ca.Answer("bad")]
            for a in answers:
                client.send(request_bytes("POST", f"127.0.0.1:{port}", "/pay",
                                          {"Idempotency-Key": a.key}, {"n": 1}), a)
                await asyncio.wait_for(client.idle.wait(), 10)
            pool.close()
            return answers
        finally:
            await runner.cleanup()

    ok, bad = asyncio.run(run())
    assert (ok.first, ok.last, ok.tries, ok.payment_id) == (
        "503 fraud_scorer_unavailable", "captured", 2, "p1")
    assert (bad.first, bad.last, bad.tries) == ("422 validation_error",) * 2 + (1,)
    assert seen[0] == seen[1]  # the same request, the same key
