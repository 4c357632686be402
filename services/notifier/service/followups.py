"""The company sent its request again: its changes go into the thread, and when the matcher routed the
request afresh (a new job or place), the RBEs no longer concerned are told and leave, newcomers join
with the request as it stands and what was said so far, and the company learns who answers now."""

from __future__ import annotations

import json

from sqlmodel import Session

from services.notifier import repository as repo
from services.notifier.models import Participant, Thread
from services.notifier.service.mailer import (
    NotifierContext,
    author_label,
    new_entry,
    publish_thread_message,
    queue_copy,
    thread_context,
)
from services.notifier.service.threads import (
    ThreadNotReady,
    additional_participants,
    participant_from_recipient,
)
from shared.contracts.changes import change_lines
from shared.contracts.events import RequestChange, RequestFollowUp

HISTORY_KINDS = ("reply", "followup", "transfer", "escalation")
HISTORY_LINES = 8
WITHDRAWN = "withdrawn"


def followup_text(event: RequestFollowUp) -> str:
    lines = change_lines(event.changes)
    message = event.message.strip()
    if lines:
        text = "Ce qui change :\n" + "\n".join(f"- {line}" for line in lines)
        return f"{text}\n\nSon message :\n{message}" if message else text
    return message or "L'entreprise a renouvelé sa demande, sans changement."


def _update_summary(thread: Thread, changes: list[RequestChange]) -> None:
    """Later emails (reminders, newcomers' copies) show the request as it stands now."""
    summary = json.loads(thread.request_summary or "{}")
    for c in changes:
        if c.field == "needs":
            thread.needs = c.after
        elif c.field == "jobs":
            summary["jobs"] = [j.strip() for j in c.after.split(",") if j.strip()]
            summary["understood"] = []  # it described the former jobs
        elif c.field == "place":
            summary["commune"] = c.after
        elif c.field == "places":
            summary["places"] = int(c.after) if c.after.isascii() and c.after.isdigit() else None
        elif c.field in ("period", "message"):
            summary[c.field] = c.after
    thread.request_summary = json.dumps(summary, ensure_ascii=False)


def _history(session: Session, thread: Thread, people: list[Participant]) -> list[str]:
    by_id = {p.id: p for p in people}
    entries = [e for e in repo.entries(session, thread.id) if e.kind in HISTORY_KINDS and e.text.strip()]
    lines = []
    for e in entries[-HISTORY_LINES:]:
        who = author_label(by_id[e.author_participant_id]) if e.author_participant_id in by_id else "MonLycéePro"
        text = " ".join(e.text.split())
        lines.append(f"{e.created_at:%d/%m/%Y} – {who} : {text[:400]}{'…' if len(text) > 400 else ''}")
    return lines


def follow_up(session: Session, ctx: NotifierContext, event: RequestFollowUp) -> None:
    thread = repo.thread_by_request(session, str(event.original_request_id))
    if thread is None:
        raise ThreadNotReady(str(event.original_request_id))
    if thread.erased:
        return
    text = followup_text(event)
    _update_summary(thread, event.changes)
    session.add(thread)
    everyone = repo.participants(session, thread.id)
    company = next((p for p in everyone if p.role == "company"), None)
    history = _history(session, thread, everyone)
    entry = new_entry(session, thread, "followup", author=company, text=text, at=ctx.now())
    if not event.rerouted:
        people = [p for p in everyone if p.active]
        shared = thread_context(session, thread, people)
        for person in people:
            if person.role != "company":
                queue_copy(session, ctx, thread, entry, person, "notice", shared=shared, notice="followup", text=text)
        return  # no ThreadMessage: intake consumes request.followup itself and shows it to the company
    _reroute(session, ctx, thread, event, everyone, entry, text, history)


def _reroute(session: Session, ctx: NotifierContext, thread: Thread, event: RequestFollowUp,
             everyone: list[Participant], entry, text: str, history: list[str]) -> None:
    wanted = {str(r.assignment_id): r for r in event.recipients}
    by_assignment = {p.assignment_id: p for p in everyone if p.assignment_id}
    names = [name.lower() for r in wanted.values() for name in r.lycees]
    # A copy without an assignment (a lycée's other RBE, issue 22) follows its lycée: it stays while one of the
    # lycées its label names is still concerned.
    copied = {extra.email.strip().lower() for r in wanted.values() for extra in r.additional_rbes}
    kept = {p.id for p in everyone if p.active and p.assignment_id is None and p.role == "copy"
            and (p.email.strip().lower() in copied or (p.label and any(name in p.label.lower() for name in names)))}
    leaving = [p for p in everyone if p.active and p.role in ("lead", "copy") and p.assignment_id not in wanted
               and p.id not in kept]
    staying = [p for p in everyone if p.active and (p.assignment_id in wanted or p.id in kept)]
    joining: list[Participant] = []
    for assignment_id, r in wanted.items():
        person = by_assignment.get(assignment_id)
        if person is None:
            person = participant_from_recipient(session, ctx, thread, r, r.role)
            joining.append(person)
        elif not person.active:
            person.active, person.status = True, "pending"
            joining.append(person)
        if r.role == "lead" and person.role != "lead":
            person.lead_since, person.reminded_at, person.expired_at = ctx.now(), None, None
        person.role = r.role
        session.add(person)
    # The new lycées' other confirmed RBEs join as copies (issue 22), each address once in the thread; one who
    # had left with an earlier change comes back rather than twice.
    for person in everyone:
        if (not person.active and person.assignment_id is None and person.role == "copy"
                and person.email.strip().lower() in copied):
            person.active, person.status = True, "pending"
            session.add(person)
            joining.append(person)
    known = {p.email.strip().lower() for p in everyone if p.active and p.role != "company"} | {
        p.email.strip().lower() for p in joining}
    joining += additional_participants(session, ctx, thread, list(wanted.values()), known)
    session.flush()
    leaving_text = ("L'entreprise a modifié sa demande (métier ou lieu) : votre établissement n'est plus concerné. "
                    "Merci de votre attention ; vous ne recevrez plus de message sur cette demande.\n\n" + text)
    shared_before = thread_context(session, thread, [p for p in everyone if p.active])
    for person in leaving:
        queue_copy(session, ctx, thread, entry, person, "notice", shared=shared_before, notice="followup_left",
                   text=leaving_text)
        person.active, person.status, person.role = False, WITHDRAWN, "copy"
        session.add(person)
    session.flush()
    active = repo.participants(session, thread.id, active_only=True)
    shared = thread_context(session, thread, active)
    lycees = [author_label(p) for p in active if p.role in ("lead", "copy")]
    lead = shared["lead_label"]
    company_text = (f"Votre demande a été mise à jour et transmise à : {', '.join(lycees)}. "
                    f"{lead} coordonne désormais la réponse.")
    company_copy = None
    joining_ids = {p.id for p in joining}
    for person in active:
        if person.role == "company":
            company_copy = queue_copy(session, ctx, thread, entry, person, "notice", shared=shared,
                                      notice="rerouted_company", text=f"{company_text}\n\n{text}")
        elif person.id in joining_ids:
            queue_copy(session, ctx, thread, entry, person, "rbe_request", shared=shared, intro="reroute",
                       changes=text, history=history)
        elif person in staying:
            queue_copy(session, ctx, thread, entry, person, "notice", shared=shared, notice="followup",
                       text=f"{text}\n\nLycées désormais concernés : {', '.join(lycees)} ({lead} coordonne).")
    publish_thread_message(session, ctx, thread, entry, "status", text=company_text,
                           message_id=company_copy.message_id if company_copy else None)
