"""Outcomes (issue 21): what came out of a taken request, as the company and the RBE told the notifier.

Intake owns requests, their status page and the impact figures, so it stores the outcomes it consumes
(``OutcomeRecorded``, one row per answered question: the event's ``outcome_id`` is the primary key, on
top of the consumer's processed-event key) and shows them on the status page.

Modules: ``models`` (table), ``repository`` (SQL), ``recording`` (the handler's work).
"""
