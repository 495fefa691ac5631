"""The admin pages for setting up an incident: the profile editor and the FAQ versions (Japanese UI)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from . import faq, incident, intake
from .auth import require_role
from .dataset import DatasetError
from .incident import INSTRUCTION_JA, INSTRUCTION_KEYS, STANDARD, STANDARD_JA, Profile, ProfileError
from .store import Store
from .web import Refused, csv_upload, flash_back

bp = Blueprint("incident", __name__, url_prefix="/admin")
log = logging.getLogger("triage.admin")
PREVIEW_COUNT = 3
ACTIONS_JA = {
    ("faq", "first-run"): "FAQ 初回取り込み",
    ("faq", "import"): "FAQ 取り込み・有効化",
    ("faq", "upload"): "FAQ アップロード",
    ("faq", "activate"): "FAQ 有効化",
    ("faq", "rollback"): "FAQ ロールバック",
    ("profile", "first-run"): "インシデント設定（初期値）",
    ("profile", "set"): "インシデント設定の変更",
}


@bp.app_context_processor
def _placeholder_names() -> dict[str, Any]:
    # The agent page names the placeholders it filled, too.
    return {"PLACEHOLDER_JA": STANDARD_JA}


def _store() -> Store:
    return intake.store()


def _profile() -> Profile:
    """Return the stored current profile (not this worker's copy, which may be a second behind)."""
    return incident.ensure(_store(), current_app.config)


def _when(value: datetime) -> str:
    """Return a stored time as the audit log writes it (UTC, seconds); SQLite gives naive UTC back."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def audit_entries(store: Store, limit: int = 30) -> list[dict[str, Any]]:
    """Return the FAQ and profile changes shaped like the model registry's audit entries, newest first."""
    out = []
    for e in store.live_events(limit=limit):
        detail = e.detail or {}
        if e.name == faq.POINTER:
            version = f"FAQ {e.value}"
            reason = " ".join(str(x) for x in (detail.get("filename"), detail.get("reason")) if x)
            if e.action == "rollback":
                reason = f"FAQ {detail.get('from')} から"
        else:
            version = f"設定 r{e.value}"
            reason = ", ".join(incident.key_label_ja(k) for k in detail.get("changed", [])) or detail.get("from", "")
        out.append({"time": _when(e.at), "action": ACTIONS_JA.get((e.name, e.action), e.action), "actor": e.actor,
                    "version": version, "reason": reason})
    return out


def merged_audit(model_entries: list[dict[str, Any]], store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """Return model, FAQ and profile audit entries in one list, newest first."""
    entries = list(model_entries) + audit_entries(store, limit)
    entries.sort(key=lambda a: str(a.get("time", "")), reverse=True)
    return entries[:limit]


def preview(entries: list[faq.Entry], profile: Profile, n: int = PREVIEW_COUNT) -> list[dict[str, Any]]:
    """Return n answers filled from the profile, chosen to show as many different placeholders as possible."""
    chosen: list[faq.Entry] = []
    seen: set[str] = set()
    pool = list(entries)
    while pool and len(chosen) < n:
        best = max(pool, key=lambda e: (len(set(faq.placeholders(e.answer)) - seen), -pool.index(e)))
        chosen.append(best)
        seen |= set(faq.placeholders(best.answer))
        pool.remove(best)
    out = []
    for e in chosen:
        answer, filled, unfilled = faq.fill(e.answer, profile.values())
        out.append({"id": e.id, "question": e.question, "answer": answer, "filled": filled, "unfilled": unfilled})
    return out


def _active_entries(store: Store) -> list[faq.Entry]:
    version = faq.active_id(store)
    return faq.entries_of(faq.get(store, version)) if version is not None else []


def _unfillable(entries: list[faq.Entry], profile: Profile) -> list[str]:
    used = {n for e in entries for n in faq.placeholders(e.answer)}
    return sorted(used - set(profile.values()))


# -- the incident profile -------------------------------------------------------


def _form_changes(form: Any, profile: Profile) -> dict[str, str]:
    """Return the profile keys the form sets (extra placeholders as NAME=VALUE lines; absent lines remove)."""
    changes = {k: form.get(k, "") for k in STANDARD}
    for k in INSTRUCTION_KEYS:
        changes[f"instruction.{k}"] = form.get(f"instruction.{k}", "")
        changes[f"transfer.{k}"] = form.get(f"transfer.{k}", "")
    lines = [line.strip() for line in form.get("extra", "").splitlines() if line.strip()]
    given: dict[str, str] = {}
    for line in lines:
        name, eq, value = line.partition("=")
        if not eq:
            raise ProfileError([incident.Problem(line, "no_equals")])
        given[name.strip()] = value
    for name in profile.extra:
        changes[name] = given.pop(name, "")
    changes.update(given)
    return changes


def _render_profile(profile: Profile, status: int = 200, errors: list[str] | None = None,
                    previewing: bool = False) -> Any:
    store = _store()
    entries = _active_entries(store)
    events = [a for a in audit_entries(store, 50) if a["version"].startswith("設定")][:10]
    return render_template(
        "incident.html", profile=profile, standard=STANDARD, standard_ja=STANDARD_JA,
        instruction_keys=INSTRUCTION_KEYS, instruction_ja=INSTRUCTION_JA, errors=errors or [],
        previewing=previewing, preview=preview(entries, profile), unfillable=_unfillable(entries, profile),
        faq_version=faq.active_id(store), events=events,
        extra_text="\n".join(f"{k}={v}" for k, v in sorted(profile.extra.items())),
    ), status


@bp.get("/incident")
@require_role("admin")
def profile_page() -> Any:
    """The profile editor with three filled answers of the active FAQ."""
    return _render_profile(_profile())


@bp.post("/incident")
@require_role("admin")
def profile_save() -> Any:
    """Preview the form's profile (nothing stored), or save it as a new revision for every worker."""
    current = _profile()
    try:
        updated, changed = current.updated(_form_changes(request.form, current))
    except ProfileError as exc:
        return _render_profile(current, 422, [p.ja() for p in exc.problems])
    if request.form.get("action") == "preview":
        return _render_profile(updated, previewing=True)
    if not changed:
        return flash_back("incident.profile_page", "変更はありません。")
    saved = incident.save(_store(), updated, current_user.name, changed)
    log.info("incident profile revision %s saved by %s (%s)", saved.revision, current_user.name, ", ".join(changed))
    flash(f"インシデント設定を保存しました（r{saved.revision}）。数秒で全ての画面・APIに反映されます。", "ok")
    missing = _unfillable(_active_entries(_store()), saved)
    if missing:
        flash("有効なFAQが使う差し込み項目 " + "、".join("{" + m + "}" for m in missing)
              + " に値がありません。回答にそのまま表示されます。", "error")
    return redirect(url_for("incident.profile_page")), 303


# -- FAQ versions -----------------------------------------------------------------


def _hits_of(store: Store, version_id: int) -> dict[str, Any] | None:
    for e in store.live_events(faq.POINTER, limit=None):
        if e.value == str(version_id) and e.action in ("upload", "import") and e.detail:
            return e.detail.get("hits")
    return None


def _compare(store: Store, entries: list[faq.Entry]) -> dict[str, Any] | None:
    """Return top-1/top-3 hit rates of new entries and of the active FAQ on TRIAGE_GATE_CSV (if it has faq_id)."""
    found = faq.labelled_rows(current_app.config.get("GATE_CSV"))
    if found is None:
        return None
    path, rows = found
    figures: dict[str, Any] = {"csv": path, "new": faq.hit_rates(faq.build(entries), rows)}
    active = faq.active_id(store)
    if active is not None:
        figures["active"] = faq.hit_rates(faq.load_kb(store, active), rows)
    return figures


@bp.get("/faq")
@require_role("admin")
def faq_page() -> Any:
    """FAQ versions with who and when; upload, activate, roll back, download."""
    store = _store()
    events = [a for a in audit_entries(store, 50) if a["version"].startswith("FAQ")][:15]
    return render_template("faq_admin.html", versions=faq.versions(store), active=faq.active_id(store),
                           serving=intake.faq_kb(), events=events)


@bp.post("/faq/upload")
@require_role("admin")
def faq_upload() -> Any:
    """Validate an uploaded FAQ; store it as an inactive version and show how it compares."""
    mb = current_app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024)
    try:
        name, data = csv_upload("CSVファイル（.csv）だけを受け付けます。", f"ファイルが大きすぎます（上限 {mb} MB）。")
    except Refused as exc:
        return flash_back("incident.faq_page", str(exc), "error")
    store = _store()
    profile = _profile()
    try:
        parsed = faq.parse(data, name, known=set(profile.values()))
    except faq.FaqError as exc:
        return render_template("faq_errors.html", filename=name, errors=exc.ja()), 422
    try:
        figures = _compare(store, parsed.entries)
    except DatasetError as exc:  # a broken TRIAGE_GATE_CSV must not block the upload
        log.warning("FAQ comparison skipped: %s", exc)
        figures = None
    version = faq.store_version(store, parsed, current_user.name, activate=False,
                                detail={"hits": figures} if figures else None)
    log.info("FAQ version %d uploaded by %s (%d entries)", version, current_user.name, len(parsed.entries))
    return flash_back("incident.faq_version", f"FAQ バージョン {version} を登録しました（{len(parsed.entries)} 件）。"
                      "内容を確認して有効にしてください。", version_id=version)


@bp.get("/faq/<int:version_id>")
@require_role("admin")
def faq_version(version_id: int) -> Any:
    """One version: who and when, hit rates against the active one, three filled answers."""
    store = _store()
    try:
        row = faq.get(store, version_id)
    except faq.VersionError:
        abort(404)
    entries = faq.entries_of(row)
    profile = _profile()
    return render_template("faq_version.html", v=row, active=faq.active_id(store), hits=_hits_of(store, version_id),
                           preview=preview(entries, profile), unfillable=_unfillable(entries, profile),
                           entries=entries)


@bp.post("/faq/<int:version_id>/activate")
@require_role("admin")
def faq_activate(version_id: int) -> Any:
    """Make a version active for every worker."""
    try:
        faq.activate(_store(), version_id, current_user.name, reason=request.form.get("reason", ""))
    except faq.VersionError as exc:
        return flash_back("incident.faq_page", f"有効にできませんでした: {exc.ja}", "error")
    log.info("FAQ version %d activated by %s", version_id, current_user.name)
    return flash_back("incident.faq_page",
                      f"FAQ バージョン {version_id} を有効にしました。数秒で全ての画面・APIに反映されます。")


@bp.post("/faq/rollback")
@require_role("admin")
def faq_rollback() -> Any:
    """Go back to the version active before the current one."""
    try:
        version = faq.rollback(_store(), current_user.name)
    except faq.VersionError as exc:
        return flash_back("incident.faq_page", f"ロールバックできませんでした: {exc.ja}", "error")
    log.info("FAQ rolled back to version %d by %s", version, current_user.name)
    return flash_back("incident.faq_page", f"FAQ バージョン {version} に戻しました。")


@bp.get("/faq/<int:version_id>.csv")
@require_role("admin")
def faq_download(version_id: int) -> Response:
    """Download a version as CSV (UTF-8 with BOM for Excel; uploads back unchanged)."""
    try:
        entries = faq.entries_of(faq.get(_store(), version_id))
    except faq.VersionError:
        abort(404)
    return Response(faq.to_csv(entries), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=faq-v{version_id}.csv"})
