"""One whole system (four real processes, a private Redis, SMTP sink) shared by the fuzz suites,
torn down at the end of the package so no service outlives it."""

from __future__ import annotations

import httpx
import pytest

from tests.fuzz.support import ADMIN_TOKEN, COUNTS, MAX_INBOUND, SECRET
from tests.support.eventually import eventually
from tests.support.servers import RedisServer
from tests.support.system import FAST_ENV, System, catalog_template


@pytest.fixture(scope="package")
def fuzz_system(tmp_path_factory):
    redis = RedisServer().start()
    tmp = tmp_path_factory.mktemp("fuzz-system")
    catalog_db = catalog_template(tmp_path_factory.getbasetemp() / "chaos-catalog")
    system = System(tmp, redis.url, catalog_db=catalog_db,
                    extra_env={**FAST_ENV, "MLP_ADMIN_TOKEN": ADMIN_TOKEN, "MLP_SECRET_KEY": SECRET,
                               "MLP_INBOUND_MAX_BYTES": str(MAX_INBOUND)})
    system.redis = redis
    try:
        system.start(parallel=True)
        # /readyz of the matcher turns 200 before its catalog read model is loaded (routing answers
        # 503 meanwhile): wait for a real routing preview before fuzzing.
        body = {"needs": ["pfmp"], "jobs": ["Boulanger"], "location": {"postal_code": "69007"},
                "company_name": "Sonde", "contact": {"name": "Sonde", "email": "sonde@exemple.fr"}}
        eventually(lambda: httpx.post(system.url("matcher") + "/api/v1/routing/preview", json=body,
                                      timeout=10).status_code == 200, timeout=180, interval=0.5,
                   what="matcher catalog loaded")
        yield system
    finally:
        system.stop()
        redis.stop()
        print(f"\nFUZZ cases run: {dict(sorted(COUNTS.items()))} total={sum(COUNTS.values())}")
