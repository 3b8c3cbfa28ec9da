"""Card numbers and secrets are masked; ordinary numbers are left alone."""

from integrations.rag.redact import luhn_ok, redact


def test_luhn_accepts_a_valid_test_card_and_rejects_a_changed_digit():
    assert luhn_ok("4242424242424242")
    assert not luhn_ok("4242424242424241")


def test_card_numbers_with_spaces_or_dashes_keep_only_their_last_four_digits():
    text = redact("card 4242 4242 4242 4242 and 5555-5555-5555-4444 please")
    assert "4242 4242 4242 4242" not in text and "5555-5555-5555" not in text
    assert "[CARD ****4242]" in text and "[CARD ****4444]" in text


def test_digit_runs_that_fail_luhn_such_as_order_ids_are_not_masked():
    assert redact("order 1234567890123456 of 1999 minor units") == (
        "order 1234567890123456 of 1999 minor units"
    )


def test_provider_keys_jwts_and_password_assignments_are_masked():
    text = redact(
        "keys sk_live_51HxAbCdEfGh12345678 sk-proj-abcdefghijklmnop1234 AKIAABCDEFGHIJKLMNOP "
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLXZhbHVl password=hunter2hunter"
    )
    for secret in ("sk_live_51Hx", "sk-proj-abc", "AKIAABCD", "eyJhbGci", "hunter2"):
        assert secret not in text
    assert "password=[REDACTED SECRET]" in text


def test_a_pem_private_key_block_is_masked_whole():
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----"
    assert redact(f"my key {pem} thanks") == "my key [REDACTED SECRET] thanks"


def test_redaction_is_idempotent_so_a_saved_index_matches_its_sources():
    text = ("connect to /ws?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl "
            "with api_key=sk_test_abcdefgh1234 and card 4242 4242 4242 4242")
    once = redact(text)
    assert "[REDACTED SECRET]" in once and "****4242" in once
    assert redact(once) == once
