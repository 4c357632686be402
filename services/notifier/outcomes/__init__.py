"""Outcomes (issue 21): « Qu'est-ce qui en est sorti ? ».

Some weeks after a request was taken (its first human answer in the thread), the company and the RBE
who answered each get one short email with one-click choices. The answer is recorded once and
published as ``OutcomeRecorded`` (intake stores it, shows it on the status page and counts it on the
impact page). « Rien pour l'instant » asks one more question later; no answer, no more emails.

Modules: ``models`` (the question table), ``repository`` (SQL), ``questions`` (asking and answering,
no framework), ``tasks`` (the periodic pass), ``pages`` (the one-click pages).
"""
