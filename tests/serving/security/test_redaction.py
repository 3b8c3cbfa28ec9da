"""Card numbers, CVCs, tokens and configured secrets never reach a log handler: the
redacting record factory masks every record, whatever logger or call made it."""

from __future__ import annotations

import logging

import pytest

from smartpay.redact import (
    Redactor, card_numbers, configured_secrets, install_redaction, luhn_ok,
    uninstall_redaction,
)

PAN = "4242424242424242"
SECRET = "jwt-secret-for-the-redaction-test-0123456789"


@pytest.fixture
def records():
    """Install redaction for the test; collect what a handler receives."""
    got: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            got.append(record)

    logger = logging.getLogger("tests.redaction")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    install_redaction([SECRET])
    try:
        yield logger, got
    finally:
        uninstall_redaction()
        logger.removeHandler(handler)
        logger.setLevel(level)


def _line(record: logging.LogRecord) -> str:
    return logging.Formatter("%(message)s").format(record)


def test_luhn_tells_a_card_number_from_an_order_number():
    assert luhn_ok(PAN) and not luhn_ok("4242424242424241")
    assert card_numbers(f"card {PAN} and order 4242424242424241") == [PAN]
    assert card_numbers("4242 4242 4242 4242 / 4242-4242-4242-4242") == [PAN, PAN]


def test_a_card_number_keeps_only_its_last_four_digits():
    out = Redactor()(f"paid with {PAN}, amount 2500, epoch 1795000000")
    assert PAN not in out and "****4242" in out and "2500" in out and "1795000000" in out


@pytest.mark.parametrize("text,leak", [
    ('{"cvc": "123", "card": 1}', '"123"'),
    ("cvv=987 ok", "987"),
    ("Authorization: Bearer abc.def.ghijklmnop", "abc.def.ghijklmnop"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtMSJ9.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
    ("key sk_test_51Habcdef0123", "sk_test_51Habcdef0123"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----", "MIIEv"),
    (f"secret is {SECRET}!", SECRET),
])
def test_cvcs_tokens_keys_and_configured_secrets_are_masked(text, leak):
    assert leak not in Redactor([SECRET])(text)


def test_every_record_is_masked_in_its_message_arguments_and_traceback(records):
    logger, got = records
    logger.info("card %s cvc=%s", PAN, "123")
    logger.info("customer %d", int(PAN))  # an int argument formatted with %d
    logger.warning({"body": {"card_number": PAN}})
    try:
        raise ValueError(f"bad body {PAN} with {SECRET}")
    except ValueError:
        logger.exception("failed")
    text = "\n".join(logging.Formatter().format(r) for r in got)
    assert PAN not in text and SECRET not in text and "cvc=123" not in text
    assert text.count("****4242") == 4


def test_a_clean_record_keeps_its_arguments_for_formatters_that_read_them(records):
    logger, got = records
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/health", "1.1", 200)
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/x/{PAN}", "1.1",
                404)
    assert got[0].args == ("127.0.0.1:5000", "GET", "/health", "1.1", 200)
    assert got[1].args[4] == 404 and PAN not in _line(got[1])


def test_installing_twice_replaces_the_secrets_instead_of_stacking(records):
    logger, got = records
    factory = logging.getLogRecordFactory()
    install_redaction(["another-secret-value"])
    assert type(logging.getLogRecordFactory()) is type(factory)
    assert logging.getLogRecordFactory().inner is factory.inner
    logger.info("%s %s", SECRET, "another-secret-value")
    assert "another-secret-value" not in _line(got[-1])


def test_the_configured_secrets_include_keys_and_key_file_contents(tmp_path, monkeypatch):
    from smartpay.settings import Settings

    key_file = tmp_path / "authority.json"
    key_file.write_text("[12,34,56,78,90,12,34,56]")
    monkeypatch.setenv("SMARTPAY_JWT_SECRET", SECRET)
    monkeypatch.setenv("SMARTPAY_STRIPE_API_KEY", "sk_live_abcdef123456")
    monkeypatch.setenv("SMARTPAY_REWARDS__AUTHORITY_KEYPAIR_FILE", str(key_file))
    got = configured_secrets(Settings())
    assert {SECRET, "sk_live_abcdef123456", "[12,34,56,78,90,12,34,56]"} <= set(got)
