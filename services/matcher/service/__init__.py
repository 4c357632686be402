"""Domain logic of the matcher: read model of the catalog and routing decisions (no I/O)."""

from services.matcher.service.readmodel import CatalogReadModel, LyceeView
from services.matcher.service.routing import Candidate, Decision, RecipientPlan, RoutingQuery, decide

__all__ = ["CatalogReadModel", "Candidate", "Decision", "LyceeView", "RecipientPlan", "RoutingQuery", "decide"]
