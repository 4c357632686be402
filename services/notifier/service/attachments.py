"""Which attachments of an inbound reply may be relayed: documents and images only, recognised by
their content (magic bytes, the inside of ZIP and OLE containers), never by their name or declared
type; and the file name they are relayed under (no path, no control character, bounded length, the
extension of the detected type).

Allowed: PDF; PNG, JPEG, GIF, WebP images; Word, Excel, PowerPoint (OOXML) and OpenDocument files,
Word and Excel 97-2003 files, all without macros; plain text and CSV that hold no markup. Anything
else (executables, installers, archives, HTML, SVG, scripts) is dropped, and so is a document with
macros.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    extension: str  # canonical, without the dot
    content_type: str
    also: tuple[str, ...] = ()  # other extensions kept as they are (jpeg for jpg)

    @property
    def extensions(self) -> tuple[str, ...]:
        return (self.extension, *self.also)


PDF = Kind("pdf", "application/pdf")
PNG = Kind("png", "image/png")
JPEG = Kind("jpg", "image/jpeg", ("jpeg",))
GIF = Kind("gif", "image/gif")
WEBP = Kind("webp", "image/webp")
DOCX = Kind("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
XLSX = Kind("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PPTX = Kind("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation")
ODT = Kind("odt", "application/vnd.oasis.opendocument.text")
ODS = Kind("ods", "application/vnd.oasis.opendocument.spreadsheet")
ODP = Kind("odp", "application/vnd.oasis.opendocument.presentation")
DOC = Kind("doc", "application/msword")
XLS = Kind("xls", "application/vnd.ms-excel")
TXT = Kind("txt", "text/plain")
CSV = Kind("csv", "text/csv")

_ODF = {"application/vnd.oasis.opendocument.text": ODT, "application/vnd.oasis.opendocument.spreadsheet": ODS,
        "application/vnd.oasis.opendocument.presentation": ODP}
_OOXML = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MARKUP = re.compile(rb"<\s*(script|html|!doctype|svg|iframe|object|embed|body|head|meta|\?xml|form)\b|javascript:",
                     re.IGNORECASE)
# Text files declared as one of these are scripts or markup, whatever they hold: dropped.
_SCRIPT_EXTENSIONS = frozenset({
    "bat", "cmd", "com", "exe", "js", "jse", "mjs", "vbs", "vbe", "wsf", "wsh", "ps1", "psm1", "sh", "bash", "py",
    "pl", "rb", "php", "hta", "htm", "html", "xhtml", "shtml", "svg", "xml", "xsl", "lnk", "scr", "reg", "inf", "url",
    "jar", "msi", "dll", "app", "command", "desktop",
})

REASONS = {  # shown to the sender and the other participants
    "type": "type de fichier non accepté",
    "macro": "document contenant des macros",
    "size": "trop volumineuse",
    "undecodable": "fichier illisible, encodage invalide",
}


class Refused(Exception):
    """An attachment that is not relayed; ``reason`` is a key of ``REASONS`` (also a metric label)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _ole_kind(data: bytes) -> Kind:
    """Word or Excel 97-2003: their streams' names are in the compound file's directory (UTF-16LE).
    An installer (MSI) or any other compound file has neither."""
    def has(name: str) -> bool:
        return name.encode("utf-16-le") in data

    if has("_VBA_PROJECT") or has("Macros"):
        raise Refused("macro")
    if has("WordDocument"):
        return DOC
    if has("Workbook") or has("Book"):
        return XLS
    raise Refused("type")


def _zip_kind(data: bytes) -> Kind:
    """OOXML or OpenDocument, by the files inside; any other ZIP is an archive (refused)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if any(n.lower().endswith("vbaproject.bin") or n.startswith(("Basic/", "Scripts/")) for n in names):
                raise Refused("macro")
            if "mimetype" in names:
                with archive.open("mimetype") as handle:
                    kind = _ODF.get(handle.read(100).decode("ascii", "replace").strip())
                if kind is not None:
                    return kind
            if "[Content_Types].xml" in names:
                with archive.open("[Content_Types].xml") as handle:
                    types = handle.read(200_000)
                if b"macroenabled" in types.lower():
                    raise Refused("macro")
                for inside, kind in _OOXML.items():
                    if inside in names:
                        return kind
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, NotImplementedError, RuntimeError,
            EOFError) as exc:
        raise Refused("type") from exc
    raise Refused("type")


def _text_kind(data: bytes, declared_extension: str) -> Kind:
    """Plain text or CSV: decodable (UTF-8, or Windows-1252 as spreadsheets export it), no binary
    control characters, no markup; CSV when the sender named it so."""
    if b"\x00" in data or declared_extension in _SCRIPT_EXTENSIONS:
        raise Refused("type")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise Refused("type") from exc
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text) or _MARKUP.search(data):
        raise Refused("type")
    return CSV if declared_extension == "csv" else TXT


def sniff(data: bytes, declared_name: str = "") -> Kind:
    """The allowed kind ``data`` is, or ``Refused``. The name only chooses between text and CSV, and
    can refuse a script; it never makes anything allowed."""
    head = data[:16]
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(_OLE_MAGIC):
        return _ole_kind(data)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if not data:
        raise Refused("type")
    return _text_kind(data, _extension(clean_name(declared_name)))


# ------------------------------------------------------------------ file names
_UNSAFE = re.compile(r'[<>:"|?*\\/]')
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")
MAX_NAME = 100


def _extension(name: str) -> str:
    match = _EXTENSION.search(name)
    return match.group(1).lower() if match else ""


def clean_name(name: str | None, default: str = "piece-jointe") -> str:
    """A file name safe to show and to send: its last path part, without control or format characters
    (bidi overrides), characters Windows forbids, leading dots, at most ``MAX_NAME`` characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    name = " ".join(_UNSAFE.sub("_", name).split()).lstrip(". ").rstrip(". ")
    return name[-MAX_NAME:] if len(name) > MAX_NAME else (name or default)


def safe_filename(name: str | None, kind: Kind) -> str:
    """``name`` cleaned, its stem kept, its extension the detected kind's: « ../../plaquette.pdf.exe »
    holding a PDF is relayed as « plaquette.pdf »."""
    name = clean_name(name, default="")
    stem = name
    extension = _extension(name)
    if extension:
        stem = name[: -len(extension) - 1]
        if extension not in kind.extensions:
            inner = _extension(stem)  # « plaquette.pdf.exe »: the inner extension may be the right one
            if inner in kind.extensions:
                stem, extension = stem[: -len(inner) - 1], inner
            else:
                extension = kind.extension
    else:
        extension = kind.extension
    stem = stem.rstrip(". ") or "piece-jointe"
    return stem[: MAX_NAME - len(extension) - 1] + "." + extension
