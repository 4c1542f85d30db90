from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cardshield.cards import CVV, PAN, Expiry, luhn_check_digit
from cardshield.crypto.errors import DecryptionError
from cardshield.crypto.tokens import is_format_preserving_token
from cardshield.errors import ExpiredCard, InvalidCVC
from cardshield.storage.schema import audit_log, cards, data_keys
from cardshield.vault import Vault
from cardshield.vault.errors import MerchantNotFound, TokenAlreadyUsed, TokenExpired, TokenNotFound
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.vault.conftest import NOW

EXP = Expiry(2030, 12)


def _use(vault: Vault, merchant: str, token: str, at=NOW):  # type: ignore[no-untyped-def]
    with vault.use_for_forwarding(merchant, token, now=at, actor="test", purpose="test") as card:
        return card.pan.reveal(), card.expiry, card.cvv and card.cvv.reveal()


def test_tokenize_retrieve_and_use(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    rec = vault.tokenize(m, PAN(CANARY_PAN), EXP, CVV("737"), now=NOW)
    assert rec.token.startswith("tok_")
    assert (rec.brand, rec.bin, rec.last4) == ("visa", "42424242", "4242")
    assert rec.expires_at == NOW + timedelta(minutes=15)
    assert CANARY_PAN not in repr(rec)
    assert vault.retrieve(m, rec.token) == rec
    assert _use(vault, m, rec.token) == (CANARY_PAN, EXP, "737")
    with pytest.raises(TokenAlreadyUsed):
        _use(vault, m, rec.token)
    actions = [r.action for r in vault.engine.connect().execute(select(audit_log.c.action))]
    assert actions.count("card.tokenize") == 1
    assert actions.count("card.use") == 1


def test_reusable_cards_and_cvv_used_once(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    rec = vault.tokenize(m, PAN("5555555555554444"), EXP, CVV("123"), now=NOW, single_use=False)
    assert rec.expires_at is None
    assert _use(vault, m, rec.token)[2] == "123"
    assert _use(vault, m, rec.token) == ("5555555555554444", EXP, None)  # CVV gone after use
    assert vault.retrieve(m, rec.token).last_used_at == NOW


def test_other_merchant_cannot_see_or_use(vault: Vault) -> None:
    a = vault.create_merchant("a", now=NOW)
    b = vault.create_merchant("b", now=NOW)
    rec = vault.tokenize(a, PAN(CANARY_PAN), EXP, now=NOW)
    with pytest.raises(TokenNotFound):
        vault.retrieve(b, rec.token)
    with pytest.raises(TokenNotFound):
        _use(vault, b, rec.token)
    with pytest.raises(MerchantNotFound):
        vault.tokenize("mer_nope", PAN(CANARY_PAN), EXP, now=NOW)


def test_single_use_token_expires(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    rec = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW)
    with pytest.raises(TokenExpired):
        _use(vault, m, rec.token, at=NOW + timedelta(minutes=16))


def test_bad_input_writes_nothing(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    with pytest.raises(ExpiredCard):
        vault.tokenize(m, PAN(CANARY_PAN), Expiry(2026, 10), now=NOW)
    with pytest.raises(InvalidCVC):
        vault.tokenize(m, PAN("378282246310005"), EXP, CVV("123"), now=NOW)  # Amex needs 4
    with vault.engine.connect() as conn:
        assert conn.execute(select(cards)).first() is None


def test_fingerprints_and_dedup(vault: Vault) -> None:
    a = vault.create_merchant("a", now=NOW)
    b = vault.create_merchant("b", now=NOW)
    r1 = vault.tokenize(a, PAN(CANARY_PAN), EXP, now=NOW, single_use=False)
    r2 = vault.tokenize(a, PAN("4242 4242 4242 4242"), EXP, now=NOW, single_use=False)
    r3 = vault.tokenize(b, PAN(CANARY_PAN), EXP, now=NOW, single_use=False)
    assert r1.fingerprint == r2.fingerprint != r3.fingerprint
    assert r1.token != r2.token
    r4 = vault.tokenize(a, PAN(CANARY_PAN), EXP, now=NOW, single_use=False, dedup=True)
    assert r4.token in (r1.token, r2.token)


def test_format_preserving_token(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    rec = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW, format_preserving=True)
    assert is_format_preserving_token(rec.token)
    assert rec.token[:6] == "424242" and rec.token[-4:] == "4242"
    assert rec.token != CANARY_PAN
    assert _use(vault, m, rec.token)[0] == CANARY_PAN


def test_ciphertext_moved_to_another_row_does_not_decrypt(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    r1 = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW)
    r2 = vault.tokenize(m, PAN("5555555555554444"), EXP, now=NOW)
    with vault.engine.begin() as conn:
        blob = conn.execute(select(cards.c.ciphertext).where(cards.c.token == r1.token)).scalar()
        conn.execute(update(cards).where(cards.c.token == r2.token).values(ciphertext=blob))
    with pytest.raises(DecryptionError) as info:
        _use(vault, m, r2.token)
    assert str(info.value) == str(DecryptionError())


def test_delete_and_crypto_shredding(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    keep = vault.create_merchant("other", now=NOW)
    r1 = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW, single_use=False)
    r2 = vault.tokenize(m, PAN("5555555555554444"), EXP, CVV("123"), now=NOW)
    r3 = vault.tokenize(keep, PAN(CANARY_PAN), EXP, now=NOW)
    vault.delete(m, r1.token, now=NOW)
    with pytest.raises(TokenNotFound):
        vault.delete(m, r1.token, now=NOW)
    assert vault.delete_merchant(m, now=NOW) == 1
    with pytest.raises(TokenNotFound):
        vault.retrieve(m, r2.token)
    with vault.engine.connect() as conn:
        wrapped = (
            conn.execute(select(data_keys.c.wrapped).where(data_keys.c.merchant_id == m))
            .scalars()
            .all()
        )
    assert wrapped == [None, None]
    assert _use(vault, keep, r3.token)[0] == CANARY_PAN
    with pytest.raises(MerchantNotFound):
        vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW)


def test_purge_respects_retention(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    expired = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW)
    used = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW)
    _use(vault, m, used.token)
    saved = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW, single_use=False)
    fresh = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW + timedelta(minutes=10))
    assert vault.purge(now=NOW + timedelta(minutes=20)) == 2
    vault.retrieve(m, saved.token)
    vault.retrieve(m, fresh.token)
    for gone in (expired, used):
        with pytest.raises(TokenNotFound):
            vault.retrieve(m, gone.token)
    assert vault.purge(now=NOW + timedelta(days=800)) == 2


def test_audit_entries_hold_masked_data_only(vault: Vault) -> None:
    m = vault.create_merchant("shop", now=NOW)
    rec = vault.tokenize(m, PAN(CANARY_PAN), EXP, CVV("737"), now=NOW)
    _use(vault, m, rec.token)
    with vault.engine.connect() as conn:
        rows = conn.execute(select(audit_log)).all()
    dump = "\n".join(repr(tuple(r)) for r in rows)
    assert "424242******4242" in dump
    assert_no_card_data(dump)
    assert all("737" not in r.details for r in rows)


def test_masked_shows_six_digits_of_an_eight_digit_bin(vault: Vault) -> None:
    # A generated Visa number whose 7th and 8th digits differ from everything else shown.
    digits = "453201789012345" + luhn_check_digit("453201789012345")
    m = vault.create_merchant("shop", now=NOW)
    rec = vault.tokenize(m, PAN(digits), EXP, now=NOW)
    assert rec.bin == "45320178"
    assert rec.masked == PAN(digits).masked() == f"453201******{digits[-4:]}"
    assert vault.retrieve(m, rec.token).masked == rec.masked
    _use(vault, m, rec.token)
    with vault.engine.connect() as conn:
        details = [r.details for r in conn.execute(select(audit_log.c.details))]
    assert details and all("45320178" not in d for d in details)


def test_format_preserving_collisions_are_retried(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardshield.vault import service
    from cardshield.vault.errors import TokenSpaceExhausted

    m = vault.create_merchant("shop", now=NOW)
    first = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW, format_preserving=True)
    other = first.token[:6] + "000000" + first.token[-4:]
    picks = iter([first.token, first.token, other])
    monkeypatch.setattr(service, "format_preserving_token", lambda pan: next(picks))
    second = vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW, format_preserving=True)
    assert second.token == other
    monkeypatch.setattr(service, "format_preserving_token", lambda pan: first.token)
    with pytest.raises(TokenSpaceExhausted):
        vault.tokenize(m, PAN(CANARY_PAN), EXP, now=NOW, format_preserving=True)
