"""The signed token the request form carries, and the fill-time check it allows.

The token embeds the moment the form was served in milliseconds: itsdangerous' own timestamp has
whole-second precision, so with it a form posted 0.1 s after it was served could look 1 s old
and pass a 1-second "too fast" guard.
"""

from __future__ import annotations

import time
from enum import StrEnum

from itsdangerous import BadSignature, Signer

PURPOSE = "demande"


class FormTokenProblem(StrEnum):
    EXPIRED = "expired_form"  # forged, missing, from another form or too old: same answer
    TOO_FAST = "too_fast"


def issue_form_token(signer: Signer, now: float | None = None) -> str:
    served_ms = int((time.time() if now is None else now) * 1000)
    return signer.sign(f"{PURPOSE}:{served_ms}".encode()).decode()


def form_token_problem(signer: Signer, token: str, *, min_fill_s: float, max_age_s: float,
                       now: float | None = None) -> FormTokenProblem | None:
    try:
        purpose, _, served_ms = signer.unsign(token).decode().partition(":")
        served_at = int(served_ms) / 1000
    except (BadSignature, ValueError, UnicodeDecodeError):
        return FormTokenProblem.EXPIRED
    age = (time.time() if now is None else now) - served_at
    if purpose != PURPOSE or age > max_age_s:
        return FormTokenProblem.EXPIRED
    if age < min_fill_s:
        return FormTokenProblem.TOO_FAST
    return None
