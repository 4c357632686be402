"""The job vocabulary and its one resolver, shared by the catalog (search, autocomplete) and the
matcher (routing, escalation). The catalog builds the vocabulary; everyone resolves with it."""

from shared.jobs.links import FormationLink
from shared.jobs.resolver import JobResolver, naf_division_of
from shared.jobs.understanding import JobSense, JobSuggestion, Understanding
from shared.jobs.vocabulary import JobVocabulary

__all__ = ["FormationLink", "JobResolver", "JobSense", "JobSuggestion", "JobVocabulary", "Understanding",
           "naf_division_of"]
