"""Upload limits: a request-body guard that answers 413 before the body is read, and type sniffing."""

from __future__ import annotations

import json
import re
import unicodedata
from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Magic bytes of the accepted document types, with the file extensions each may carry.
SIGNATURES: tuple[tuple[bytes, str, tuple[str, ...]], ...] = (
    (b"%PDF-", "application/pdf", (".pdf",)),
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
)
MULTIPART_OVERHEAD = 16 * 1024  # boundaries and part headers around one file


def sniff(head: bytes, filename: str) -> str | None:
    """The media type if the content's magic bytes and the file's extension agree, else None."""
    lower = filename.lower()
    for magic, media_type, extensions in SIGNATURES:
        if head.startswith(magic):
            return media_type if lower.endswith(extensions) else None
    return None


def safe_filename(filename: str) -> str:
    """The base name, in NFC (a name typed with combining diacritics, as macOS sends it, keeps its
    letters instead of losing each mark to `_`), with anything but letters, digits, `.`, `-`, `_` and
    spaces replaced."""
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\- ]", "_", name).strip() or "file"
    return name[-120:]


def ascii_filename(filename: str) -> str:
    """An ASCII stand-in for old clients: diacritics dropped (`Giấy` -> `Giay`, `đ` -> `d`), any other
    non-ASCII character, quote or backslash replaced."""
    base = unicodedata.normalize("NFKD", filename.replace("đ", "d").replace("Đ", "D"))
    base = "".join(ch for ch in base if not unicodedata.combining(ch))
    return re.sub(r'[^\x20-\x7e]|["\\]', "_", base) or "file"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII `filename` and the exact UTF-8 name in `filename*` (RFC 6266,
    RFC 8187); header values are latin-1 on the wire, so a raw Vietnamese name cannot go there."""
    return f"attachment; filename=\"{ascii_filename(filename)}\"; filename*=UTF-8''{quote(filename, safe='')}"


class _TooLarge(Exception):
    pass


def _problem_413(limit: int) -> tuple[Message, Message]:
    body = json.dumps(
        {
            "type": "https://dvclab.local/problems/content-too-large",
            "title": "Content too large",
            "status": 413,
            "detail": f"the request body exceeds {limit} bytes",
        }
    ).encode()
    start = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyLimit:
    """Caps every request body: uploads at one file plus multipart overhead, other routes at a small
    JSON size. A declared Content-Length over the cap is refused without reading a byte; a chunked
    body is counted as it streams and refused as soon as it passes the cap."""

    def __init__(
        self, app: ASGIApp, *, default_limit: int, upload_limit: int, upload_path: re.Pattern[str]
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.upload_limit = upload_limit
        self.upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if self.upload_path.match(scope["path"]) else self.default_limit
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            for message in _problem_413(limit):
                await send(message)
            return
        received = 0
        tripped = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, tripped
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    tripped = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped:
                # Whatever the app made of the aborted body (frameworks turn it into a 400), the
                # client gets the 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    for m in _problem_413(limit):
                        await send(m)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not started:
                for m in _problem_413(limit):
                    await send(m)
        except Exception:
            if tripped and not started:
                for m in _problem_413(limit):
                    await send(m)
                return
            raise
