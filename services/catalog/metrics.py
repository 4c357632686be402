"""Business metrics of the catalog (prefix ``mlp_catalog_``, bounded labels only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SEARCHES = Counter("mlp_catalog_searches_total", "Lycée searches, by main criterion", ["criterion", "outcome"])
SEARCH_SECONDS = Histogram(
    "mlp_catalog_search_seconds", "Time to answer a lycée search from the in-memory index", ["criterion"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
INDEX_BUILD_SECONDS = Histogram(
    "mlp_catalog_index_build_seconds", "Time to rebuild the read model and search index",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
MAGIC_LINKS = Counter(
    "mlp_catalog_magic_links_total", "RBE magic links, by outcome",
    ["outcome"],  # sent, unknown_address, rate_limited, send_failed, opened, tampered, expired, replayed, unknown
)
RBE_IMPORT_ROWS = Counter("mlp_catalog_rbe_import_rows_total", "RBE directory CSV rows", ["outcome"])
PROFILE_EDITS = Counter("mlp_catalog_profile_edits_total", "Edits made by RBEs in their space", ["change"])


def criterion(job: str | None, text: str | None, naf: str | None, place: str | None) -> str:
    if job:
        return "metier"
    if naf:
        return "naf"
    if text:
        return "texte"
    return "lieu" if place else "aucun"

# Coverage of the network (issue 22): set from the read model whenever it is rebuilt. Labels: académie (≈30)
# and département code (≈100), each lycée counted once per gauge.
NETWORK_LYCEES = Gauge("mlp_catalog_network_lycees", "Lycées of the catalog", ["academie", "departement"])
NETWORK_WITH_RBE = Gauge("mlp_catalog_network_lycees_with_rbe", "Lycées whose RBE is named and confirmed",
                         ["academie", "departement"])
NETWORK_PROFILE_COMPLETE = Gauge("mlp_catalog_network_lycees_profile_complete",
                                 "Lycées whose profile has services, PFMP periods and pitch", ["academie", "departement"])
RBE_NAMING = Counter("mlp_catalog_rbe_naming_total", "RBE naming flow", ["step"])  # named, confirmed, replaced


def publish_coverage(lines) -> None:
    """Replace the gauges' series by ``lines`` (a département that left the catalog disappears)."""
    for gauge in (NETWORK_LYCEES, NETWORK_WITH_RBE, NETWORK_PROFILE_COMPLETE):
        gauge.clear()
    for line in lines:
        NETWORK_LYCEES.labels(line.academie, line.departement).set(line.lycees)
        NETWORK_WITH_RBE.labels(line.academie, line.departement).set(line.with_rbe)
        NETWORK_PROFILE_COMPLETE.labels(line.academie, line.departement).set(line.profile_complete)
