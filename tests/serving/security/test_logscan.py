"""The log scanner that guards the suite's service logs finds what it must find, and
leaves ordinary log lines (timestamps, amounts, ids) alone."""

from __future__ import annotations

from tests.serving.security.logscan import leaks, scan, service_logs

SECRET = "scan-test-secret-0123456789"


def test_a_card_number_in_any_spelling_is_found():
    for line in ("card 4111111111111111", "pan=4111-1111-1111-1111;",
                 '{"n": "4111 1111 1111 1111"}', "x5555555555554444y"):
        assert leaks(line) == ["card number"], line


def test_tokens_and_configured_secrets_are_found():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtMSJ9.c2ln"
    assert "token" in leaks(f"auth {jwt}")
    assert "token" in leaks("Authorization: Bearer abcdefghijklmnopqrstuvwxyz")
    assert leaks(f"using {SECRET}", [SECRET]) == ["configured secret"]


def test_ordinary_lines_are_not_leaks():
    for line in ('{"ts": 1795000000.123, "msg": "status sync at start-up"}',
                 "amount 2500 USD, ms 1795000000123, order 4111111111111112",
                 "[CARD ****1111] refused", "payment pay_0a1b2c3d4e5f60718293a4b5"):
        assert leaks(line) == [], line


def test_scanning_names_the_file_and_line_but_not_the_value(tmp_path):
    log = tmp_path / "logs" / "serve.txt"
    log.parent.mkdir()
    log.write_text("ok\ncard 4111111111111111\n")
    found = scan([log])
    assert found == [f"{log}:2: card number"] and "4111" not in found[0]
    assert service_logs(tmp_path) == []  # only *.log files are service logs
