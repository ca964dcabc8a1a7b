"""What a page's bytes are: HTML or not, and which charset decodes them. Pure functions.

:func:`page_type` says whether a response is an HTML page, by its Content-Type and, when that is
missing or generic (``application/octet-stream``…), by its first bytes; a known binary signature
(``%PDF-``, PNG, JPEG, GIF, zip, gzip…) is never HTML, whatever the Content-Type claims.

:func:`choose_charset` picks the charset to decode an HTML page with, in the order browsers and
w3lib trust the sources: a byte-order mark, then the Content-Type's ``charset``, then the page's
``<meta charset>``; a declaration is used only when the bytes fit it. A declared UTF-16/UTF-32
without a BOM and without a NUL byte cannot be that; a declared charset the bytes do not decode
in cleanly, while they decode cleanly as UTF-8, gives way to UTF-8; a few bad bytes in a
declared charset are replaced (U+FFFD). Bytes that fit no declaration and are not UTF-8 fit no
charset (``encoding`` None). The choice is made once, by the crawl's
:class:`~crawler.middlewares.charset.CharsetMiddleware`, and goes with the article item to
extraction; ``newsarchiver extract``/``reextract`` call the same function on the stored bytes.

Only the first :data:`SNIFF_BYTES` (type) and :data:`SAMPLE_BYTES` (charset) are read, so both
are cheap enough for the reactor.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

SNIFF_BYTES = 1024  # the WHATWG MIME sniffing window
SAMPLE_BYTES = 64 * 1024  # what the charset is judged on: many times what a decision needs
MAX_BAD_SHARE = 0.05  # more U+FFFD than this: the bytes are not text in that charset

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/vnd.wap.xhtml+xml"})
# what servers send when they do not know better: then the bytes say what they are
UNKNOWN_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/unknown",
     "unknown/unknown", "*/*"}
)  # fmt: skip
# (signature, offset, type): file formats that are never an HTML page
MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"PK\x05\x06", 0, "application/zip"),
    (b"\x1f\x8b\x08", 0, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "application/x-ole-storage"),  # .doc, .xls
    (b"%!PS", 0, "application/postscript"),
    (b"ftyp", 4, "video/mp4"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"fLaC", 0, "audio/flac"),
    (b"wOFF", 0, "font/woff"),
    (b"wOF2", 0, "font/woff2"),
    (b"\x00asm", 0, "application/wasm"),
)
_HTML_MARKUP = re.compile(
    rb"<(?:!doctype|!--|html|head|body|meta|title|link|style|script|div|p|"
    rb"table|span|a|br|font|center|form|img|h[1-6]|article|section)\b",
    re.I,
)
_CHARSET_LABEL = re.compile(r"charset\s*=\s*[\"']?([^\s;\"']+)", re.I)
_WIDE = ("utf-16", "utf-32")


@dataclass(frozen=True)
class PageType:
    html: bool
    mime: str  # the Content-Type's essence, lower case; "" when there was none
    sniffed: str | None = None  # what the first bytes are, when they say

    @property
    def detail(self) -> str:
        """For a failure record: the Content-Type and what the bytes are."""
        parts = [f"Content-Type {self.mime or 'missing'}"]
        if self.sniffed:
            parts.append(f"sniffed {self.sniffed}")
        elif self.mime in UNKNOWN_TYPES and not self.html:
            parts.append("no HTML markup at the start")
        return ", ".join(parts)


def _text(value: str | bytes | None) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def sniff_binary(head: bytes) -> str | None:
    """The type of a known binary file format the bytes start with, else None."""
    for signature, offset, mime in MAGIC:
        if head.startswith(signature, offset):
            return mime
    if b"%PDF-" in head[:SNIFF_BYTES]:  # readers accept junk before the header
        return "application/pdf"
    return None


def page_type(content_type: str | bytes | None, body: bytes) -> PageType:
    """Whether a response (its Content-Type header and body) is an HTML page."""
    mime = _text(content_type).split(";", 1)[0].strip().lower()
    head = body[:SNIFF_BYTES]
    if sniffed := sniff_binary(head):
        return PageType(False, mime, sniffed)
    if mime in HTML_TYPES:
        return PageType(True, mime)
    if mime not in UNKNOWN_TYPES:
        return PageType(False, mime)
    bom, _ = read_bom(head)
    if bom and bom.startswith(_WIDE):
        head = head.decode(bom, "replace").encode("utf-8")
    if _HTML_MARKUP.search(head):
        return PageType(True, mime)
    if head.lstrip()[:1] in (b"{", b"["):
        return PageType(False, mime, "application/json")
    return PageType(False, mime)


@dataclass(frozen=True)
class Charset:
    """The charset chosen for a page, and what it declared."""

    encoding: str | None  # the codec to decode with; None: the bytes fit no charset
    source: str  # bom, header, meta, sniffed (UTF-8 by its bytes), default (UTF-8), none
    declared: str | None = None  # the charset the page declared (header, else meta)
    label: str | None = None  # the header's charset label when no codec has that name

    @property
    def unfit_detail(self) -> str:
        """For a charset_mismatch failure record."""
        return f"the bytes fit neither the declared charset {self.declared} nor UTF-8"

    @property
    def mismatch(self) -> bool:
        """The page declared a charset its bytes do not fit."""
        return self.declared is not None and (
            self.encoding is None or _family(self.encoding) != _family(self.declared)
        )


def _family(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return name[:-3] if name.startswith(_WIDE) and name.endswith(("-le", "-be")) else name


def _wide_order(codec: str, sample: bytes) -> str:
    """A BOM-less 'utf-16'/'utf-32' in the byte order its NULs show (ASCII markup: the NUL
    bytes of each unit come after the character's in little endian)."""
    if codec not in _WIDE:
        return codec
    unit = 2 if codec == "utf-16" else 4
    first = sample[0::unit].count(0)
    last = sample[unit - 1 :: unit].count(0)
    return f"{codec}-be" if first > last else f"{codec}-le"


def _bad_share(encoding: str, sample: bytes, truncated: bool) -> float | None:
    """The share of characters the sample does not decode into; None when the bytes cannot
    be in that charset at all (a UTF-16/32 text of HTML has NUL bytes)."""
    codec = codecs.lookup(encoding).name
    if codec.startswith(_WIDE) and b"\x00" not in sample:
        return None
    decoder = codecs.getincrementaldecoder(_wide_order(codec, sample))(errors="replace")
    # an incremental decode: a character cut at the sample's end is not an error
    text = decoder.decode(sample, final=not truncated)
    if not text:
        return 0.0
    return text.count("\ufffd") / len(text)


def _utf8_clean(sample: bytes, truncated: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=not truncated)
    except UnicodeDecodeError:
        return False
    return True


def _resolve(label: str | None) -> str | None:
    if not label:
        return None
    encoding = resolve_encoding(label)
    if encoding is None:
        return None
    try:
        codecs.lookup(encoding)
    except LookupError:
        return None
    return encoding


def choose_charset(content_type: str | bytes | None, body: bytes) -> Charset:
    """The charset to decode an HTML page with (see the module's docstring for the rules)."""
    sample, truncated = body[:SAMPLE_BYTES], len(body) > SAMPLE_BYTES
    match = _CHARSET_LABEL.search(_text(content_type))
    label = match.group(1) if match else None
    header = _resolve(label)
    meta = _resolve(html_body_declared_encoding(sample))
    declared = header or meta
    unknown = label if label and header is None else None
    bom, _ = read_bom(sample)
    if bom:
        return Charset(bom, "bom", declared, unknown)
    tolerable: Charset | None = None
    utf8: bool | None = None  # judged only when a declaration does not fit
    for source, encoding in (("header", header), ("meta", meta)):
        if encoding is None:
            continue
        bad = _bad_share(encoding, sample, truncated)
        if bad == 0.0:
            if codecs.lookup(encoding).name in _WIDE:
                encoding = _wide_order(codecs.lookup(encoding).name, sample)
            return Charset(encoding, source, declared, unknown)
        if utf8 is None:
            utf8 = _utf8_clean(sample, truncated)
        if utf8:
            return Charset("utf-8", "sniffed", declared, unknown)
        if bad is not None and bad <= MAX_BAD_SHARE and tolerable is None:
            tolerable = Charset(encoding, source, declared, unknown)  # a few bad bytes
    if tolerable is not None:
        return tolerable
    if declared is None:  # w3lib's and Scrapy's default; bad bytes are replaced
        clean = _utf8_clean(sample, truncated)
        return Charset("utf-8", "sniffed" if clean else "default", None, unknown)
    return Charset(None, "none", declared, unknown)
