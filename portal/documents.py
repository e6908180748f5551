"""Structure checks of accepted documents, beyond their magic bytes.

Magic bytes alone let a 5-byte `%PDF-` through. Each check here reads only a bounded head or tail of
the content (never decodes pixels or PDF objects), so its time and memory do not grow with the file:
* PDF: a `%PDF-1.x` / `%PDF-2.x` header, and `startxref` then `%%EOF` in the last 1,024 bytes (where
  readers look for the trailer, ISO 32000-2 7.5.5).
* PNG: the signature, then an IHDR chunk of 13 bytes with a valid CRC, non-zero width and height, a bit
  depth allowed for its colour type, compression 0, filter 0, interlace 0/1; and an IEND chunk at the end.
* JPEG: SOI, then a walk of the marker segments (within the first 64 KiB, at most 64 segments) to a
  start-of-frame with precision 8/12/16, non-zero width and height and 1-4 components, before any SOS.
"""

from __future__ import annotations

import re
import struct
import zlib

PDF_TAIL = 1024
JPEG_SCAN_BYTES = 64 * 1024
JPEG_MAX_SEGMENTS = 64

_PDF_HEADER = re.compile(rb"%PDF-[12]\.\d")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# Allowed bit depths per PNG colour type (PNG spec, 11.2.2).
_PNG_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
# Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9


def pdf_ok(content: bytes) -> bool:
    tail = content[-PDF_TAIL:]
    end = tail.rfind(b"%%EOF")
    return bool(_PDF_HEADER.match(content, 0, 8)) and end > 0 and b"startxref" in tail[:end]


def png_ok(content: bytes) -> bool:
    if len(content) < 8 + 25 + 12 or not content.startswith(_PNG_SIGNATURE):
        return False
    length, kind = struct.unpack(">I4s", content[8:16])
    if length != 13 or kind != b"IHDR":
        return False
    data = content[16:29]
    (crc,) = struct.unpack(">I", content[29:33])
    if zlib.crc32(kind + data) != crc:
        return False
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", data)
    return (
        0 < width < 2**31
        and 0 < height < 2**31
        and depth in _PNG_DEPTHS.get(colour, ())
        and compression == 0
        and filtering == 0
        and interlace in (0, 1)
        and content.endswith(_PNG_IEND)
    )


def jpeg_ok(content: bytes) -> bool:
    head = content[:JPEG_SCAN_BYTES]
    if not head.startswith(b"\xff\xd8"):
        return False
    at = 2
    for _ in range(JPEG_MAX_SEGMENTS):
        while at < len(head) and head[at] == 0xFF and at + 1 < len(head) and head[at + 1] == 0xFF:
            at += 1  # fill bytes before a marker
        if at + 4 > len(head) or head[at] != 0xFF:
            return False
        marker = head[at + 1]
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in (_JPEG_SOS, _JPEG_EOI):
            return False  # image data or the end before any frame header
        (length,) = struct.unpack(">H", head[at + 2 : at + 4])
        if length < 2:
            return False
        if marker in _JPEG_SOF:
            frame = head[at + 4 : at + 2 + length]
            if length < 8 or len(frame) < 6:
                return False
            precision, height, width, components = struct.unpack(">BHHB", frame[:6])
            return precision in (8, 12, 16) and height > 0 and width > 0 and 1 <= components <= 4
        at += 2 + length
    return False


_CHECKS = {"application/pdf": pdf_ok, "image/png": png_ok, "image/jpeg": jpeg_ok}


def well_formed(content: bytes, media_type: str) -> bool:
    """Whether ``content`` has the structure of ``media_type`` (one of the accepted types)."""
    check = _CHECKS.get(media_type)
    return check is not None and check(content)
