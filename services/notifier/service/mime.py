"""A small MIME writer for the notifier's own messages (CRLF, folded headers, UTF-8 bodies).

The stdlib ``EmailMessage`` with the default policy parses every header it is given through the
header registry and parses it again to fold it: that was most of the notifier's CPU per request.
What the notifier writes is narrow (a few known headers, text + HTML, sometimes attachments), so
it is written directly here; ``tests/notifier/test_compose.py`` checks that the stdlib parser
reads the same values as from the former ``EmailMessage`` output.

Safety rules: every header value goes through ``one_line`` (no CR/LF: no header injection);
non-ASCII text becomes RFC 2047 encoded words, short enough that folded lines stay under 78
characters (but for a long display name, see ``phrase_tokens``; every line stays under 998);
bodies are quoted-printable, attachments base64, boundaries start with ``=_`` which neither
encoding can produce.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from functools import lru_cache
from urllib.parse import quote

LINE = 78
_WORD_ROOM = 52  # encoded text per encoded word: "=?utf-8?q?" + 52 + "?=" = 64 characters
_PHRASE_ROOM = 700  # see phrase_tokens: a display name's run of words stays one encoded word
_PLAIN = re.compile(r"[\x21-\x7e]*\Z")  # printable ASCII, no space (one word)
_PRINTABLE = re.compile(r"[\x20-\x7e]*\Z")
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')  # a display name holding one of these is quoted
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+\Z")
_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]+\Z")  # RFC 2045 token (content type parts)
_SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\Z")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_BYTE = {b: chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in range(256)}


def one_line(value: str | None) -> str:
    """Header-safe text: no CR/LF (header injection), whitespace collapsed."""
    return " ".join((value or "").split())


# ------------------------------------------------------------------ headers
def encoded_words(text: str, room: int = _WORD_ROOM) -> list[str]:
    """RFC 2047 encoded words for ``text`` (Q or B, the shorter), split between characters so
    that each word's encoded text holds at most ``room`` characters."""
    data = text.encode("utf-8")
    q_length = sum(len(_Q_BYTE[b]) for b in data)
    words: list[str] = []
    if q_length <= (len(data) + 2) // 3 * 4:
        current: list[str] = []
        size = 0
        for char in text:
            encoded = "".join(_Q_BYTE[b] for b in char.encode("utf-8"))
            if current and size + len(encoded) > room:
                words.append("=?utf-8?q?" + "".join(current) + "?=")
                current, size = [], 0
            current.append(encoded)
            size += len(encoded)
        words.append("=?utf-8?q?" + "".join(current) + "?=")
        return words
    chunk, max_bytes = bytearray(), room // 4 * 3
    for char in text:
        raw = char.encode("utf-8")
        if chunk and len(chunk) + len(raw) > max_bytes:
            words.append("=?utf-8?b?" + base64.b64encode(chunk).decode("ascii") + "?=")
            chunk = bytearray()
        chunk += raw
    words.append("=?utf-8?b?" + base64.b64encode(chunk).decode("ascii") + "?=")
    return words


def _encode_runs(words: list[str], plain, room: int) -> list[str]:
    """``words`` as tokens: those ``plain`` accepts as they are, each run of the others joined
    (with their spaces) into encoded words."""
    tokens: list[str] = []
    run: list[str] = []
    for word in words:
        if plain(word):
            if run:
                tokens += encoded_words(" ".join(run), room)
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens += encoded_words(" ".join(run), room)
    return [t for t in tokens if t]


def _plain_word(word: str) -> bool:
    """Kept as it is: printable ASCII, not mistakable for an encoded word, short enough to fold
    (a longer word is encoded, so that it can be split across lines)."""
    return len(word) <= _WORD_ROOM and bool(_PLAIN.match(word)) and "=?" not in word


def _atom(word: str) -> bool:
    return len(word) <= _WORD_ROOM and bool(_ATOM.match(word)) and "=?" not in word


def text_tokens(value: str | None) -> list[str]:
    """Unstructured text as foldable tokens: ASCII words kept, runs of other words encoded."""
    return _encode_runs(one_line(value).split(" "), _plain_word, _WORD_ROOM)


def phrase_tokens(name: str) -> list[str]:
    """A display name: plain ASCII as atoms or one quoted string; otherwise each run of words
    that are not atoms becomes ONE encoded word, the atoms between runs staying plain.

    Whitespace between two adjacent encoded words is dropped by RFC 2047 readers (mail clients)
    but kept by Python's address parser, so a name never holds two adjacent encoded words: they
    would read differently. An encoded word next to an atom reads the same everywhere. The price
    is an encoded word longer than 75 characters for a long run (tolerated by readers; the line
    stays far below 998)."""
    words = name.split(" ")
    if _PRINTABLE.match(name) and "=?" not in name:
        if not _SPECIALS.search(name) and all(len(word) <= _WORD_ROOM for word in words):
            return words
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= _WORD_ROOM:
            return [quoted]
    return _encode_runs(words, _atom, _PHRASE_ROOM)


def address_tokens(name: str | None, address: str) -> list[str]:
    """``Name <address>``, or the bare ``address`` without a name."""
    name, address = one_line(name), one_line(address)
    return [*phrase_tokens(name), f"<{address}>"] if name else [address]


def address_ok(address: str) -> bool:
    """What ``email.headerregistry.Address`` accepts as an addr-spec (the common case by regex)."""
    if _SIMPLE_ADDRESS.match(address):
        return True
    from email.headerregistry import Address

    try:
        Address(addr_spec=address)
        return True
    except Exception:
        return False


def fold(name: str, tokens: list[str]) -> str:
    """One header, its tokens separated by spaces, a line break before any token that would pass
    78 characters (a single longer token keeps its line: a header line may hold 998)."""
    lines: list[str] = []
    line = name + ":"
    for token in tokens:
        if len(line) + 1 + len(token) > LINE and line:
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


@lru_cache(maxsize=256)
def header(name: str, value: str | None) -> str:
    """A header whose value is free text (encoded where it is not plain ASCII); cached, as the
    copies of one message share their Subject and every copy has the same List-Id."""
    return fold(name, text_tokens(value))


# ------------------------------------------------------------------ bodies
def _lines(text: str) -> str:
    """Line breaks normalised to ``\\n`` (the encoders make them CRLF), ending with one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def text_part(subtype: str, text: str) -> bytes:
    body = binascii.b2a_qp(_lines(text).encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") + body


def _filename_param(filename: str) -> list[str]:
    """``filename="..."`` when plain and short, else RFC 2231 (UTF-8, split into continuations)."""
    filename = one_line(filename)
    if _PRINTABLE.match(filename) and '"' not in filename and "\\" not in filename and len(filename) <= 50:
        return [f'filename="{filename}";']
    encoded = "utf-8''" + quote(filename, safe="!#$&+-.^_`|~")
    chunks: list[str] = []
    while encoded:
        cut = 60 if len(encoded) > 60 else len(encoded)
        if "%" in encoded[cut - 2:cut]:  # never split a %XX escape
            cut = encoded.rindex("%", cut - 2, cut)
        chunks.append(encoded[:cut])
        encoded = encoded[cut:]
    if len(chunks) == 1:
        return [f"filename*={chunks[0]};"]
    return [f"filename*{i}*={chunk};" for i, chunk in enumerate(chunks)]


def attachment_part(filename: str, content_type: str, data: bytes) -> bytes:
    maintype, _, subtype = content_type.partition("/")
    if len(content_type) > 100 or not (_TOKEN.match(maintype) and _TOKEN.match(subtype)):
        maintype, subtype = "application", "octet-stream"
    params = _filename_param(filename)
    params[-1] = params[-1].rstrip(";")
    head = (f"Content-Type: {maintype.lower()}/{subtype.lower()}\r\n"
            "Content-Transfer-Encoding: base64\r\n" + fold("Content-Disposition", ["attachment;", *params]))
    return head.encode("ascii") + b"\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n")


def multipart(subtype: str, parts: list[bytes]) -> tuple[str, bytes]:
    """The Content-Type header line and the body of a multipart holding ``parts``."""
    boundary = f"=_{subtype[0]}{os.urandom(12).hex()}"
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    # Each part ends with CRLF and the delimiter's own CRLF follows it, as the stdlib generator
    # writes it: the parser gives back the part with its final line break.
    body = (f"--{boundary}\r\n".encode("ascii") + delimiter.join(parts)
            + f"\r\n--{boundary}--\r\n".encode("ascii"))
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n', body
