"""Thread life cycle driven by events: creation on routing, lead change on escalation, the
erasure (the company's follow-ups: followups.py). Each function only writes rows (thread, participants, entries,
copies to send, outbox events) in the caller's transaction."""

from __future__ import annotations

import json

from sqlmodel import Session

from services.notifier import repository as repo
from services.notifier.models import Participant, Thread, ThreadEntry, id_tail, new_row
from services.notifier.outcomes import repository as outcomes_repo
from services.notifier.service.addresses import new_participant_token, new_thread_token
from services.notifier.service.emails import need_labels, one_line
from services.notifier.service.mailer import (
    NotifierContext,
    author_label,
    new_entry,
    publish_thread_message,
    queue_copy,
    thread_context,
)
from shared.contracts.events import RequestErased, RequestRouted, RoutedRecipient
from shared.platform.outbox import delete_published_about


class ThreadNotReady(Exception):
    """The thread an event refers to does not exist yet (events of two streams raced): retry later."""


def _subject(event: RequestRouted) -> str:
    needs = ", ".join(need_labels(list(event.needs))) or "Demande"
    where = f" ({event.commune_name})" if event.commune_name else ""
    return one_line(f"[MonLycéePro] {event.company_name} : {needs}{where}")[:290]


def _summary(event: RequestRouted) -> str:
    return json.dumps({
        "jobs": event.jobs, "places": event.places, "period": event.period, "commune": event.commune_name,
        "message": event.message, "contact_name": event.contact.name, "contact_phone": event.contact.phone,
        "contact_email": event.contact.email, "explanation": event.explanation, "understood": event.understood,
        # Why each RBE was chosen (their lycées' diplomas for the job, distance), shown in their own email.
        "why": {r.rbe_email.strip().lower(): r.reasons[:4] for r in event.recipients},
    }, ensure_ascii=False)


def _participant(session: Session, thread: Thread, role: str, email: str, *, name: str | None = None,
                 label: str = "", assignment_id: str | None = None, ctx: NotifierContext,
                 taken: set[str] | None = None, staged: list[Participant] | None = None) -> Participant:
    """A new participant with a token unique in the thread; ``taken``: the thread's tokens when the
    caller tracks them (a new thread), else they are read. ``staged``: the participant is appended
    there, for the caller to insert, instead of being added to the session."""
    if taken is None:
        taken = {p.token for p in repo.participants(session, thread.id)}
    token = new_participant_token()
    while token in taken:
        token = new_participant_token()
    taken.add(token)
    person = new_row(Participant, thread_id=thread.id, token=token, role=role, email=email.strip(), name=name,
                     label=label[:500], assignment_id=assignment_id, lead_since=ctx.now() if role == "lead" else None)
    if staged is not None:
        staged.append(person)
    else:
        session.add(person)
    return person


def participant_from_recipient(session: Session, ctx: NotifierContext, thread: Thread, r: RoutedRecipient,
                    role: str, taken: set[str] | None = None, staged: list[Participant] | None = None) -> Participant:
    return _participant(session, thread, role, r.rbe_email, name=r.rbe_name, label=", ".join(r.lycees),
                        assignment_id=str(r.assignment_id), ctx=ctx, taken=taken, staged=staged)


def additional_participants(session: Session, ctx: NotifierContext, thread: Thread, recipients: list[RoutedRecipient],
                            known: set[str], taken: set[str] | None = None,
                            staged: list[Participant] | None = None) -> list[Participant]:
    """The other confirmed RBEs of the recipients' lycées (issue 22): copies of the thread without an assignment,
    like an RBE who joined after their confirmation. ``known``: the addresses already in the thread (lower-cased),
    completed here: nobody gets two copies of one message."""
    people = []
    for r in recipients:
        for extra in r.additional_rbes:
            key = extra.email.strip().lower()
            if not key or key in known:
                continue
            known.add(key)
            people.append(_participant(session, thread, "copy", extra.email, name=extra.name,
                                       label=", ".join(extra.lycees or r.lycees), ctx=ctx, taken=taken, staged=staged))
    return people


def _ensure_fallback(session: Session, ctx: NotifierContext, thread: Thread) -> Participant | None:
    existing = [p for p in repo.participants(session, thread.id) if p.role == "fallback"]
    if existing:
        return None
    email = thread.fallback_email or ctx.settings.fallback_email
    return _participant(session, thread, "fallback", email, label="Référent entreprises de l'académie", ctx=ctx)


def start_thread(session: Session, ctx: NotifierContext, event: RequestRouted) -> Thread:
    """One thread per request, one copy of the first message per participant."""
    if repo.thread_exists_for(session, str(event.request_id)):  # a redelivered event
        return repo.thread_by_request(session, str(event.request_id))  # type: ignore[return-value]
    token = new_thread_token()
    s = ctx.settings
    # Everything of a new thread is created here: unattached objects (the templates read them),
    # inserted together below, and nothing is read back (tokens, the participants shown in each
    # copy, the recipients' previous messages: there are none yet).
    thread = new_row(
        Thread, token=token, request_id=str(event.request_id), subject=_subject(event),
        root_message_id=f"<thread.{token}@{s.reply_domain}>", company_name=event.company_name,
        needs=",".join(event.needs), academie=event.academie, fallback_email=event.fallback_email,
        request_summary=_summary(event), routed_at=ctx.now(), correlation_id=event.correlation_id,
    )
    recipients = [] if event.unroutable else list(event.recipients)
    if recipients and not any(r.role == "lead" for r in recipients):
        recipients[0] = recipients[0].model_copy(update={"role": "lead"})
    taken: set[str] = set()
    people: list[Participant] = []
    created = [participant_from_recipient(session, ctx, thread, r, r.role, taken, people) for r in recipients]
    rbes = sorted(created, key=lambda p: p.role != "lead")
    known = {p.email.lower() for p in created}
    copied = additional_participants(session, ctx, thread, recipients, known, taken, people)
    fallback = None
    if not rbes:
        email = thread.fallback_email or ctx.settings.fallback_email
        fallback = _participant(session, thread, "fallback", email, label="Référent entreprises de l'académie",
                                ctx=ctx, taken=taken, staged=people)
    company = _participant(session, thread, "company", event.contact.email, name=event.contact.name,
                           label=event.company_name, ctx=ctx, taken=taken, staged=people)
    entry = new_row(ThreadEntry, thread_id=thread.id, kind="initial", author_role="system", created_at=ctx.now())
    repo.insert_new_thread(session, thread, people, entry)
    shared = thread_context(session, thread, people)
    rows: list[dict] = []  # one INSERT for every copy
    for person in rbes + copied:
        queue_copy(session, ctx, thread, entry, person, "rbe_request", shared=shared, first_copy=True,
                   batch=rows, intro="new")
    # Outside the pilot académies the contact is told why the request reached it, and the company again
    # what it was told before it submitted (issue 20).
    outside = None if event.in_pilot else (event.pilot_notice or "Votre académie ne fait pas encore partie des "
                                                                  "académies pilotes de MonLycéePro.")
    if fallback is not None:
        queue_copy(session, ctx, thread, entry, fallback, "rbe_request", shared=shared, first_copy=True,
                   batch=rows, intro="unroutable" if outside is None else "outside_pilot", pilot_notice=outside)
    ack = queue_copy(session, ctx, thread, entry, company, "company_ack", shared=shared, first_copy=True,
                     batch=rows, unroutable=not rbes, status_url=event.status_url, pilot_notice=outside)
    repo.insert_outbound(session, rows)
    lycees = [p.label for p in rbes if p.label]
    text = (f"Votre demande a été transmise à : {', '.join(lycees)}." if lycees else
            f"{outside} Le référent entreprises de l'académie a reçu votre demande." if outside else
            "Aucun lycée proche ne correspond encore : le référent entreprises de l'académie a reçu votre demande.")
    publish_thread_message(session, ctx, thread, entry, "acknowledgement", text=text, message_id=ack.message_id)
    return thread


def _departure_reason(person: Participant) -> str:
    return {
        "declined": "a indiqué ne pas pouvoir donner suite",
        "expired": "n'a pas pu répondre dans les délais",
        "transferred": "a transmis la demande",
    }.get(person.status, "n'est plus en charge de la demande")


def escalate(session: Session, ctx: NotifierContext, event: RequestRouted) -> Thread:
    """The lead role moves to another RBE (after a decline or an expiry): tell everyone honestly."""
    thread = repo.thread_by_request(session, str(event.request_id))
    if thread is None:
        return start_thread(session, ctx, event)
    if event.fallback_email:
        thread.fallback_email = event.fallback_email
        session.add(thread)
    people = repo.participants(session, thread.id)
    old_leads = [p for p in people if p.role == "lead"]
    new_lead: Participant | None = None
    newcomers: list[Participant] = []
    for r in [] if event.unroutable else event.recipients:
        person = repo.participant_by_assignment(session, thread.id, str(r.assignment_id))
        if person is None:
            person = participant_from_recipient(session, ctx, thread, r, r.role)
            newcomers.append(person)
        if r.role == "lead":
            person.role, person.lead_since, person.reminded_at, person.expired_at = "lead", ctx.now(), None, None
            if person.status in ("expired", "declined", "transferred"):
                person.status = "pending"
            person.active = True
            new_lead = person
        session.add(person)
    if not event.unroutable:
        known = {p.email.strip().lower() for p in people if p.active} | {p.email.lower() for p in newcomers}
        newcomers += additional_participants(session, ctx, thread, list(event.recipients), known)
    for old in old_leads:
        if new_lead is not None and old.id == new_lead.id:
            continue
        old.role = "copy"
        old.active = old.status not in ("declined", "transferred")
        session.add(old)
    session.flush()
    before = author_label(old_leads[0]) if old_leads else "Le lycée sollicité"
    reason = _departure_reason(old_leads[0]) if old_leads else "n'a pas pu donner suite"
    fallback = _ensure_fallback(session, ctx, thread) if new_lead is None else None
    if new_lead is not None and not old_leads:  # nobody led (no lycée fitted): the académie's referent chose one
        before, reason = "Le référent entreprises de l'académie", "vous a confié cette demande"
        text = (f"Le référent entreprises de l'académie a confié votre demande à {author_label(new_lead)}, qui "
                "coordonne désormais la réponse.")
    elif new_lead is not None:
        text = f"{before} {reason}. {author_label(new_lead)} coordonne désormais la réponse."
    else:
        text = (f"{before} {reason}, et aucun autre lycée proche n'a été trouvé pour l'instant. "
                "Le référent entreprises de l'académie a reçu votre demande.")
    entry = new_entry(session, thread, "escalation", text=text, at=ctx.now())
    company_copy = None
    active = repo.participants(session, thread.id, active_only=True)
    shared = thread_context(session, thread, active)
    for person in active:
        if person.role == "company":
            company_copy = queue_copy(session, ctx, thread, entry, person, "notice", shared=shared,
                                      notice="escalation_company", text=text)
        elif new_lead is not None and person.id == new_lead.id:
            queue_copy(session, ctx, thread, entry, person, "rbe_request", shared=shared, intro="escalation",
                       previous=before, reason=reason)
        elif fallback is not None and person.id == fallback.id:
            queue_copy(session, ctx, thread, entry, person, "rbe_request", shared=shared, intro="unroutable")
        elif person.id in {p.id for p in newcomers}:
            queue_copy(session, ctx, thread, entry, person, "rbe_request", shared=shared, intro="new")
        elif person.id in {p.id for p in old_leads} and new_lead is not None:
            queue_copy(session, ctx, thread, entry, person, "notice", shared=shared, notice="escalation_rbe",
                       text=f"La demande est désormais coordonnée par {author_label(new_lead)}. Vous restez en "
                            "copie des échanges : vous pouvez toujours y répondre.")
        else:
            queue_copy(session, ctx, thread, entry, person, "notice", shared=shared, notice="escalation_rbe",
                       text=text)
    publish_thread_message(session, ctx, thread, entry, "escalation", text=text,
                           message_id=company_copy.message_id if company_copy else None)
    return thread


def erase(session: Session, ctx: NotifierContext, event: RequestErased) -> None:
    """Forget the company's personal data: names, addresses, message bodies; cancel pending copies."""
    thread = repo.thread_by_request(session, str(event.request_id))
    if thread is None:
        return
    thread.company_name = "Entreprise (données effacées)"
    thread.subject = "[MonLycéePro] Demande effacée"
    # Nothing of the request is kept, only why it was erased (the action pages say it).
    thread.request_summary = json.dumps({"erased": event.reason})
    thread.erased = True
    session.add(thread)
    for person in repo.participants(session, thread.id):
        if person.role == "company":
            person.email = f"efface-{id_tail(person.id)}@invalid"
            person.name = None
            person.label = ""
            person.active = False
            session.add(person)
    repo.cancel_pending(session, thread.id)
    repo.wipe_thread_content(session, thread.id)
    outcomes_repo.wipe_notes(session, thread.id)
    delete_published_about(session, thread.request_id)  # thread messages: replies may quote the company
    session.flush()
