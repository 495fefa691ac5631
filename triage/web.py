"""The agents' pages: login, classify, queue, detail, corrections (Japanese UI)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError

from . import claims, intake, results
from .auth import (
    Account,
    LoginLimited,
    authenticate,
    begin_attempt,
    end_session,
    parse_limit,
    require_role,
    security_log,
    start_session,
    withdraw_attempt,
)
from .dataset import LABELS, LABELS_JA
from .errors import MESSAGES_JA, APIError, json_error, wants_json
from .features import CONCEPTS
from .store import as_utc

REASON_JA = {**{reason: name for reason, name in CONCEPTS.values() if reason}, "other": "その他"}

bp = Blueprint("web", __name__)
log = logging.getLogger("triage.web")


# A same-site relative path: printable ASCII without a backslash (browsers read "\\" as "/"),
# starting with exactly one "/". Tabs, CR/LF and spaces are refused: browsers drop them,
# so "/\t/evil.example" becomes "//evil.example", and CR/LF cannot go into a header.
_LOCAL_PATH = re.compile(r"/(?![/\\])[!-\[\]-~]*")


def flash_back(endpoint: str, message: str, category: str = "ok", **values: Any) -> tuple[Response, int]:
    """Show ``message`` on the next page and send the browser there with 303 (a reload does not post again)."""
    flash(message, category)
    return redirect(url_for(endpoint, **values)), 303


class Refused(Exception):
    """Form input a page refuses; the message (Japanese) is shown on the page the browser is sent back to."""


def csv_upload(not_csv: str, too_large: str) -> tuple[str, bytes]:
    """Return the file name and bytes of the form's ``csv`` upload, or raise Refused with what is wrong."""
    upload = request.files.get("csv")
    if upload is None or not upload.filename:
        raise Refused("CSVファイルを選んでください。")
    name = Path(upload.filename).name
    if not name.lower().endswith(".csv"):
        raise Refused(not_csv)
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    data = upload.stream.read(limit + 1)  # one byte more than allowed tells a file at the limit from a larger one
    if len(data) > limit:
        raise Refused(too_large)
    return name, data


def safe_target(target: str | None, fallback: str) -> str:
    """Return ``target`` if it is a same-site relative path, else ``fallback``: an open redirect helps phishing."""
    if not target or not _LOCAL_PATH.fullmatch(target):
        return fallback
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else fallback


def _attempt_keys(name: str) -> list[str]:
    return ["login-account:" + name.strip().lower()[:80], f"login-address:{request.remote_addr}"]


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"LABELS": LABELS, "LABELS_JA": LABELS_JA, "REASON_JA": REASON_JA, "claim_rows": claims.rows_ja, "claim_of": results.claim_of}


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(current_app.config["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        # A typo must not take the queue down; UTC is still a correct time, shown with its zone.
        log.warning("unknown TRIAGE_TIMEZONE %r; showing UTC", current_app.config["TIMEZONE"])
        return ZoneInfo("UTC")


@bp.app_template_filter("local")
def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Format a stored time in TRIAGE_TIMEZONE with the zone's abbreviation (JST)."""
    if moment is None:
        return ""
    local = as_utc(moment).astimezone(_zone())
    return f"{local.strftime(fmt)} {local.tzname()}"


@bp.app_template_filter("waited")
def waited(moment: datetime) -> str:
    """Return how long an inquiry has waited, in Japanese (5分, 1時間20分)."""
    minutes = int((datetime.now(UTC) - as_utc(moment)).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)}分"
    return f"{minutes // 60}時間{minutes % 60}分"


@bp.app_template_test("overdue")
def overdue(moment: datetime) -> bool:
    """Return True when an inquiry has waited longer than TRIAGE_WAIT_WARN_MINUTES."""
    limit = timedelta(minutes=current_app.config["WAIT_WARN_MINUTES"])
    return datetime.now(UTC) - as_utc(moment) > limit


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Log in with a name and password (failed attempts are limited per account and per address)."""
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        store = intake.store()
        limit, window = parse_limit(current_app.config["LOGIN_LIMIT"])
        keys = _attempt_keys(name)
        try:
            attempt = begin_attempt(store, keys, limit, window)
        except LoginLimited as exc:
            security_log.warning("login limit reached for %r from %s", name[:80], request.remote_addr)
            flash("ログインの失敗が続いたため、しばらくログインできません。"
                  f"{exc.retry_after}秒ほど待ってから再度お試しください。", "error")
            return render_template("login.html"), 429, {"Retry-After": str(exc.retry_after)}
        user = authenticate(store, name, request.form.get("password") or "")
        if user is None:
            security_log.warning("failed login for %r from %s", name[:80], request.remote_addr)
            flash("ユーザー名またはパスワードが正しくありません。", "error")
            return render_template("login.html"), 401
        # Only failures count: a shift of agents behind one NAT address logs in freely.
        withdraw_attempt(store, attempt, clear_key=keys[0])
        session.clear()
        session.permanent = True
        login_user(Account(user, start_session(store, user)))
        log.info("login %s (%s)", user.name, user.role)
        return redirect(safe_target(request.args.get("next"), url_for("web.index")))
    return render_template("login.html")


@bp.post("/logout")
def logout() -> Any:
    """End the session on the server too: a copy of the cookie stops working with it."""
    if current_user.is_authenticated:
        end_session(intake.store(), current_user.get_id())
    logout_user()
    session.clear()
    return redirect(url_for("web.login"))


def segments(text: str, spans: list[dict[str, float]],
             sentence: dict[str, Any] | None = None) -> list[tuple[str, int, bool]]:
    """Split text into (piece, heat 0-3, in the deciding sentence) for highlighting; the template escapes each piece."""
    top = max((s["weight"] for s in spans), default=0.0) or 1.0
    cuts = {0, len(text)}
    heats: list[tuple[int, int, int]] = []
    for s in spans:
        start, end = int(s["start"]), int(s["end"])
        heat = 3 if s["weight"] >= 0.66 * top else 2 if s["weight"] >= 0.4 * top else 1
        heats.append((start, end, heat))
        cuts.update((start, end))
    lo, hi = (int(sentence["start"]), int(sentence["end"])) if sentence else (0, 0)
    if hi > lo:
        cuts.update((lo, hi))
    bounds = sorted(c for c in cuts if 0 <= c <= len(text))
    out: list[tuple[str, int, bool]] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        if a == b:
            continue
        heat = next((h for start, end, h in heats if start <= a and b <= end), 0)
        out.append((text[a:b], heat, lo <= a and b <= hi and hi > lo))
    return out


@bp.route("/", methods=["GET", "POST"])
@require_role("agent")
def index() -> Any:
    """Paste an inquiry, see its route, why, and the FAQ answer."""
    result = None
    text = ""
    inquiry_id = None
    if request.method == "POST":
        text = request.form.get("text") or ""
        try:
            intake.check_text(text, "本文")
        except APIError:
            if intake.is_blank(text):
                flash("問い合わせ本文を入力してください。", "error")
            elif max(len(text), intake.normalized_length(text)) > current_app.config["MAX_TEXT_LENGTH"]:
                # Counted after NFKC too: a character like ﷺ becomes 18.
                flash(f"本文が長すぎます（{current_app.config['MAX_TEXT_LENGTH']}文字まで）。", "error")
            else:
                flash("本文に使えない文字が含まれています。", "error")
            return render_template("index.html", text=text), 422
        result = intake.analyse(text)
        row, _ = intake.keep(text, result, source="web")
        inquiry_id = row.id
        result["segments"] = segments(text, result["explanation"]["spans"], result["explanation"].get("sentence"))
    return render_template("index.html", text=text, result=result, inquiry_id=inquiry_id)


PAGE_SIZE = 100


def _filters() -> tuple[str | None, bool | None]:
    label = request.args.get("label") or None
    if label not in (None, *LABELS):
        abort(400)
    handled = {"open": False, "done": True}.get(request.args.get("state", "open"))
    return label, handled


@bp.get("/queue")
@require_role("agent")
def queue() -> Any:
    """Inquiries by effective route: escalations first (people at risk first, oldest first), then 要確認."""
    label, handled = _filters()
    search = (request.args.get("q") or "").strip()[:200] or None
    try:
        page = max(int(request.args.get("page", "1")), 1)
    except ValueError:
        abort(400)
    store = intake.store()
    # One row more than a page tells whether a next page exists.
    rows = store.queue(label=label, handled=handled, search=search, limit=PAGE_SIZE * page + 1)
    more = len(rows) > PAGE_SIZE * page
    rows = rows[: PAGE_SIZE * page]
    if request.args.get("partial"):
        return render_template("_queue_rows.html", rows=rows)
    counts = store.route_counts(handled=handled, search=search)
    return render_template("queue.html", rows=rows, label=label, state=request.args.get("state", "open"),
                           q=search or "", page=page, more=more, counts=counts,
                           zone=local_time(datetime.now(UTC), "").strip())


@bp.post("/inquiries/<int:inquiry_id>/assign")
@require_role("agent")
def assign(inquiry_id: int) -> Any:
    """Take an inquiry (assign to me), or release it."""
    mine = request.form.get("assign", "me") == "me"
    if not intake.store().assign(inquiry_id, current_user.name if mine else None):
        abort(404)
    flash(f"#{inquiry_id} を担当にしました。" if mine else f"#{inquiry_id} の担当を外しました。", "ok")
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/queue") else url_for("web.detail", inquiry_id=inquiry_id))


@bp.get("/inquiries/<id:inquiry_id>")
@require_role("agent")
def detail(inquiry_id: int) -> Any:
    """One inquiry with its classification, explanation, FAQ answer and corrections."""
    row = intake.store().get_inquiry(inquiry_id)
    if row is None:
        abort(404)
    # The route stored on arrival (what the queue shows) and the claim extracted then ("昨日" counts from
    # then), not what the current model would say on this visit.
    result = intake.explained(row)
    result["segments"] = segments(row.text, result["explanation"]["spans"], result["explanation"].get("sentence"))
    if row.corrected_label:
        result = intake.with_route(result, row.corrected_label, row.text)
    return render_template("detail.html", row=row, result=result)


@bp.post("/inquiries/<id:inquiry_id>/correction")
@require_role("agent")
def correct(inquiry_id: int) -> Any:
    """Store an agent's correction of the route."""
    label = request.form.get("label")
    if label not in LABELS:
        abort(400)
    if intake.store().add_correction(inquiry_id, label, current_user.name) is None:
        abort(404)
    log.info("correction inquiry=%d label=%s by %s", inquiry_id, label, current_user.name)
    flash(f"正しい分類を「{LABELS_JA[label]}」として記録しました。", "ok")
    detail_page = url_for("web.detail", inquiry_id=inquiry_id)
    back = safe_target(request.form.get("back"), detail_page)
    if back == url_for("web.index"):
        # From the classify page: the agent goes on with the next call, in an empty box.
        return redirect(url_for("web.index"))
    return redirect(back if back.startswith("/inquiries/") else detail_page)


@bp.post("/inquiries/<id:inquiry_id>/handled")
@require_role("agent")
def handled(inquiry_id: int) -> Any:
    """Mark an inquiry handled (or reopen it)."""
    done = request.form.get("handled", "1") == "1"
    if not intake.store().set_handled(inquiry_id, done, current_user.name):
        abort(404)
    flash("対応済みにしました。" if done else "未対応に戻しました。", "ok")
    return redirect(url_for("web.detail", inquiry_id=inquiry_id))


@bp.errorhandler(CSRFError)
def _session_ended(exc: CSRFError) -> Any:
    # A form sent after the session ended (expiry, logout in another tab) fails its CSRF check:
    # ask to log in again and come back; app.js keeps the pasted text in the tab (sessionStorage).
    if current_user.is_authenticated:
        # Logged in with a bad token: a forged or broken form, refused like any other 400.
        if wants_json():
            return json_error(400, exc.description or "bad request")
        return render_template("error.html", status=400, message=MESSAGES_JA.get(400, exc.name)), 400
    flash("ログインの有効期限が切れました。もう一度ログインしてください。入力した本文は保持しています。", "error")
    back = request.path if request.path.startswith("/") and not request.path.startswith("//") else "/"
    return redirect(url_for("web.login", next=back))


@bp.after_request
def _no_store(resp: Response) -> Response:
    # Pages here show inquiries: never keep them in a browser or proxy cache.
    if g.get("no_store"):
        resp.headers["Cache-Control"] = "no-store"
    return resp
