"""What an email address must be to be accepted anywhere in MonLycéePro: by intake from a company, by the
notifier for a transfer to a colleague, by the catalog's RBE directory. Syntax and domain rules only, no
network; the messages are French and say what to fix."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

DISPOSABLE_DOMAINS = frozenset({
    "yopmail.com", "yopmail.fr", "mailinator.com", "guerrillamail.com", "10minutemail.com", "trashmail.com",
    "tempmail.com", "temp-mail.org", "jetable.org", "sharklasers.com", "getnada.com", "maildrop.cc",
})
DOMAIN_TYPOS = {
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gmail.fr": "gmail.com", "gamil.com": "gmail.com",
    "hotmial.com": "hotmail.com", "hotmail.con": "hotmail.com", "orange.com": "orange.fr", "wanadoo.com": "wanadoo.fr",
    "outlook.fr.com": "outlook.fr", "laposte.com": "laposte.net", "free.com": "free.fr",
}


# Domains (as typed, ASCII) already accepted by the full check -> their normalised form. The domain
# rules (IDNA, label syntax, special-use names) were most of the cost of validating an address, and
# a few domains make most of the traffic.
_ACCEPTED_DOMAINS: dict[str, str] = {}
_MAX_DOMAINS = 10_000


def check_email(email: str) -> tuple[str | None, str | None]:
    """(normalised email, None) or (None, French message). No network: syntax and domain rules only.

    An address whose domain was accepted before and whose local part is plain ASCII dot-atom (the
    form email_validator accepts as is) is accepted without running the domain rules again; every
    other address, and every refusal, goes through the full check."""
    local, at, domain = email.rpartition("@")
    known = _ACCEPTED_DOMAINS.get(domain) if at else None
    if known is not None and len(email) <= EMAIL_MAX_LENGTH and DOT_ATOM_TEXT.match(local):
        normalised = f"{local}@{known}"
        if len(normalised) <= EMAIL_MAX_LENGTH:
            return normalised.lower(), None
    result = _check_email(email)
    if result[0] is not None and at and domain.isascii():
        if len(_ACCEPTED_DOMAINS) >= _MAX_DOMAINS:
            _ACCEPTED_DOMAINS.clear()
        _ACCEPTED_DOMAINS[domain] = result[0].rpartition("@")[2]
    return result


def _check_email(email: str) -> tuple[str | None, str | None]:
    try:
        info = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        text = str(exc)
        if "@" not in email:
            return None, "L'adresse électronique doit contenir un @ (ex. prenom.nom@entreprise.fr)."
        if "after the @" in text or "domain" in text.lower():
            return None, "Le domaine de l'adresse électronique (après le @) n'est pas valide."
        return None, "L'adresse électronique n'est pas valide (ex. prenom.nom@entreprise.fr)."
    domain = info.domain.lower()
    if domain in DOMAIN_TYPOS:
        return None, f"Le domaine « {domain} » semble mal orthographié : vouliez-vous dire « {DOMAIN_TYPOS[domain]} » ?"
    if domain in DISPOSABLE_DOMAINS:
        return None, "Les adresses électroniques jetables ne sont pas acceptées : le lycée doit pouvoir vous répondre."
    return info.normalized.lower(), None  # one address, one rate-limit count, whatever its case
