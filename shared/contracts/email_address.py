"""What an email address must be to be accepted anywhere in MonLycéePro: by intake from a company, by the
notifier for a transfer to a colleague, by the catalog's RBE directory. Syntax and domain rules only, no
network; the messages are French and say what to fix."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

DISPOSABLE_DOMAINS = frozenset({
    "yopmail.com", "yopmail.fr", "mailinator.com", "guerrillamail.com", "10minutemail.com", "trashmail.com",
    "tempmail.com", "temp-mail.org", "jetable.org", "sharklasers.com", "getnada.com", "maildrop.cc",
})
DOMAIN_TYPOS = {
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gmail.fr": "gmail.com", "gamil.com": "gmail.com",
    "hotmial.com": "hotmail.com", "hotmail.con": "hotmail.com", "orange.com": "orange.fr", "wanadoo.com": "wanadoo.fr",
    "outlook.fr.com": "outlook.fr", "laposte.com": "laposte.net", "free.com": "free.fr",
}


def check_email(email: str) -> tuple[str | None, str | None]:
    """(normalised email, None) or (None, French message). No network: syntax and domain rules only."""
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
