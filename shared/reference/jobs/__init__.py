"""The job vocabulary and its one resolver, shared by the catalog (search, autocomplete) and the
matcher (routing, escalation). The catalog builds the vocabulary; everyone resolves with it."""

from shared.reference.jobs.links import FormationLink
from shared.reference.jobs.resolver import JobResolver, naf_division_of
from shared.reference.jobs.understanding import JobSense, JobSuggestion, Understanding
from shared.reference.jobs.vocabulary import JobVocabulary

__all__ = ["FormationLink", "JobResolver", "JobSense", "JobSuggestion", "JobVocabulary", "Understanding",
           "naf_division_of"]
