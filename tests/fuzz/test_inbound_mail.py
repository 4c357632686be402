"""The inbound SMTP server (notifier, real process) fed hostile mail: forged and tampered reply
addresses, malformed MIME, huge messages, wrong charsets, spoofed senders, forged From with a failing DKIM signature, mail loops, auto-replies
and bounces, repeated RCPTs and resent messages, executable and HTML attachments, undecodable
parts. Each is refused at the SMTP level or quarantined (stored, never relayed), counted in
`mlp_inbound_messages_total{outcome}`, and the server keeps serving: a genuine reply sent after
the garbage is still relayed to the company."""

from __future__ import annotations

import random
import smtplib
import uuid
from collections import Counter
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import dkim
import pytest

from tests.fuzz.support import MAX_INBOUND, Thread, count
from tests.support.audit import metric, query
from tests.support.eventually import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def thread(fuzz_system) -> Thread:
    return Thread(fuzz_system, 1)


def _headers(msg: EmailMessage, sender: str, to: str, subject: str = "Re: votre demande") -> EmailMessage:
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="exemple.fr")
    return msg


def text_mail(sender: str, to: str, body: str, subject: str = "Re: votre demande", **headers: str) -> bytes:
    msg = _headers(EmailMessage(), sender, to, subject)
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)  # CRLF: smtplib sends bytes as they are


DKIM_KEY = (Path(__file__).resolve().parent.parent / "notifier" / "data" / "dkim_test_key.pem").read_bytes()


def forged_dkim(sender: str, to: str, body: str) -> bytes:
    """Signed for a domain whose key cannot be found (RFC 6761 .invalid), then altered: fails either way."""
    data = text_mail(sender, to, body)
    signed = dkim.sign(data, b"mlp", b"pirate.invalid", DKIM_KEY, include_headers=[b"from", b"to", b"subject"]) + data
    return signed.replace(b"nous pouvons", b"virez l'argent")


def raw_mail(sender: str, to: str, head: str, body: bytes) -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: Re: votre demande\r\nMessage-ID: {make_msgid()}\r\n"
            f"MIME-Version: 1.0\r\n{head}\r\n\r\n").encode() + body


def send_to_many(port: int, mail_from: str, rcpts: list[str], data: bytes) -> int:
    """One SMTP transaction with several RCPTs; returns the final code."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail(mail_from)
        for rcpt in rcpts:
            assert smtp.rcpt(rcpt)[0] == 250
        return smtp.data(data)[0]


def send(port: int, mail_from: str, rcpt: str, data: bytes, size: int | None = None) -> tuple[int, str]:
    """One SMTP transaction; returns the server's final (code, text), whatever stage refused it."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        code, text = smtp.mail(mail_from, [f"SIZE={size}"] if size else [])
        if code >= 400:
            return code, text.decode()
        code, text = smtp.rcpt(rcpt)
        if code >= 400:
            return code, text.decode()
        code, text = smtp.data(data)
        return code, text.decode()


def hostile_cases(t: Thread, rng: random.Random) -> list[tuple[str, str, str, bytes, int | None, set[str]]]:
    """(name, envelope sender, recipient, data, declared SIZE, acceptable outcomes)."""
    lead, to = t.lead, t.lead_reply_to
    local, domain = to.split("@")
    tampered = local[:-1] + ("0" if local[-1] != "0" else "1")
    other_thread = "reply+" + "".join(rng.choice("0123456789abcdef") for _ in range(10)) + local[16:]
    body = "Bonjour, nous pouvons accueillir vos élèves."
    junk = b"\r\n".join(bytes(rng.randrange(256) for _ in range(70)).replace(b"\n", b"").replace(b"\r", b"")
                        for _ in range(60))
    # A mail loop: our own email, auto-forwarded by a mailbox back to the reply address.
    loop = text_mail("MonLycéePro <ne-pas-repondre@monlyceepro.localhost>", to,
                     "\n".join(t.lead_mail.get_body(("plain",)).get_content().splitlines()[:20]), subject=str(t.lead_mail["Subject"]),
                     Auto_Submitted="auto-generated", List_Id=str(t.lead_mail["List-Id"]))
    cases = [
        ("forged address", lead, f"reply+0123456789.01234567.0123456789abcdef0123@{domain}",
         text_mail(lead, to, body), None, {"bad_token"}),
        ("tampered mac", lead, f"{tampered}@{domain}", text_mail(lead, to, body), None, {"bad_token"}),
        ("other thread, same mac", lead, f"{other_thread}@{domain}", text_mail(lead, to, body), None,
         {"bad_token"}),
        ("wrong domain", lead, f"{local}@ailleurs.example", text_mail(lead, to, body), None, {"bad_token"}),
        ("not a reply address", lead, f"postmaster@{domain}", text_mail(lead, to, body), None, {"bad_token"}),
        ("huge, declared", lead, to, text_mail(lead, to, body), MAX_INBOUND * 3, {"too_large"}),
        ("huge, undeclared", lead, to, text_mail(lead, to, "\n".join([body] + ["x" * 70] * (MAX_INBOUND // 70 + 200))), None,
         {"too_large"}),
        ("spoofed sender", "attaquant@pirate.example", to, text_mail("attaquant@pirate.example", to, body), None,
         {"held"}),
        ("spoofed display name", "attaquant@pirate.example", to,
         text_mail(f'"{lead}" <attaquant@pirate.example>', to, body), None, {"held"}),
        # Issue 17 item 8: the lead's From, a DKIM signature that does not verify (body changed after signing).
        ("forged From, failing DKIM", lead, to, forged_dkim(lead, to, body), None, {"held"}),
        ("forged From, envelope elsewhere", "attaquant@pirate.example", to, text_mail(lead, to, body), None,
         {"held"}),
        ("auto-reply (RFC 3834)", lead, to, text_mail(lead, to, "Je suis absente jusqu'au 5 janvier.",
                                                      Auto_Submitted="auto-replied"), None, {"auto_reply"}),
        ("out of office subject", lead, to, text_mail(lead, to, "Absente.", subject="Réponse automatique : absence"),
         None, {"auto_reply"}),
        ("vacation X-Autoreply", lead, to, text_mail(lead, to, "En congés.", X_Autoreply="yes"), None,
         {"auto_reply"}),
        ("mail loop: our own email forwarded back", "ne-pas-repondre@monlyceepro.localhost", to, loop, None,
         {"auto_reply", "held"}),
        ("bounce", "", to, text_mail("MAILER-DAEMON@mx.ac-lyon.fr", to, "Delivery failed",
                                     subject="Undelivered Mail Returned to Sender"), None, {"bounce"}),
        ("random bytes, with a From", lead, to, f"From: {lead}\r\n\r\n".encode() + junk, None,
         {"malformed", "accepted"}),
        ("broken multipart", lead, to, raw_mail(lead, to, 'Content-Type: multipart/mixed; boundary="zz"',
                                                b"--yy\r\nContent-Type: text/plain\r\n\r\nsans fin"), None,
         {"malformed"}),
        ("bad base64", lead, to, raw_mail(lead, to, "Content-Type: text/plain; charset=utf-8\r\n"
                                          "Content-Transfer-Encoding: base64", b"@@@not base64!!!\r\n"), None,
         {"undecodable"}),
        ("unknown charset", lead, to, raw_mail(lead, to, "Content-Type: text/plain; charset=x-klingon",
                                               "Réponse reçue, à bientôt".encode("latin-1")), None,
         {"malformed", "accepted"}),
        ("latin-1 declared utf-8", lead, to, raw_mail(lead, to, "Content-Type: text/plain; charset=utf-8\r\n"
                                                      "Content-Transfer-Encoding: 8bit",
                                                      "Élèves accueillis en février".encode("latin-1")), None,
         {"malformed", "accepted"}),
        ("empty body", lead, to, raw_mail(lead, to, "Content-Type: text/plain", b""), None, {"malformed"}),
        ("injected Bcc", lead, to, raw_mail(lead, to, "Content-Type: text/plain\r\nBcc: victime@exemple.fr",
                                            b"Bonjour, injection.\r\n"), None, {"accepted", "malformed"}),
    ]
    return cases


def outcomes(system) -> Counter:
    url = system.url("notifier")
    return Counter({o: metric(url, "mlp_inbound_messages_total", outcome=o)
                    for o in ("accepted", "duplicate", "refused_attachments", "undecodable", "bad_token",
                              "too_large", "held", "auto_reply", "bounce", "malformed")})


def test_hostile_mail_is_refused_or_quarantined_counted_and_the_server_keeps_serving(fuzz_system, thread):
    system, rng = fuzz_system, random.Random(8)
    port = int(system.env["MLP_INBOUND_SMTP_PORT"])
    mails_before = len(system.sink.to(thread.company))
    results = []
    for name, mail_from, rcpt, data, size, allowed in hostile_cases(thread, rng):
        before = outcomes(system)
        code, text = send(port, mail_from, rcpt, data, size)
        got = +(outcomes(system) - before)
        count("smtp-hostile")
        results.append((name, code, dict(got), allowed, text))
    problems = [f"{name}: SMTP {code} {text[:80]}, counted {got}, expected one of {sorted(allowed)}"
                for name, code, got, allowed, text in results
                if sum(got.values()) != 1 or not set(got) <= allowed or (code >= 500) != bool(
                    set(got) & {"bad_token", "too_large"}) or 400 <= code < 500]
    assert problems == [], "\n".join(problems)
    # Quarantined, not lost: every message that passed RCPT is stored raw with its outcome.
    stored = Counter(row[0] for row in query(system.tmp_path / "notifier.db",
                                             "SELECT outcome FROM notifier_inbound"))
    assert stored["received"] == 0
    # Nothing was relayed except, at most, the "accepted" garbled-charset replies from the real lead.
    relayed = system.sink.to(thread.company)[mails_before:]
    accepted = sum(1 for _, _, got, _, _ in results if "accepted" in got)
    assert len(relayed) == accepted
    assert all("pirate" not in m.get_body(("plain",)).get_content() for m in relayed)
    assert not system.sink.to("victime@exemple.fr")  # an injected Bcc reaches no one

    # A genuine reply after the garbage still goes through, once, without the quote.
    marker = f"Réponse authentique {uuid.uuid4().hex[:6]}"
    code, _ = send(port, thread.lead, thread.lead_reply_to, text_mail(
        thread.lead, thread.lead_reply_to,
        f"{marker}, je vous appelle demain.\n\nLe jeu. 26 nov. 2026 à 09:00, MonLycéePro a écrit :\n> citation"))
    assert code == 250
    eventually(lambda: any(marker in m.get_body(("plain",)).get_content()
                           for m in system.sink.to(thread.company)), timeout=60, what="genuine reply")
    genuine = [m for m in system.sink.to(thread.company) if marker in m.get_body(("plain",)).get_content()]
    assert len(genuine) == 1 and "> citation" not in genuine[0].get_body(("plain",)).get_content()
    print(f"\nINBOUND hostile={len(results)} outcomes={dict(sum((Counter(r[2]) for r in results), Counter()))}")


# Regression test (open bug when written, fixed in c614f6e): a reply made only of the quoted history was relayed.
@pytest.mark.parametrize("body", [
    "Le lun. 23 nov. 2026 à 10:00, MonLycéePro a écrit :\n> Une entreprise cherche des élèves\n",
    "> Une entreprise cherche des élèves\n> pour une PFMP\n",
], ids=["attribution-and-quote", "quote-only"])
def test_a_reply_with_nothing_but_the_quote_is_not_relayed(fuzz_system, thread, body):
    port = int(fuzz_system.env["MLP_INBOUND_SMTP_PORT"])
    before = outcomes(fuzz_system)
    count("smtp-hostile")
    assert send(port, thread.lead, thread.lead_reply_to, text_mail(thread.lead, thread.lead_reply_to, body))[0] == 250
    assert +(outcomes(fuzz_system) - before) == Counter({"malformed": 1})


# Regression test (open bug when written, fixed in c614f6e): headerless garbage was relayed as a reply.
def test_random_bytes_without_any_header_are_not_relayed(fuzz_system, thread):
    port = int(fuzz_system.env["MLP_INBOUND_SMTP_PORT"])
    rng = random.Random(3)
    junk = b"\r\n".join(bytes(rng.randrange(33, 256) for _ in range(70)) for _ in range(40))
    before = outcomes(fuzz_system)
    count("smtp-hostile")
    assert send(port, thread.lead, thread.lead_reply_to, junk)[0] == 250
    assert +(outcomes(fuzz_system) - before) == Counter({"malformed": 1})


# Regression test (open bug when written, fixed in c614f6e): bare '>' quoted lines were relayed.
def test_bare_quoted_lines_are_not_relayed(fuzz_system, thread):
    port = int(fuzz_system.env["MLP_INBOUND_SMTP_PORT"])
    marker = f"Réponse {uuid.uuid4().hex[:6]}"
    count("smtp-hostile")
    body = f"{marker}, c'est d'accord.\n\n> Historique cité sans ligne d'attribution\n"
    assert send(port, thread.lead, thread.lead_reply_to, text_mail(thread.lead, thread.lead_reply_to, body))[0] == 250
    eventually(lambda: any(marker in m.get_body(("plain",)).get_content()
                           for m in fuzz_system.sink.to(thread.company)), timeout=60, what="relayed")
    relayed = next(m for m in fuzz_system.sink.to(thread.company) if marker in m.get_body(("plain",)).get_content())
    assert "Historique cité" not in relayed.get_body(("plain",)).get_content()


def _relayed_with(system, address: str, marker: str) -> list[EmailMessage]:
    return [m for m in system.sink.to(address) if marker in m.get_body(("plain",)).get_content()]


def test_repeated_rcpts_and_a_resent_message_id_are_relayed_once(fuzz_system, thread):
    """Issue 17 item 5: the same message to the reply address and its case variants in one transaction,
    then sent again (and again, edited, with the same Message-ID), reaches the company once."""
    port = int(fuzz_system.env["MLP_INBOUND_SMTP_PORT"])
    to = thread.lead_reply_to
    local, domain = to.split("@")
    marker = f"Réponse unique {uuid.uuid4().hex[:6]}"
    data = text_mail(thread.lead, to, f"{marker}, rendez-vous mardi.")
    before = outcomes(fuzz_system)
    count("smtp-hostile", 3)
    assert send_to_many(port, thread.lead, [to, to.upper(), f"{local}@{domain.upper()}", to], data) == 250
    assert send(port, thread.lead, to, data)[0] == 250
    assert send(port, thread.lead, to, data.replace(b"rendez-vous mardi", b"rendez-vous jeudi"))[0] == 250
    assert +(outcomes(fuzz_system) - before) == Counter({"accepted": 1, "duplicate": 5})
    eventually(lambda: _relayed_with(fuzz_system, thread.company, marker), timeout=60, what="relayed")
    assert len(_relayed_with(fuzz_system, thread.company, marker)) == 1


def _attachment_mail(sender: str, to: str, body: str, files: list[tuple[bytes, str, str, str]]) -> bytes:
    msg = _headers(EmailMessage(), sender, to)
    msg.set_content(body)
    for data, maintype, subtype, name in files:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=policy.SMTP)


EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(120) + b"This program cannot be run in DOS mode.\r\r\n$"


def test_executable_and_html_attachments_are_not_relayed_and_the_sender_is_told(fuzz_system, thread):
    """Issue 17 item 6: « ../../plaquette.pdf.exe » and an HTML file with <script> reached the company."""
    port = int(fuzz_system.env["MLP_INBOUND_SMTP_PORT"])
    marker = f"Pièces {uuid.uuid4().hex[:6]}"
    notices_before = len(fuzz_system.sink.to(thread.lead))
    files = [
        (EXE, "application", "pdf", "../../plaquette.pdf.exe"),
        (b"<html><body><script>document.location='https://pirate.example'</script></body></html>", "text", "html",
         "programme.html"),
        (b"<script>alert(1)</script>", "text", "plain", "lisez-moi.txt"),
        (b"%PDF-1.4\n%vraie plaquette\n", "application", "octet-stream", "..\\..\\vraie\u202eplaquette.pdf.exe"),
    ]
    before = outcomes(fuzz_system)
    count("smtp-hostile", 2)
    assert send(port, thread.lead, thread.lead_reply_to,
                _attachment_mail(thread.lead, thread.lead_reply_to, f"{marker} : voici la plaquette.", files))[0] == 250
    assert send(port, thread.lead, thread.lead_reply_to,
                _attachment_mail(thread.lead, thread.lead_reply_to, "", files[:3]))[0] == 250
    assert +(outcomes(fuzz_system) - before) == Counter({"accepted": 1, "refused_attachments": 1})
    eventually(lambda: _relayed_with(fuzz_system, thread.company, marker), timeout=60, what="relayed")
    relayed = _relayed_with(fuzz_system, thread.company, marker)[0]
    assert [(p.get_filename(), p.get_content_type()) for p in relayed.iter_attachments()] == [
        ("vraieplaquette.pdf", "application/pdf")]
    assert "programme.html (type de fichier non accepté)" in relayed.get_body(("plain",)).get_content()
    notices = eventually(lambda: len(fuzz_system.sink.to(thread.lead)) >= notices_before + 2
                         and fuzz_system.sink.to(thread.lead)[notices_before:], timeout=60, what="notices")
    texts = [m.get_body(("plain",)).get_content() for m in notices]
    assert any("bien été transmis, mais sans ces pièces jointes" in t and "plaquette.pdf.exe" in t for t in texts)
    assert any("n'a pas été transmis" in t and "programme.html" in t for t in texts)


def test_undecodable_parts_are_not_relayed_nor_counted_as_an_answer(fuzz_system, thread):
    """Issue 17 item 7: invalid base64 was relayed as mojibake and counted as the lycée's reply."""
    port = int(fuzz_system.env["MLP_INBOUND_SMTP_PORT"])
    to, lead = thread.lead_reply_to, thread.lead
    marker = f"Lisible {uuid.uuid4().hex[:6]}"
    boundary = "=_frontiere"
    mixed = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{marker}, la pièce suit.\r\n"
             f"--{boundary}\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
             f"Content-Disposition: attachment; filename=convention.pdf\r\n\r\nJVBERi0x***%%%==\r\n"
             f"--{boundary}--\r\n").encode()
    only_bad = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
                f"\r\n\u00e9\u00e9\u00e9 ### !!!\r\n--{boundary}\r\nContent-Type: image/png\r\n"
                f"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.png\r\n\r\n"
                f"iVBORw0KGgo@@@\r\n--{boundary}--\r\n").encode()
    before = outcomes(fuzz_system)
    count("smtp-hostile", 2)
    assert send(port, lead, to, raw_mail(lead, to, f'Content-Type: multipart/mixed; boundary="{boundary}"',
                                         only_bad))[0] == 250
    assert send(port, lead, to, raw_mail(lead, to, f'Content-Type: multipart/mixed; boundary="{boundary}"',
                                         mixed))[0] == 250
    assert +(outcomes(fuzz_system) - before) == Counter({"undecodable": 1, "accepted": 1})
    eventually(lambda: _relayed_with(fuzz_system, thread.company, marker), timeout=60, what="relayed")
    relayed = _relayed_with(fuzz_system, thread.company, marker)[0]
    assert list(relayed.iter_attachments()) == []
    assert "convention.pdf (fichier illisible, encodage invalide)" in relayed.get_body(("plain",)).get_content()
    stored = Counter(row[0] for row in query(fuzz_system.tmp_path / "notifier.db",
                                             "SELECT outcome FROM notifier_inbound"))
    assert stored["undecodable"] >= 1 and stored["received"] == 0
