"""`monlyceepro retention` as a real command on a real database file."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from services.intake.models import CompanyRequest
from tests.intake.support import body, engine_of
from tests.support.live import ROOT


def test_retention_command_anonymises_expired_requests(make_client, tmp_path):
    database_url = f"sqlite:///{tmp_path}/cli.db"
    client = make_client(database_url)
    old = client.post("/api/v1/requests", json=body()).json()["request_id"]
    fresh = client.post("/api/v1/requests", json=body()).json()["request_id"]
    with Session(engine_of(client)) as session:
        row = session.get(CompanyRequest, old)
        row.created_at = datetime.now(UTC) - timedelta(days=40)
        session.add(row)
        session.commit()
    env = {**os.environ, "MLP_ENV": "test", "MLP_DATABASE_URL": database_url, "MLP_VAR_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "services.cli", "retention", "--jours", "30"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 demande(s) anonymisée(s) (conservation : 30 jours)" in done.stdout
    with Session(engine_of(client)) as session:
        assert session.get(CompanyRequest, old).contact_email == ""
        assert session.get(CompanyRequest, fresh).contact_email == "jeanne.martin@boulangerie-dupont.fr"
