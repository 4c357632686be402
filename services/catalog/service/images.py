"""A logo or photo uploaded by an RBE: checked by its content (never its name or declared type), decoded by
Pillow, re-encoded without any metadata (EXIF, GPS, comments, ICC) and resized before it is stored."""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # beyond: a decompression bomb, refused
MAX_SIDE = {"logo": 400, "photo": 1200}
ACCEPTED = {"JPEG", "PNG", "WEBP", "GIF"}
# Signatures of programs and scripts: a file starting with one is refused with its own message.
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!", b"PK\x03\x04")


class ImageRefused(ValueError):
    """Why an upload is refused, in French."""


def clean_image(data: bytes, kind: str) -> tuple[bytes, str, int, int, str]:
    """(bytes, mime, width, height, digest) of the cleaned image; raises ImageRefused."""
    if kind not in MAX_SIDE:
        raise ImageRefused("Choisissez « logo » ou « photo ».")
    if not data:
        raise ImageRefused("Aucun fichier reçu : choisissez une image.")
    if len(data) > MAX_BYTES:
        raise ImageRefused("L'image dépasse 5 Mo : réduisez-la avant de l'envoyer.")
    if data.startswith(EXECUTABLE_MAGIC):
        raise ImageRefused("Ce fichier est un programme ou une archive, pas une image, quel que soit son nom : "
                           "il est refusé. Envoyez une image JPEG, PNG ou WebP.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format not in ACCEPTED:
                    raise ImageRefused("Format d'image non accepté : envoyez une image JPEG, PNG ou WebP.")
                if probe.width * probe.height > MAX_PIXELS:
                    raise ImageRefused("L'image est trop grande (plus de 40 millions de pixels).")
                probe.verify()
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = ImageOps.exif_transpose(opened)  # keep the orientation, then drop the EXIF itself
    except ImageRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
            SyntaxError, ValueError) as exc:
        raise ImageRefused("Ce fichier n'est pas une image lisible (son contenu a été vérifié, quel que soit son "
                           "nom) : envoyez une image JPEG, PNG ou WebP.") from exc
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((MAX_SIDE[kind], MAX_SIDE[kind]), Image.Resampling.LANCZOS)
    image.info.clear()
    out = io.BytesIO()
    if has_alpha:
        image.save(out, "PNG", optimize=True)
        mime = "image/png"
    else:
        image.save(out, "JPEG", quality=85, optimize=True)
        mime = "image/jpeg"
    cleaned = out.getvalue()
    return cleaned, mime, image.width, image.height, hashlib.sha256(cleaned).hexdigest()[:16]
