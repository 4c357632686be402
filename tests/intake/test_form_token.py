"""The form token's fill-time and age checks, on a fixed clock: millisecond precision matters."""

from __future__ import annotations

from itsdangerous import Signer

from services.intake.service.form_token import FormTokenProblem, form_token_problem, issue_form_token

SIGNER = Signer("a-test-secret-of-enough-length", salt="intake-form")


def _check(token: str, now: float, min_fill_s: float = 1.0, max_age_s: float = 3600) -> FormTokenProblem | None:
    return form_token_problem(SIGNER, token, min_fill_s=min_fill_s, max_age_s=max_age_s, now=now)


def test_a_form_posted_a_tenth_of_a_second_after_a_whole_second_is_too_fast():
    # Served at 1000.95 s, posted 0.1 s later in the next whole second: with whole-second
    # timestamps it looked 1.05 s old and passed a 1-second guard.
    token = issue_form_token(SIGNER, now=1000.95)
    assert _check(token, now=1001.05) is FormTokenProblem.TOO_FAST
    assert _check(token, now=1001.96) is None


def test_an_old_form_is_expired_and_a_fresh_one_is_not():
    token = issue_form_token(SIGNER, now=1000.0)
    assert _check(token, now=1000.0 + 3599) is None
    assert _check(token, now=1000.0 + 3601) is FormTokenProblem.EXPIRED


def test_forged_foreign_or_malformed_tokens_read_as_expired():
    token = issue_form_token(SIGNER, now=1000.0)
    other_secret = Signer("another-secret-of-enough-length", salt="intake-form")
    foreign_purpose = SIGNER.sign(b"suivi:1000000").decode()
    not_a_time = SIGNER.sign(b"demande:hier").decode()
    for bad in ("", token[:-3] + "abc", issue_form_token(other_secret, now=1000.0), foreign_purpose, not_a_time,
                "demande.AAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBB"):
        assert _check(bad, now=1010.0) is FormTokenProblem.EXPIRED, bad
