"""A second portal shaped unlike the reference one, for the tests: Vietnamese paths and field names,
form posts with a session cookie and a CSRF token taken from an HTML form, numeric ids, an HTML
procedure page and login answer. In memory, one process; nothing of dvclab's portal is imported.

    python -m tests.load.second_portal.app --port 8765

Accounts: citizens 036090000001..036090000999 / Citizen@2024, officer 036080000001 / Officer@2024, the
national sync client 036070000001 / Sync@2024. Procedures are the catalog's, numbered 1.. in file order.

Its limits, for the security checks (its map declares those it does not announce): T = 5 wrong passwords
lock an identity for 15 minutes (429 + Retry-After; the account's sessions end); logins are limited per
client address (30 a minute, announced in the older draft's RateLimit-Limit / RateLimit-Policy headers);
tracking per client address (30 per 10 s, announced as X-RateLimit-Limit only: the window is the map's);
uploads are PDFs of at most 1 MiB (413), 10 per dossier (422); the catalog search answers pages of at
most 50 procedures, pages 1..1000, queries of at most 100 characters (422 beyond). It has no phone
verification, no idempotency key on new dossiers and no payment gateway callback. The client address
is the last entry of X-Forwarded-For when the peer is on loopback (the reverse proxy), else the peer's.
"""

from __future__ import annotations

import argparse
import html
import math
import secrets
import time
import unicodedata
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dvclab.catalog import load_catalog

ACCOUNTS = {"036080000001": ("Officer@2024", "can_bo"), "036070000001": ("Sync@2024", "dong_bo")}
DECIDED = ("da_duyet", "tu_choi")
CITIZENS = 999  # 036090000001 .. 036090000999
LOCKOUT_T, LOCKOUT_S = 5, 15 * 60
LOGIN_LIMIT, LOGIN_WINDOW_S = 30, 60
TRACK_LIMIT, TRACK_WINDOW_S = 30, 10
MAX_FILE_BYTES, MAX_FILES = 1024 * 1024, 10
MAX_PAGE, MAX_PAGE_SIZE, MAX_QUERY = 1000, 50, 100  # the catalog search's bounds (C12)


def _plain(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower()


@dataclass
class HoSo:
    so: int
    chu: str
    thu_tuc: int
    trang_thai: str = "nhap"
    bien_nhan: str | None = None
    tep: int = 0
    da_thanh_toan: bool = False
    danh_gia: int | None = None


@dataclass
class State:
    procedures: list[Any] = field(default_factory=lambda: load_catalog())
    sessions: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # sid -> (user, role, csrf)
    pending: dict[str, str] = field(default_factory=dict)  # pre-login sid -> csrf of the login form
    dossiers: dict[int, HoSo] = field(default_factory=dict)
    by_receipt: dict[str, int] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # identity -> consecutive wrong passwords
    locked_until: dict[str, float] = field(default_factory=dict)
    hits: dict[tuple[str, str], deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def change(self, ho_so: HoSo) -> None:
        self.changes.append({"so": ho_so.so, "bien_nhan": ho_so.bien_nhan, "trang_thai": ho_so.trang_thai})


STATE = State()
LOGIN_FORM = (
    '<html><head><link rel="stylesheet" href="/static/site.css"></head><body>'
    '<form method="post" action="/dang-nhap">'
    '<input type="hidden" name="csrf_token" value="{csrf}">'
    '<input name="so_dinh_danh"><input name="mat_khau" type="password"></form></body></html>'
)


def _problem(status: int, text: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"loi": text}, status_code=status, headers=headers)


def _client(request: Request) -> str:
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in ("127.0.0.1", "::1"):
        return forwarded.split(",")[-1].strip()
    return peer


def _limited(kind: str, key: str, limit: int, window_s: float) -> tuple[int, int]:
    """A moving window: (requests left after this one, seconds until one more is allowed); -1 left when
    this request is over the limit (it is not counted)."""
    now = time.monotonic()
    seen = STATE.hits[(kind, key)]
    while seen and seen[0] <= now - window_s:
        seen.popleft()
    if len(seen) >= limit:
        return -1, max(1, math.ceil(seen[0] + window_s - now))
    seen.append(now)
    return limit - len(seen), max(1, math.ceil(seen[0] + window_s - now))


def _too_many(text: str, retry_after: int, headers: dict[str, str]) -> Response:
    headers = {**headers, "Retry-After": str(retry_after)}
    body = {"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": text}
    return JSONResponse(body, status_code=429, headers=headers, media_type="application/problem+json")


def _session(request: Request, role: str | None = None) -> tuple[str, str] | Response:
    found = STATE.sessions.get(request.cookies.get("phien", ""))
    if found is None:
        return _problem(401, "chua dang nhap")
    user, user_role, _csrf = found
    if role and user_role != role:
        return _problem(403, "khong co quyen")
    return user, user_role


async def _form_checked(request: Request, role: str | None = None) -> tuple[tuple[str, str], Any] | Response:
    """The session (cookie) and its CSRF token (form field) on a state-changing request."""
    who = _session(request, role)
    if isinstance(who, Response):
        return who
    form = await request.form()
    csrf = STATE.sessions[request.cookies["phien"]][2]
    if not secrets.compare_digest(str(form.get("csrf_token", "")), csrf):
        return _problem(403, "csrf")
    return who, form


def _own(request: Request, who: tuple[str, str]) -> HoSo | Response:
    ho_so = STATE.dossiers.get(int(request.path_params["so"]))
    if ho_so is None or (who[1] == "cong_dan" and ho_so.chu != who[0]):
        return _problem(404, "khong tim thay")
    return ho_so


async def health(_request: Request) -> Response:
    return PlainTextResponse("song")


async def stylesheet(_request: Request) -> Response:
    return Response("body { font-family: sans-serif; }", media_type="text/css")


def _whole(text: str, low: int, high: int) -> int | None:
    """A query parameter that must be a whole number in [low, high] (None: it is not)."""
    if not text.isdigit():
        return None
    value = int(text)
    return value if low <= value <= high else None


async def search(request: Request) -> Response:
    """The catalog, paged: ``trang`` (page, 1..MAX_PAGE) and ``so_luong`` (page size, 1..MAX_PAGE_SIZE,
    10 by default); a longer ``tu_khoa`` than MAX_QUERY characters, or a page or size out of range, is
    refused (422), never computed."""
    params = request.query_params
    raw = params.get("tu_khoa", "")
    if len(raw) > MAX_QUERY:
        return _problem(422, f"tu_khoa: at most {MAX_QUERY} characters")
    page = _whole(params.get("trang", "1"), 1, MAX_PAGE)
    size = _whole(params.get("so_luong", "10"), 1, MAX_PAGE_SIZE)
    if page is None or size is None:
        return _problem(422, f"trang: 1..{MAX_PAGE}; so_luong: 1..{MAX_PAGE_SIZE}")
    words = _plain(raw).split()
    skip, found, total = (page - 1) * size, [], 0
    for number, proc in enumerate(STATE.procedures, start=1):
        text = _plain(f"{proc.code} {proc.name}")
        if all(w in text for w in words):
            total += 1
            if skip < total <= skip + size:
                found.append({"so": number, "ma": proc.code, "ten": proc.name})
    return JSONResponse({"ket_qua": found, "trang": page, "so_luong": size, "tong": total})


async def procedure(request: Request) -> Response:
    number = int(request.path_params["so"])
    if not 1 <= number <= len(STATE.procedures):
        return HTMLResponse("<p>khong co</p>", status_code=404)
    proc = STATE.procedures[number - 1]
    return HTMLResponse(
        f'<html><body><h1 class="ten">{html.escape(proc.name)}</h1>'
        f'<span class="le-phi">{proc.fee_vnd}</span></body></html>'
    )


async def login_form(_request: Request) -> Response:
    sid, csrf = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    STATE.pending[sid] = csrf
    response = HTMLResponse(LOGIN_FORM.format(csrf=csrf))
    response.set_cookie("phien_tam", sid, httponly=True)
    return response


async def login(request: Request) -> Response:
    form = await request.form()
    expected = STATE.pending.pop(request.cookies.get("phien_tam", ""), None)
    if expected is None or not secrets.compare_digest(str(form.get("csrf_token", "")), expected):
        return HTMLResponse("<p>phien het han</p>", status_code=403)
    left, reset = _limited("login", _client(request), LOGIN_LIMIT, LOGIN_WINDOW_S)
    announced = {"RateLimit-Limit": str(LOGIN_LIMIT), "RateLimit-Policy": f"{LOGIN_LIMIT};w={LOGIN_WINDOW_S}"}
    announced |= {"RateLimit-Remaining": str(max(0, left)), "RateLimit-Reset": str(reset)}
    if left < 0:
        return _too_many("qua nhieu lan dang nhap", reset, announced)
    user, password = str(form.get("so_dinh_danh", "")), str(form.get("mat_khau", ""))
    # Counted per identity, known or not, so a locked unknown number looks like a locked account.
    locked = STATE.locked_until.get(user, 0.0) - time.monotonic()
    if locked > 0:
        return _too_many("tai khoan tam khoa", math.ceil(locked), announced)
    if user in ACCOUNTS:
        ok, role = password == ACCOUNTS[user][0], ACCOUNTS[user][1]
    else:
        number = int(user[5:]) if user.startswith("03609") and len(user) == 12 and user.isdigit() else 0
        ok, role = 1 <= number <= CITIZENS and password == "Citizen@2024", "cong_dan"
    if not ok:
        STATE.failures[user] = STATE.failures.get(user, 0) + 1
        if STATE.failures[user] >= LOCKOUT_T:  # locked: the account's sessions end with it
            STATE.locked_until[user], STATE.failures[user] = time.monotonic() + LOCKOUT_S, 0
            for sid in [s for s, (who, _, _) in STATE.sessions.items() if who == user]:
                del STATE.sessions[sid]
        return HTMLResponse("<p>sai thong tin</p>", status_code=401, headers=announced)
    STATE.failures.pop(user, None)
    sid, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
    STATE.sessions[sid] = (user, role, csrf)
    response = HTMLResponse(
        f'<html><body><p>Xin chao</p><form><input type="hidden" name="csrf_token" value="{csrf}"></form>'
        "</body></html>",
        headers=announced,
    )
    response.set_cookie("phien", sid, httponly=True)
    return response


async def logout(request: Request) -> Response:
    checked = await _form_checked(request)
    if isinstance(checked, Response):
        return checked
    STATE.sessions.pop(request.cookies["phien"], None)
    response = JSONResponse({"da_dang_xuat": True})
    response.delete_cookie("phien")
    return response


async def create(request: Request) -> Response:
    checked = await _form_checked(request, "cong_dan")
    if isinstance(checked, Response):
        return checked
    who, form = checked
    try:
        thu_tuc = int(str(form.get("thu_tuc", "")))
    except ValueError:
        return _problem(422, "thu_tuc")
    if not 1 <= thu_tuc <= len(STATE.procedures):
        return _problem(422, "thu_tuc")
    ho_so = HoSo(so=len(STATE.dossiers) + 1, chu=who[0], thu_tuc=thu_tuc)
    STATE.dossiers[ho_so.so] = ho_so
    return JSONResponse({"ho_so": {"so": ho_so.so, "trang_thai": ho_so.trang_thai}}, status_code=201)


async def upload(request: Request) -> Response:
    checked = await _form_checked(request, "cong_dan")
    if isinstance(checked, Response):
        return checked
    who, form = checked
    ho_so = _own(request, who)
    if isinstance(ho_so, Response):
        return ho_so
    document = form.get("tai_lieu")
    if document is None or isinstance(document, str):
        return _problem(422, "tai_lieu")
    content = await document.read()
    if len(content) > MAX_FILE_BYTES:
        return _problem(413, "tep qua lon")
    if not content.startswith(b"%PDF") or not str(document.filename or "").lower().endswith(".pdf"):
        return _problem(415, "chi nhan PDF")
    if ho_so.tep >= MAX_FILES:  # no await between the test and the count: concurrent uploads cannot pass
        return _problem(422, "qua so tep")
    ho_so.tep += 1
    return JSONResponse({"tep": ho_so.tep}, status_code=201)


async def submit(request: Request) -> Response:
    checked = await _form_checked(request, "cong_dan")
    if isinstance(checked, Response):
        return checked
    ho_so = _own(request, checked[0])
    if isinstance(ho_so, Response):
        return ho_so
    if ho_so.bien_nhan is None:
        ho_so.bien_nhan = f"BN{secrets.token_hex(10).upper()}"  # 80 random bits: not enumerable
        ho_so.trang_thai = "da_nop"
        STATE.by_receipt[ho_so.bien_nhan] = ho_so.so
        STATE.change(ho_so)
    return JSONResponse({"bien_nhan": ho_so.bien_nhan})


async def pay(request: Request) -> Response:
    checked = await _form_checked(request, "cong_dan")
    if isinstance(checked, Response):
        return checked
    ho_so = _own(request, checked[0])
    if isinstance(ho_so, Response):
        return ho_so
    # Paid at once (no gateway), one transaction per dossier: a repeated "pay" names the same one.
    first = not ho_so.da_thanh_toan
    ho_so.da_thanh_toan = True
    fee = STATE.procedures[ho_so.thu_tuc - 1].fee_vnd
    body = {"da_thanh_toan": True, "giao_dich": f"GD{ho_so.so:08d}", "so_tien": fee}
    return JSONResponse(body, status_code=201 if first else 200)


async def track(request: Request) -> Response:
    left, reset = _limited("track", _client(request), TRACK_LIMIT, TRACK_WINDOW_S)
    announced = {"X-RateLimit-Limit": str(TRACK_LIMIT), "X-RateLimit-Remaining": str(max(0, left))}
    if left < 0:
        return _too_many("qua nhieu lan tra cuu", reset, announced)
    number = STATE.by_receipt.get(request.path_params["ma"])
    if number is None:
        return _problem(404, "khong tim thay", announced)
    return JSONResponse({"trang_thai": STATE.dossiers[number].trang_thai}, headers=announced)


async def detail(request: Request) -> Response:
    who = _session(request, "cong_dan")
    if isinstance(who, Response):
        return who
    ho_so = _own(request, who)
    if isinstance(ho_so, Response):
        return ho_so
    return JSONResponse({"so": ho_so.so, "trang_thai": ho_so.trang_thai, "tep": ho_so.tep})


async def rate(request: Request) -> Response:
    checked = await _form_checked(request, "cong_dan")
    if isinstance(checked, Response):
        return checked
    ho_so = _own(request, checked[0])
    if isinstance(ho_so, Response):
        return ho_so
    if ho_so.trang_thai not in (*DECIDED, "da_tra_ket_qua") or ho_so.danh_gia is not None:
        return _problem(409, "chua the danh gia")
    ho_so.danh_gia = int(str(checked[1].get("diem", "0")))
    return JSONResponse({"diem": ho_so.danh_gia}, status_code=201)


async def statistics(_request: Request) -> Response:
    counts: dict[str, int] = {}
    for ho_so in STATE.dossiers.values():
        counts[ho_so.trang_thai] = counts.get(ho_so.trang_thai, 0) + 1
    return JSONResponse({"theo_trang_thai": counts})


async def queue(request: Request) -> Response:
    who = _session(request, "can_bo")
    if isinstance(who, Response):
        return who
    waiting = [{"so": h.so} for h in STATE.dossiers.values() if h.trang_thai == "da_nop"][:20]
    return JSONResponse({"danh_sach": waiting})


def _transition(allowed: tuple[str, ...], to: str | None) -> Any:
    async def handler(request: Request) -> Response:
        checked = await _form_checked(request, "can_bo")
        if isinstance(checked, Response):
            return checked
        who, form = checked
        ho_so = _own(request, who)
        if isinstance(ho_so, Response):
            return ho_so
        if ho_so.trang_thai not in allowed:
            return _problem(409, "sai trang thai")
        target = to or ("da_duyet" if form.get("ket_qua") == "approved" else "tu_choi")
        if target == "da_tra_ket_qua" and ho_so.trang_thai == "da_duyet" and not ho_so.da_thanh_toan:
            return _problem(409, "chua nop phi")
        ho_so.trang_thai = target
        STATE.change(ho_so)
        return JSONResponse({"so": ho_so.so, "trang_thai": ho_so.trang_thai})

    return handler


async def sync(request: Request) -> Response:
    who = _session(request, "dong_bo")
    if isinstance(who, Response):
        return who
    start = int(request.query_params.get("tu", "0"))
    limit = min(500, int(request.query_params.get("toi_da", "100")))
    records = STATE.changes[start : start + limit]
    return JSONResponse({"ban_ghi": records, "con_tro": start + len(records)})


app = Starlette(
    routes=[
        Route("/suc-khoe", health),
        Route("/static/site.css", stylesheet),
        Route("/thu-tuc", search),
        Route("/thu-tuc/{so:int}", procedure),
        Route("/dang-nhap", login_form, methods=["GET"]),
        Route("/dang-nhap", login, methods=["POST"]),
        Route("/dang-xuat", logout, methods=["POST"]),
        Route("/ho-so", create, methods=["POST"]),
        Route("/ho-so/{so:int}", detail),
        Route("/ho-so/{so:int}/tep", upload, methods=["POST"]),
        Route("/ho-so/{so:int}/nop", submit, methods=["POST"]),
        Route("/ho-so/{so:int}/thanh-toan", pay, methods=["POST"]),
        Route("/ho-so/{so:int}/danh-gia", rate, methods=["POST"]),
        Route("/tra-cuu/{ma}", track),
        Route("/thong-ke", statistics),
        Route("/can-bo/hang-cho", queue),
        Route("/can-bo/ho-so/{so:int}/tiep-nhan", _transition(("da_nop",), "da_tiep_nhan"), methods=["POST"]),
        Route(
            "/can-bo/ho-so/{so:int}/bo-sung",
            _transition(("da_tiep_nhan",), "yeu_cau_bo_sung"),
            methods=["POST"],
        ),
        Route("/can-bo/ho-so/{so:int}/quyet-dinh", _transition(("da_tiep_nhan",), None), methods=["POST"]),
        Route("/can-bo/ho-so/{so:int}/tra-ket-qua", _transition(DECIDED, "da_tra_ket_qua"), methods=["POST"]),
        Route("/dong-bo/thay-doi", sync),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
