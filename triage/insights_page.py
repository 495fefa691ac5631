"""The 状況 page for ops: volume chart, FAQ gaps with a start for a new FAQ entry, emerging topics, corrections."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user

from . import insights, intake
from .auth import require_role
from .dataset import LABELS, LABELS_JA
from .export import FORMULA_STARTS
from .redact import redact

bp = Blueprint("insights", __name__, url_prefix="/admin/insights")
log = logging.getLogger("triage.insights")

JST = timezone(timedelta(hours=9), "JST")
WINDOWS = (1, 3, 6, 12, 24, 48, 72, 168)
MAX_HOURS = 24 * 31
# The same colours as the route badges of the agents' pages (style.css).
ROUTE_COLOURS = {"faq": "#1b7f3b", "compensation": "#a15c00", "escalation": "#b3261e"}
FAQ_HEADER = ("id", "question", "answer", "keywords")
FAQ_ID = re.compile(r"[a-z0-9_]{1,64}")
# Ids and terms carried from a cluster to the draft form: enough to show examples, short enough for a URL.
DRAFT_IDS = 50
DRAFT_EXAMPLES = 5


def jst(value: str | datetime) -> datetime:
    """Return an ISO time (or a datetime) in Japan time."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(JST)


def volume_chart(volume: dict[str, Any], width: int = 880, height: int = 260) -> dict[str, Any]:
    """Return the geometry of a stacked bar chart of inquiries per hour and route (drawn as SVG by the template)."""
    left, right, top, bottom = 44, 8, 10, 34
    hours = volume["hours"]
    n = max(1, len(hours))
    totals = [sum(volume["routes"].get(label, [0] * n)[h] for label in LABELS) for h in range(len(hours))]
    peak = max(totals, default=0)
    step = _nice_step(peak)
    y_max = max(step, -(-peak // step) * step)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.8)
    scale = plot_h / y_max
    bars = []
    every = max(1, -(-n // 12))  # at most about 12 hour labels
    for h, start in enumerate(hours):
        when = jst(start)
        x = left + h * slot + (slot - bar_w) / 2
        y = top + plot_h
        segments = []
        for label in LABELS:
            count = volume["routes"].get(label, [0] * n)[h]
            if not count:
                continue
            seg_h = count * scale
            y -= seg_h
            segments.append({"label": label, "count": count, "y": round(y, 2), "h": round(seg_h, 2),
                             "fill": ROUTE_COLOURS[label],
                             "title": f"{when:%m/%d %H}時台 {LABELS_JA[label]} {count}件"})
        bars.append({"x": round(x, 2), "w": round(bar_w, 2), "total": totals[h], "segments": segments,
                     "label": f"{when:%H}時" if h % every == 0 else "", "label_x": round(x + bar_w / 2, 2),
                     "day": f"{when:%m/%d}" if h == 0 or when.hour == 0 else ""})
    ticks = [{"value": v, "y": round(top + plot_h - v * scale, 2)} for v in range(0, y_max + 1, step)]
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top,
            "bottom": top + plot_h, "bars": bars, "ticks": ticks, "peak": peak, "colours": ROUTE_COLOURS}


def _nice_step(peak: int) -> int:
    """Return a tick step of 1, 2 or 5 times a power of ten giving about four gridlines."""
    raw = max(1, peak) / 4
    power = 1
    while power * 10 <= raw:
        power *= 10
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


@bp.get("/")
@require_role("admin")
def page() -> Any:
    """The 状況 page: volume per route per hour, FAQ gaps, emerging topics, correction rates."""
    raw = request.args.get("hours")
    hours = current_app.config["INSIGHT_HOURS"] if raw in (None, "") else int(raw) if raw.isdigit() else 0
    if not 1 <= hours <= MAX_HOURS:
        abort(400)
    result = insights.cached(intake.store(), hours, current_app.config)
    windows = sorted({*WINDOWS, hours})
    return render_template("insights.html", r=result, hours=hours, windows=windows,
                           chart=volume_chart(result["volume"]),
                           jst=jst, computed=jst(result["until"]), draft_ids=DRAFT_IDS)


def _draft_ids(raw: str) -> list[int]:
    ids = [int(p) for p in re.findall(r"\d{1,12}", raw or "")]
    return list(dict.fromkeys(ids))[:DRAFT_IDS]


def _examples(ids: list[int]) -> list[dict[str, Any]]:
    texts = insights.fetch_texts(intake.store(), ids[:DRAFT_EXAMPLES])
    return [{"inquiry_id": i, "text": redact(texts[i])} for i in ids[:DRAFT_EXAMPLES] if i in texts]


def _first_sentence(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    end = min((i for i in (text.find("。"), text.find("？"), text.find("?")) if i >= 0), default=-1)
    text = text[: end + 1] if 0 <= end < limit else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


@bp.get("/faq-draft")
@require_role("admin")
def faq_draft() -> Any:
    """A new FAQ entry started from a gap cluster: its words as keywords, its examples to write from."""
    ids = _draft_ids(request.args.get("ids", ""))
    terms = " ".join(request.args.get("terms", "").split())[:300]
    examples = _examples(ids)
    stamp = datetime.now(JST).strftime("%Y%m%d")
    form = {
        "id": f"gap_{stamp}_{ids[0]}" if ids else f"gap_{stamp}",
        "question": _first_sentence(examples[0]["text"]) if examples else "",
        "answer": "",
        "keywords": terms,
    }
    return render_template("faq_draft.html", form=form, examples=examples, ids=",".join(map(str, ids)), errors=[])


@bp.post("/faq-draft")
@require_role("admin")
def faq_draft_csv() -> Any:
    """Return the entry as one CSV row in the FAQ import format (id,question,answer,keywords)."""
    form = {k: (request.form.get(k) or "").strip() for k in FAQ_HEADER}
    form["keywords"] = " ".join(form["keywords"].split())
    errors = _check_entry(form)
    if errors:
        ids = _draft_ids(request.form.get("ids", ""))
        return render_template("faq_draft.html", form=form, examples=_examples(ids), ids=",".join(map(str, ids)),
                               errors=errors), 422
    log.info("FAQ draft %s written by %s", form["id"], current_user.name)
    return Response(faq_csv_row(form), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=faq-{form['id']}.csv"})


def _check_entry(form: dict[str, str]) -> list[str]:
    errors = []
    if not FAQ_ID.fullmatch(form["id"]):
        errors.append("IDは半角英小文字・数字・_ で64文字までにしてください（例: app_transfer）。")
    if not form["question"]:
        errors.append("質問を入力してください。")
    if not form["answer"]:
        errors.append("回答を入力してください。")
    limits = {"question": 500, "answer": 4000, "keywords": 500}
    names = {"question": "質問", "answer": "回答", "keywords": "キーワード"}
    for key, limit in limits.items():
        if len(form[key]) > limit:
            errors.append(f"{names[key]}は{limit}文字までにしてください。")
        if form[key].startswith(FORMULA_STARTS):
            # Excel would run it as a formula; an escaping apostrophe would end up in the FAQ.
            errors.append(f"{names[key]}の先頭に = + - @ は使えません。")
    return errors


def faq_csv_row(entry: dict[str, str]) -> bytes:
    """Return a header and one row in the FAQ file's format, UTF-8 with BOM (Excel opens it as is)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(FAQ_HEADER)
    w.writerow([entry[k] for k in FAQ_HEADER])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")
