"""`monlyceepro partner …` on a real database file, with the running app's view of it: once as a real
process, then through the same entry point in this process (each process start costs seconds)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from services.cli import main
from services.intake.config import get_intake_settings
from tests.intake.partner_support import reload
from tests.intake.support import body
from tests.support.live import ROOT


@pytest.fixture
def fresh_settings():
    """The command reads the settings of the environment this test sets, and leaves none cached."""
    get_intake_settings.cache_clear()
    yield
    get_intake_settings.cache_clear()


def test_partner_commands_register_key_revoke_and_report(make_client, tmp_path, monkeypatch, capsys, fresh_settings):
    database_url = f"sqlite:///{tmp_path}/cli.db"
    client = make_client(database_url)
    env = {"MLP_ENV": "test", "MLP_DATABASE_URL": database_url, "MLP_VAR_DIR": str(tmp_path),
           "MLP_PUBLIC_BASE_URL": "https://monlyceepro.example", "MLP_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "partner", "add", "lese", "--nom", "Les Entreprises s'Engagent",
         "--origine", "https://www.lese.example.fr/"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "https://monlyceepro.example/integrer/lese/code" in done.stdout and "https://www.lese.example.fr" in done.stdout
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def cli(*args: str, ok: bool = True) -> str:
        code = main(["partner", *args])
        out, err = capsys.readouterr()
        assert (code == 0) is ok, out + err
        return out if ok else err

    assert "Origine refusée" in cli("origins", "lese", "--ajouter", "http://site.example.fr", ok=False)
    assert "https://autre.example.fr" in cli("origins", "lese", "--ajouter", "https://autre.example.fr")
    created = cli("key", "create", "lese", "--scopes", "submit,status", "--libelle", "production")
    key = re.search(r"^  (mlp_[0-9a-f]{8}_\S{43})$", created, re.M).group(1)
    prefix = key[:12]
    assert f"Préfixe pour la retrouver ou la révoquer : {prefix}" in created
    assert key not in cli("key", "list", "lese") and prefix in cli("key", "list", "lese")
    assert "lese" in cli("list") and "1 clé(s) active(s)" in cli("list")

    reload(client)
    accepted = client.post("/api/v1/requests", json=body(), headers={"X-API-Key": key})
    assert accepted.status_code == 202, accepted.text
    stats = cli("stats", "lese")
    assert "Les Entreprises s'Engagent (lese) — Depuis le lancement" in stats
    assert re.search(r"total\s+1 demande\(s\),\s+0 transmise\(s\),\s+0 avec réponse, délai médian —", stats)
    assert re.search(r"API \(clé du partenaire\)\s+1 demande\(s\)", stats)

    assert "révoquée : elle est refusée dès maintenant" in cli("key", "revoke", prefix)
    assert client.post("/api/v1/requests", json=body(), headers={"X-API-Key": key}).status_code == 401
    assert "Partenaire inconnu : orion" in cli("stats", "orion", ok=False)
    assert "Portée inconnue" in cli("key", "create", "lese", "--scopes", "tout", ok=False)
