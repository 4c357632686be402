"""Pure logic: signed reply addresses, action tokens, working days, inbound classification."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from services.notifier.service import attachments as att
from services.notifier.service.addresses import (
    ActionTokenError,
    _serializer,
    make_action_token,
    read_action_token,
    reply_address,
    verify_reply_address,
)
from services.notifier.service.calendar import WorkingCalendar, french_holidays
from services.notifier.service.inbound import is_auto_reply, is_bounce, parse, strip_reply
from tests.notifier.support import reply_bytes

SECRET = "k" * 40
DOMAIN = "reponse.example.fr"


def test_reply_address_round_trip_and_length():
    address = reply_address(SECRET, DOMAIN, "0123456789", "abcdef01")
    local = address.split("@")[0]
    assert len(local) <= 64
    target = verify_reply_address(SECRET, DOMAIN, address.upper())  # case folded by a mail system
    assert target is not None and (target.thread_token, target.participant_token) == ("0123456789", "abcdef01")


@pytest.mark.parametrize("mutate", [
    lambda a: a.replace("reply+0", "reply+1"),  # another thread
    lambda a: a.replace(".abcdef01.", ".abcdef02."),  # another participant
    lambda a: a[:-len(DOMAIN) - 2] + "0@" + DOMAIN,  # tampered signature
    lambda a: a.replace(DOMAIN, "evil.example"),  # another domain
    lambda a: "postmaster@" + DOMAIN,
    lambda a: "n'importe quoi",
])
def test_forged_reply_addresses_are_refused(mutate):
    good = reply_address(SECRET, DOMAIN, "0123456789", "abcdef01")
    assert verify_reply_address(SECRET, DOMAIN, mutate(good)) is None
    assert verify_reply_address("autre-cle" * 5, DOMAIN, good) is None


def test_action_token_tampered_and_expired():
    token = make_action_token(SECRET, "p1", "accept", now=time.time() - 2)  # issued 2 s ago
    claim = read_action_token(SECRET, token, 3600)
    assert (claim.participant_id, claim.action) == ("p1", "accept")
    with pytest.raises(ActionTokenError) as bad:
        read_action_token(SECRET, token[:-3] + ("aaa" if token[-3:] != "aaa" else "bbb"), 3600)
    assert bad.value.reason == "invalid"
    with pytest.raises(ActionTokenError) as old:
        read_action_token(SECRET, token, 0)
    assert old.value.reason == "expired"


def test_action_token_is_what_itsdangerous_writes(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.7)
    monkeypatch.setattr("secrets.token_hex", lambda n: "eefef6bef63d213e")
    participant_id = "0ed9390b853a40f9b6d56bc3e87ba982"  # a claim itsdangerous does not compress
    expected = _serializer(SECRET).dumps({"p": participant_id, "a": "accept", "n": "eefef6bef63d213e"})
    assert make_action_token(SECRET, participant_id, "accept") == expected
    compressible = "0123456789abcdef0123456789abcdef"  # itsdangerous compresses it; unpacked reads the same
    assert _serializer(SECRET).dumps({"p": compressible, "a": "accept", "n": "eefef6bef63d213e"}).startswith(".")
    claim = read_action_token(SECRET, make_action_token(SECRET, compressible, "accept"), 3600)
    assert (claim.participant_id, claim.action, claim.nonce) == (compressible, "accept", "eefef6bef63d213e")


def test_working_days_skip_weekends_and_french_holidays():
    cal = WorkingCalendar(frozenset(range(5)), holidays=True, tz="Europe/Paris")
    friday = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert cal.add_working_days(friday, 3) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Mon, Tue, Wed
    # 11 November 2026 (Wednesday) is a public holiday.
    monday = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    assert cal.add_working_days(monday, 3) == datetime(2026, 11, 13, 9, 0, tzinfo=UTC)
    assert date(2027, 3, 29) in french_holidays(2027)  # Easter Monday 2027
    no_holidays = WorkingCalendar(frozenset(range(5)), holidays=False)
    assert no_holidays.add_working_days(monday, 3) == datetime(2026, 11, 12, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("headers,subject", [
    ({"Auto-Submitted": "auto-replied"}, "Re: votre demande"),
    ({"Precedence": "bulk"}, "Re: votre demande"),
    ({"X-Autoreply": "yes"}, "Re: votre demande"),
    ({"X-Autorespond": "1"}, "Re: votre demande"),
    ({}, "Absence du bureau"),
    ({}, "Out of Office: back on Monday"),
    ({}, "Réponse automatique : congés"),
])
def test_auto_replies_are_recognised(headers, subject):
    msg = parse(reply_bytes(sender="a@b.fr", to="x@y.fr", subject=subject, body="Je suis absente.", headers=headers))
    assert is_auto_reply(msg)


def test_human_reply_is_not_an_auto_reply_and_bounces_are_recognised():
    human = parse(reply_bytes(sender="a@b.fr", to="x@y.fr", subject="Re: demande", body="Oui !"))
    assert not is_auto_reply(human)
    assert not is_bounce(human, "a@b.fr")
    assert is_bounce(human, "")  # null reverse-path
    daemon = parse(reply_bytes(sender="MAILER-DAEMON@mx.example.fr", to="x@y.fr", subject="Undelivered", body="."))
    assert is_bounce(daemon, "bounces@mx.example.fr")


def test_quoted_history_is_stripped_and_the_signature_kept():
    """Issue 17 item 4: the sign-off went with the history, so the company did not know whom to call."""
    text = ("Bonjour,\n\nNous pouvons accueillir deux stagiaires en mars.\n\nCordialement,\nMarie Dupont\n"
            "RBE, Lycée François Rabelais\n04 72 00 00 00\n\n"
            "Le lun. 23 nov. 2026 à 10:00, MonLycéePro <ne-pas-repondre@x.fr> a écrit :\n"
            "> Une entreprise cherche des stagiaires\n> Contact : Jeanne\n")
    stripped = strip_reply(text)
    assert "deux stagiaires en mars" in stripped
    assert "a écrit" not in stripped and "> Une entreprise" not in stripped
    assert stripped.endswith("Cordialement,\nMarie Dupont\nRBE, Lycée François Rabelais\n04 72 00 00 00")


@pytest.mark.parametrize("footer", [
    "Envoyé de mon iPhone", "Envoyé depuis mon téléphone", "Envoyé depuis mon smartphone Samsung Galaxy.",
    "Sent from my iPhone", "Télécharger Outlook pour Android", "Get Outlook for iOS",
    "Envoyé à partir de Courrier pour Windows", "Envoyé depuis Yahoo Mail pour Android",
])
def test_device_footers_are_dropped_and_the_signature_kept(footer):
    text = (f"Oui, c'est d'accord.\n\nBien cordialement,\nMarie Dupont\n04 72 00 00 00\n\n{footer}\n"
            "________________________________\nDe : MonLycéePro <ne-pas-repondre@x.fr>\nEnvoyé : lundi\n> citation\n")
    assert strip_reply(text) == "Oui, c'est d'accord.\n\nBien cordialement,\nMarie Dupont\n04 72 00 00 00"


def test_a_sentence_that_looks_like_a_footer_but_is_not_last_is_kept():
    text = "Envoyé de mon bureau ce matin : la convention est signée.\nMarie"
    assert strip_reply(text) == text


@pytest.mark.parametrize("text", [
    "Le lun. 23 nov. 2026 à 10:00, MonLycéePro a écrit :\n> Une entreprise cherche des élèves\n",
    "> Une entreprise cherche des élèves\n> pour une PFMP\n",
    "On Mon, Nov 23, 2026 at 10:00 AM MonLycéePro wrote:\n> hello\n",
    "-------- Message d'origine --------\nDe : MonLycéePro <x@y.fr>\nUne entreprise cherche\n",
])
def test_a_reply_holding_only_history_is_empty(text):
    assert strip_reply(text) == ""


def test_wrapped_attribution_and_bare_quotes_are_cut_but_new_text_kept():
    text = ("Oui, c'est d'accord.\n> ligne citée sans attribution\nLe stage commence le 4 mars.\n\n"
            "Le jeu. 26 nov. 2026 à 09:00, MonLycéePro <reply+abc@x.fr>\na écrit :\n> citation\n")
    assert strip_reply(text) == "Oui, c'est d'accord.\nLe stage commence le 4 mars."


# ------------------------------------------------------------------ attachments (issue 17 item 6)
def _ole(*streams: str) -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + b"".join(s.encode("utf-16-le") for s in streams)


@pytest.mark.parametrize(("data", "name", "kind"), [
    (b"%PDF-1.7", "x.exe", att.PDF),
    (b"\xff\xd8\xff\xe0JFIF", "photo", att.JPEG),
    (b"GIF89a....", "a.gif", att.GIF),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "a.webp", att.WEBP),
    (_ole("Root Entry", "WordDocument"), "cv.doc", att.DOC),
    (_ole("Root Entry", "Workbook"), "t.xls", att.XLS),
    ("Nom;Ville\nDupré;Lyon\n".encode("cp1252"), "liste.csv", att.CSV),
    ("Bonjour à tous".encode(), "note", att.TXT),
])
def test_allowed_attachments_are_recognised_by_content(data, name, kind):
    assert att.sniff(data, name) == kind


@pytest.mark.parametrize(("data", "name", "reason"), [
    (b"MZ\x90\x00" + b"\x00" * 60, "plaquette.pdf", "type"),
    (b"\x7fELF\x02\x01\x01", "doc.pdf", "type"),
    (_ole("Root Entry", "SummaryInformation"), "setup.doc", "type"),  # an MSI installer
    (_ole("Root Entry", "WordDocument", "Macros", "_VBA_PROJECT"), "cv.doc", "macro"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.txt", "type"),
    (b"<!DOCTYPE html><p>bonjour</p>", "page.txt", "type"),
    (b"echo bonjour", "lancer.bat", "type"),
    (b"PK\x03\x04garbage", "a.docx", "type"),
    (b"", "vide.txt", "type"),
])
def test_other_attachments_are_refused_whatever_their_name(data, name, reason):
    with pytest.raises(att.Refused) as refused:
        att.sniff(data, name)
    assert refused.value.reason == reason


@pytest.mark.parametrize(("name", "kind", "expected"), [
    ("../../plaquette.pdf.exe", att.PDF, "plaquette.pdf"),
    ("C:\\Users\\x\\Photo.JPEG", att.JPEG, "Photo.jpeg"),
    ("photo.png", att.JPEG, "photo.jpg"),
    ("fiche\u202egpj.exe", att.PDF, "fichegpj.pdf"),
    ("a\x00b\r\nc.txt", att.TXT, "abc.txt"),
    ("...", att.PDF, "piece-jointe.pdf"),
    (None, att.PNG, "piece-jointe.png"),
    ('con<>:"|?*.pdf', att.PDF, "con_______.pdf"),
    ("é" * 300 + ".pdf", att.PDF, "é" * 96 + ".pdf"),
])
def test_file_names_are_sanitised_and_take_the_detected_extension(name, kind, expected):
    assert att.safe_filename(name, kind) == expected


def test_new_row_is_the_constructors_object(tmp_path):
    """models.new_row builds what the table model's constructor builds (defaults, default factories,
    fields set, a transient SQLAlchemy state), and a session inserts it as usual."""
    from sqlalchemy import inspect
    from sqlmodel import Session, select

    from services.notifier.migrations import SCHEMA
    from services.notifier.models import Participant, Thread, new_row
    from shared.platform.db import make_engine
    from shared.platform.migrations import upgrade

    values = dict(thread_id="t" * 32, token="abcdefgh", role="lead", email="x@example.fr", name=None,
                  lead_since=datetime.now(UTC))
    made, built = Participant(**values), new_row(Participant, **values)
    assert inspect(built).transient
    assert built.model_dump(exclude={"id", "created_at"}) == made.model_dump(exclude={"id", "created_at"})
    assert built.id != made.id and len(built.id) == 32 and built.created_at.tzinfo is not None
    assert built.model_fields_set == made.model_fields_set
    with pytest.raises(TypeError):
        new_row(Participant, nope=1)
    engine = make_engine(f"sqlite:///{tmp_path}/n.db")
    upgrade(SCHEMA, engine)
    thread = new_row(Thread, token="tok", request_id="r1", subject="s", root_message_id="<x>", company_name="c",
                     routed_at=datetime.now(UTC))
    thread_id = thread.id
    with Session(engine) as session:
        session.add(thread)
        session.flush()
        session.add(new_row(Participant, **{**values, "thread_id": thread.id}))
        session.commit()
    with Session(engine) as session:
        stored = session.exec(select(Participant)).one()
        assert (stored.thread_id, stored.status, stored.active, stored.email) == (thread_id, "pending", True, values["email"])
    engine.dispose()
