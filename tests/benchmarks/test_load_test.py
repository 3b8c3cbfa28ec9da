"""The load test's own arithmetic and drivers: questions that never repeat, targets
scaled by the calibration, CPU that does or does not fit, floor ratios, WebSocket
delivery accounting, and the open loop against a real local server."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from benchmarks import floor
from benchmarks.load_bodies import chat_questions
from benchmarks.load_cpu import REFERENCE_CALIBRATION_S, payments_that_fit, scaled
from benchmarks.load_drive import Run, build_requests, open_loop, summarise
from benchmarks.load_report import Target, judge
from benchmarks.load_ws import deliveries
from serving.schemas import ChatRequest


def test_chat_questions_never_repeat_and_are_valid_requests():
    qs = chat_questions(20_000, salt=123_456)
    assert len(set(qs)) == len(qs)
    for q in qs[:200]:
        ChatRequest(message=q)  # raises if too long or blank


def test_chat_questions_of_two_runs_differ():
    assert not set(chat_questions(500, salt=1)) & set(chat_questions(500, salt=2))


def test_latency_targets_loosen_on_a_slower_box_and_tighten_on_a_faster_one():
    assert scaled(25.0, REFERENCE_CALIBRATION_S) == pytest.approx(25.0)
    assert scaled(25.0, 2 * REFERENCE_CALIBRATION_S) == pytest.approx(50.0)
    assert scaled(25.0, REFERENCE_CALIBRATION_S / 2) == pytest.approx(12.5)


def test_a_row_meets_its_target_only_within_the_scaled_bound_and_without_errors():
    t = Target(1000, 99, 25.0)
    row = {"p99_ms": 40.0, "errors": 0}
    judge(row, t, 2 * REFERENCE_CALIBRATION_S)  # bound 50 ms on this slower box
    assert row["meets_target"]
    judge(row, t, REFERENCE_CALIBRATION_S)
    assert not row["meets_target"]
    row = {"p99_ms": 1.0, "errors": 1}
    judge(row, t, REFERENCE_CALIBRATION_S)
    assert not row["meets_target"]


def test_payments_at_8_ms_of_cpu_do_not_fit_500_a_second_on_two_cores():
    fit = payments_that_fit({"api": 6.0, "loadgen": 2.0}, 500.0, 2)
    assert fit["need_cpu_ms_per_s"] == 4000 and not fit["fits"]
    assert fit["max_rate"] == 250.0
    assert payments_that_fit({"api": 3.0}, 500.0, 2)["fits"]


def test_api_capacity_is_reported_as_a_share_of_the_xgboost_floor():
    floor_rows = [{"name": "floor constant closed c=16", "achieved_per_s": 4000.0},
                  {"name": "floor xgboost closed c=16", "achieved_per_s": 1000.0}]
    api = {"/fraud": {"achieved_per_s": 700.0}, "/pay": {"achieved_per_s": 200.0}}
    got = floor.ratios(api, floor_rows)
    assert got["/fraud"]["percent"] == 70.0 and got["/fraud"]["meets_target"]
    assert got["/pay"]["percent"] == 20.0 and not got["/pay"]["meets_target"]
    assert "/route" not in got


def _frame(at: float, eid: str, merchant: str, ts: float, pid: str = "p1") -> tuple:
    return at, json.dumps({"id": eid, "merchant_id": merchant, "ts": ts,
                           "type": "payment_processed", "payment_id": pid}).encode()


def test_an_event_one_of_its_merchants_sockets_missed_counts_as_a_missing_delivery():
    frames = [_frame(10.02, "e1", "m1", 10.0), _frame(10.05, "e1", "m1", 10.0),
              _frame(11.01, "e2", "m2", 11.0, "p2")]
    got = deliveries(frames, Counter({"m1": 2, "m2": 3}))
    assert got["missing"] == 2 and got["events"] == 2
    assert got["heard"] == {"p1", "p2"}
    assert [round(x) for x in got["lat"]] == [20, 50, 10]


def test_unanswered_requests_count_as_timeouts_without_a_latency():
    run = Run(sent=3, lat=[5.0, 7.0], elapsed_s=1.0)
    run.kinds["timeout"] += 1
    row = summarise("x", run, 3)
    assert row["ok"] == 2 and row["errors"] == 1
    assert row["error_kinds"] == {"timeout": 1}
    assert row["max_ms"] == 7.0


def test_the_open_loop_sends_at_its_rate_and_counts_error_statuses():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from harness.server import serve_asgi

    async def score(request):
        body = await request.json()
        return JSONResponse({"ok": True}, status_code=200 if body["i"] % 10 else 503)

    app = Starlette(routes=[Route("/score", score, methods=["POST"])])
    with serve_asgi(app, name="load-test-target") as url:
        raw = build_requests(url, "/score", [{"i": i} for i in range(100)], {})
        run = asyncio.run(open_loop(url, raw, 200.0, drain_s=10))
    row = summarise("t", run, 200.0)
    assert row["sent"] == 100 and row["ok"] == 90
    assert row["error_kinds"] == {"503": 10}
    assert run.elapsed_s >= 99 / 200.0  # the last request left at 0.495 s, not sooner


def test_a_websocket_client_answers_pings_so_a_held_connection_is_not_dropped():
    from websockets.asyncio.server import serve

    from benchmarks._wire import ws_connect

    async def handler(ws):
        await ws.send('{"type": "subscribed"}')
        await asyncio.sleep(1.5)  # 7 pings, each to be answered within 0.2 s
        await ws.send('{"type": "still here"}')
        await ws.wait_closed()

    async def hold() -> tuple[list, object]:
        async with serve(handler, "127.0.0.1", 0, ping_interval=0.2,
                         ping_timeout=0.2) as server:
            port = server.sockets[0].getsockname()[1]
            got: list = []
            conn = await ws_connect(f"ws://127.0.0.1:{port}/ws", got)
            await asyncio.sleep(2.0)
            dropped = conn.dropped
            conn.close()
            return got, dropped

    got, dropped = asyncio.run(hold())
    assert not dropped
    assert [json.loads(t)["type"] for _, t in got] == ["subscribed", "still here"]


def test_the_json_summary_is_strict_json_with_nan_as_null(tmp_path):
    from benchmarks.load_report import write_json

    write_json(tmp_path / "s.json", {"rows": [{"p99_ms": float("nan"), "n": 3}]})
    assert json.loads((tmp_path / "s.json").read_text()) == {
        "rows": [{"p99_ms": None, "n": 3}]}
