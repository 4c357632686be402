"""Who really sent an inbound reply: DKIM (dkimpy), SPF (pyspf) and DMARC-style alignment of the
envelope sender and ``From:``.

The sender check used to trust ``From:`` alone. Here a message is judged on what it carries:

* a ``DKIM-Signature`` is verified; a signature that does not verify (body or headers changed, key
  absent or revoked) is a **failure**; a DNS timeout is ``temperror`` (no evidence either way);
* SPF is evaluated for the envelope sender's domain when the client is a public address (a reply
  that reached us through an internal relay on a private address cannot be judged by SPF);
  ``fail`` is a failure, anything else is not;
* alignment: the organisational domain of ``From:`` must be the envelope sender's (or the DKIM
  signer's, when its signature passes); otherwise it is a DMARC-style failure.

DNS is behind ``Resolver``: tests inject a dictionary, production uses dnspython with
``MLP_INBOUND_DNS_TIMEOUT_S``. "No answer" (NXDOMAIN, no record) is an empty answer, never an error:
SPF then says ``none``. Special-use names (RFC 6761: .invalid, .test, .example, .localhost) are
answered empty without asking anybody.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Protocol

import dkim
import spf

_SPECIAL_USE = ("invalid", "test", "example", "localhost", "local")
# Second-level labels that are public suffixes in the usual French and European cases (a small
# part of the Public Suffix List: "ac-lyon.fr" is an organisation, "gouv.fr" is not one).
_PUBLIC_SECOND_LEVEL = frozenset({
    "gouv.fr", "asso.fr", "nom.fr", "com.fr", "tm.fr", "presse.fr", "co.uk", "org.uk", "ac.uk", "gov.uk",
    "com.au", "co.nz", "com.br", "co.jp", "com.es", "com.pt", "co.za", "com.tr", "com.mx",
})


class DnsTempError(Exception):
    """The DNS did not answer in time (or no server could be reached): no evidence either way."""


class Resolver(Protocol):
    def query(self, name: str, qtype: str) -> list:
        """Answers for ``name``: TXT -> list of list of bytes (the record's strings), A/AAAA -> addresses,
        MX -> (preference, exchange), PTR -> names. Empty when there is no such record or name;
        ``DnsTempError`` when the DNS cannot tell."""
        ...


def special_use(name: str) -> bool:
    return name.rstrip(".").lower().rsplit(".", 1)[-1] in _SPECIAL_USE


class DnspythonResolver:
    """The production resolver: dnspython, one overall timeout per query."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def query(self, name: str, qtype: str) -> list:
        import dns.exception
        import dns.resolver

        if special_use(name):
            return []
        try:
            answers = dns.resolver.resolve(name, qtype, lifetime=self.timeout_s)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration) as exc:
            raise DnsTempError(type(exc).__name__) from exc
        except dns.exception.DNSException:
            return []
        out: list = []
        for rdata in answers:
            if qtype in ("TXT", "SPF"):
                out.append(list(rdata.strings))
            elif qtype in ("A", "AAAA"):
                out.append(rdata.address)
            elif qtype == "MX":
                out.append((rdata.preference, rdata.exchange.to_text(True)))
            elif qtype == "PTR":
                out.append(rdata.target.to_text(True))
        return out


class StaticResolver:
    """A fixed zone (tests, or an operator's override): {(name, qtype): answers}."""

    def __init__(self, zone: dict[tuple[str, str], list] | None = None, *, fail: bool = False) -> None:
        self.zone = {(n.rstrip(".").lower(), t): v for (n, t), v in (zone or {}).items()}
        self.fail = fail
        self.queries: list[tuple[str, str]] = []

    def query(self, name: str, qtype: str) -> list:
        self.queries.append((name, qtype))
        if self.fail:
            raise DnsTempError("static")
        return list(self.zone.get((name.rstrip(".").lower(), qtype), []))


def org_domain(domain: str) -> str:
    """The organisational domain (what DMARC aligns on): the registrable part of ``domain``,
    e.g. ``mail.ac-lyon.fr`` -> ``ac-lyon.fr``."""
    labels = [label for label in domain.strip().strip(".").lower().split(".") if label]
    if len(labels) <= 2:
        return ".".join(labels)
    if ".".join(labels[-2:]) in _PUBLIC_SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def domain_of(address: str) -> str:
    return address.strip().strip("<>").rpartition("@")[2].strip().lower().rstrip(".")


def header_from(msg: EmailMessage) -> str:
    """The one address of ``From:`` (lower-case), empty when there is none or several."""
    try:
        found = [a for _, a in getaddresses([str(msg.get("From", ""))]) if a]
    except Exception:
        return ""
    return found[0].strip().lower() if len(found) == 1 else ""


@dataclass
class AuthResult:
    """What the checks found; stored as JSON on the inbound row (``notifier_inbound.auth``)."""

    dkim: str = "none"  # none | pass | fail | temperror
    dkim_domain: str = ""
    spf: str = "none"  # none | pass | fail | softfail | neutral | temperror | permerror
    aligned: bool = True  # From's organisational domain = the envelope's or the passing DKIM signer's
    verdict: str = "pass"  # pass | fail | skipped
    reason: str = ""  # when failing: dkim_fail | spf_fail | misaligned

    def as_dict(self) -> dict:
        return asdict(self)


def _dkim(raw: bytes, resolver: Resolver, timeout_s: float) -> tuple[str, str]:
    if b"dkim-signature:" not in raw[:65536].lower():
        return "none", ""
    domain = _signing_domain(raw)

    def txt(name: bytes | str, timeout: float = timeout_s) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        answers = resolver.query(text.rstrip("."), "TXT")
        return b"".join(answers[0]) if answers else None

    try:
        ok = dkim.verify(raw, dnsfunc=txt, timeout=max(1, int(timeout_s)))
    except DnsTempError:
        return "temperror", domain
    except Exception:
        ok = False
    return ("pass" if ok else "fail"), domain


def _signing_domain(raw: bytes) -> str:
    """``d=`` of the first DKIM-Signature header, lower-case (empty when unreadable)."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    unfolded = head.replace(b"\n ", b" ").replace(b"\n\t", b" ")
    for line in unfolded.split(b"\n"):
        if line.lower().startswith(b"dkim-signature:"):
            for tag in line.split(b":", 1)[1].split(b";"):
                key, _, value = tag.strip().partition(b"=")
                if key.strip() == b"d":
                    return value.strip().decode("ascii", "replace").lower()
    return ""


class _Query(spf.query):
    """pyspf's query with its DNS lookups sent to our resolver (pyspf only has a module-wide lookup)."""

    resolver: Resolver

    def dns(self, name, qtype, cnames=None, ignore_void=False):  # noqa: ANN001 - pyspf's signature
        name = str(name).rstrip(".").lower()
        if not name:
            return []
        try:
            answers = self.resolver.query(name, qtype)
        except DnsTempError as exc:
            raise spf.TempError(f"DNS {exc}") from exc
        if qtype in ("TXT", "SPF"):
            return [list(a) for a in answers]
        return answers


def _spf(client_ip: str, envelope: str, helo: str, resolver: Resolver) -> str:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return "none"
    if not address.is_global or not envelope or "@" not in envelope:
        return "none"  # an internal relay, or a bounce: SPF cannot judge
    try:
        query = _Query(i=client_ip, s=envelope, h=helo or "unknown", querytime=20)
        query.resolver = resolver
        result, _code, _text = query.check()
    except Exception:
        return "temperror"
    return str(result) if result in ("pass", "fail", "softfail", "neutral", "none", "temperror",
                                     "permerror") else "none"


def authenticate(raw: bytes, msg: EmailMessage, mail_from: str, client_ip: str, helo: str,
                 resolver: Resolver, timeout_s: float) -> AuthResult:
    """Check DKIM, SPF and the alignment of ``From:`` with the envelope sender."""
    result = AuthResult()
    result.dkim, result.dkim_domain = _dkim(raw, resolver, timeout_s)
    envelope = mail_from.strip().strip("<>").lower()
    result.spf = _spf(client_ip, envelope, helo, resolver)
    from_domain = domain_of(header_from(msg))
    env_domain = domain_of(envelope) if "@" in envelope else ""
    dkim_aligned = result.dkim == "pass" and org_domain(result.dkim_domain) == org_domain(from_domain)
    spf_aligned = bool(env_domain) and org_domain(env_domain) == org_domain(from_domain)
    result.aligned = bool(from_domain) and (dkim_aligned or spf_aligned)
    if result.dkim == "fail":
        result.verdict, result.reason = "fail", "dkim_fail"
    elif dkim_aligned:
        result.verdict = "pass"
    elif not result.aligned:
        result.verdict, result.reason = "fail", "misaligned"
    elif result.spf == "fail":
        result.verdict, result.reason = "fail", "spf_fail"
    return result

