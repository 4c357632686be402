"""What the rich-profile tests share: a logged-in RBE client, and images (a JPEG with EXIF GPS, a
disguised executable)."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.service.magic import issue_link_token
from shared.platform.db import make_engine

RBE_EMAIL = "camille.martin@ac-lyon.fr"
RABELAIS = "0693504J"  # Lycée polyvalent François Rabelais (CAP Boulanger), Dardilly near Lyon
GPS_MARK = b"GPS-SECRET-48.8566N"


def name_rbe(database_url: str, uais: list[str]) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session:
        repo.upsert_rbe(session, RBE_EMAIL, "Camille Martin", None)
        repo.assign_coverage(session, RBE_EMAIL, uais)
        repo.bump_version(session)
        session.commit()
    engine.dispose()


def issue_link(secret: str, database_url: str) -> str:
    """A magic link token for the RBE, issued and recorded as the login form does."""
    token, claim = issue_link_token(secret, RBE_EMAIL)
    engine = make_engine(database_url)
    with Session(engine) as session:
        repo.record_magic_link(session, claim.token_id, RBE_EMAIL)
        session.commit()
    engine.dispose()
    return token


def login(client: TestClient, secret: str, database_url: str) -> str:
    """Open a magic link; returns the CSRF token of the session."""
    token = issue_link(secret, database_url)
    assert client.get(f"/espace-rbe/connexion?jeton={token}", follow_redirects=False).status_code == 303
    page = client.get("/espace-rbe/mes-lycees")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def jpeg_with_gps() -> bytes:
    """A photo whose EXIF holds GPS coordinates, a camera model and a comment."""
    image = Image.new("RGB", (1600, 1000), (200, 120, 40))
    exif = Image.Exif()
    exif[0x0110] = "Appareil-Secret"  # Model
    exif[0x010E] = GPS_MARK.decode()  # ImageDescription
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=GPS_MARK)
    return out.getvalue()


def disguised_executable() -> bytes:
    """A Windows program (MZ header, PE signature) renamed logo.png."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 46 + b"PE\x00\x00" + b"\x90" * 2000
