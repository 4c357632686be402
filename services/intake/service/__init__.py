"""Intake's domain logic: validation, submission, timeline, retention, impact. No framework, no commit."""
