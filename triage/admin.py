"""The operations page: versions, quality gate, activate, roll back, retrain from CSV."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from . import dataset, intake, jobs, messages_ja
from .auth import AuthError, active_sessions, end_all_sessions, list_users, require_role, session_limits
from .claims import JST
from .errors import http_error
from .export import corrections_csv, corrections_filename
from .incident_admin import merged_audit
from .registry import Registry, RegistryError
from .store import TrainingJob
from .web import Refused, csv_upload, flash_back

bp = Blueprint("admin", __name__, url_prefix="/admin")
log = logging.getLogger("triage.admin")


# What ops read in the audit log; the log on disk keeps the English action names the CLI writes.
MODEL_ACTIONS_JA = {
    "train": "モデル学習",
    "activate": "モデル有効化",
    "force-activate": "モデル有効化（品質ゲート不合格・理由あり）",
    "rollback": "モデルのロールバック",
}


# Misclassified training rows shown on the job page (all of them stay in the version's misclassified.csv).
MISCLASSIFIED_SHOWN = 20


def _registry() -> Registry:
    return current_app.extensions["triage.registry"]


# The pages speak Japanese; the CLI and the stored metadata keep the English messages.
bp.add_app_template_filter(messages_ja.gate_reason, "gate_reason_ja")
bp.add_app_template_filter(messages_ja.csv_error, "csv_error_ja")
bp.add_app_template_filter(messages_ja.progress, "progress_ja")


bp.add_app_template_filter(lambda value: japan_time(str(value or "")), "japan_time")


@bp.context_processor
def _label_names() -> dict[str, Any]:
    return {"LABELS_JA": dataset.LABELS_JA}


def japan_time(value: str) -> str:
    """Return a stored UTC ISO time as Japan time for the page ("2026-12-02 11:30:05 JST")."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value or "")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


def audit_for_page(model_entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return model, FAQ and profile audit entries, newest first, with Japanese actions and Japan time."""
    named = [dict(e, action=MODEL_ACTIONS_JA.get(e.get("action", ""), e.get("action", ""))) for e in model_entries]
    # Merge on the stored UTC times (they sort as strings), then show them in Japan time.
    return [dict(e, time=japan_time(e.get("time", ""))) for e in merged_audit(named, intake.store())]


def _sync_this_worker() -> None:
    """Load the registry's active version in this worker now, so that the page shows what is served.

    Other workers follow within a tick of their watcher; this one must not
    render the old version as serving right after an admin switched it.
    """
    intake.holder().refresh()


def _gate_failed(version: str) -> bool:
    try:
        gate = _registry().metadata(version).get("gate") or {}
    except RegistryError:
        return False
    return gate.get("passed") is False


@bp.get("/")
@require_role("admin")
def index() -> Any:
    """Versions with metrics and confusion matrices; activate, roll back, upload."""
    registry = _registry()
    _sync_this_worker()
    versions = list(reversed(registry.versions()))
    jobs.reap_orphans(intake.store())
    with intake.store().session() as s:
        recent = s.query(TrainingJob).order_by(TrainingJob.id.desc()).limit(5).all()
    return render_template("admin.html", versions=versions, active=registry.active(), jobs=recent,
                           # One audit log: model changes (models/audit.jsonl) with FAQ and profile changes (database).
                           audit=audit_for_page(list(reversed(registry.audit_log()))),
                           serving=intake.holder().current, model_error=intake.holder().last_error,
                           users=list_users(intake.store()),
                           sessions=active_sessions(intake.store(), *session_limits(current_app.config)))


@bp.post("/users/logout")
@require_role("admin")
def logout_user_everywhere() -> Any:
    """End every session of an account (log out everywhere)."""
    name = request.form.get("name", "")
    try:
        ended = end_all_sessions(intake.store(), name)
    except AuthError as exc:
        return flash_back("admin.index", f"ログアウトできませんでした: {exc}", "error")
    log.info("ended %d session(s) of %s by %s", ended, name, current_user.name)
    return flash_back("admin.index", f"{name} のセッションを {ended} 件終了しました（すべての端末からログアウト）。")


@bp.post("/activate")
@require_role("admin")
def activate() -> Any:
    """Activate a version (every worker follows within seconds)."""
    version = request.form.get("version", "")
    reason = request.form.get("reason", "").strip()
    forced = _gate_failed(version)
    if forced and not reason:
        # The page's counterpart of `triage activate` after a failed gate: say why, like --force REASON.
        return flash_back("admin.index", f"{version} は品質ゲートに不合格です。有効にする理由を入力してください。", "error")
    try:
        changed = _registry().activate(version, actor=current_user.name, reason=reason or "管理画面から",
                                       action="force-activate" if forced else "activate")
    except RegistryError as exc:
        return flash_back("admin.index", f"有効化できませんでした: {exc}", "error")
    if not changed:
        return flash_back("admin.index", f"{version} はすでに有効です（変更なし）。")
    _sync_this_worker()
    log.info("activated %s by %s%s", version, current_user.name, " (gate failed, reason given)" if forced else "")
    return flash_back("admin.index", f"{version} を有効にしました。")


@bp.post("/rollback")
@require_role("admin")
def rollback() -> Any:
    """Go back to the previously active version."""
    try:
        version = _registry().rollback(actor=current_user.name)
    except RegistryError as exc:
        return flash_back("admin.index", f"ロールバックできませんでした: {getattr(exc, 'ja', exc)}", "error")
    _sync_this_worker()
    log.info("rolled back to %s by %s", version, current_user.name)
    return flash_back("admin.index", f"{version} に戻しました。")


UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the other form fields around the file


def upload_limit(app_config: dict[str, Any]) -> int:
    """Return the request size the upload route accepts: the file limit, not the general request limit."""
    return int(app_config["MAX_UPLOAD_BYTES"]) + UPLOAD_OVERHEAD


def _too_large_ja() -> str:
    return f"ファイルが大きすぎます（上限 {current_app.config['MAX_UPLOAD_BYTES'] / (1024 * 1024):g} MB）。"


def _too_large() -> Any:
    return flash_back("admin.index", _too_large_ja(), "error")


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(exc: RequestEntityTooLarge) -> Any:
    # Raised while the form is parsed (also by the CSRF check before the view): say it in Japanese.
    if request.endpoint == "admin.train":
        return _too_large()
    return http_error(exc)


@bp.post("/train")
@require_role("admin")
def train() -> Any:
    """Validate an uploaded CSV, then train on it in a `triage train` process of its own."""
    try:
        name, data = csv_upload("CSVファイル（.csv）だけを受け付けます。モデルファイルはアップロードできません。",
                                _too_large_ja())
    except Refused as exc:
        return flash_back("admin.index", str(exc), "error")
    try:
        table = dataset.parse(data, name)
    except dataset.DatasetError as exc:
        return render_template("admin_errors.html", filename=name, message=messages_ja.csv_error(exc.args[0]),
                               errors=[messages_ja.csv_error(e) for e in exc.errors]), 422
    for note in table.notes[:dataset.MAX_ERRORS_SHOWN]:
        flash(messages_ja.csv_error(note), "warning")
    if table.duplicates_dropped:
        flash(f"まったく同じ行（本文もラベルも同じ）{table.duplicates_dropped} 行を除いて学習します。", "warning")
    job_id = jobs.start(intake.store(), current_app.config, current_app.instance_path, data, name,
                        current_user.name, with_bundled=request.form.get("with_bundled") == "1")
    return redirect(url_for("admin.job", job_id=job_id)), 303


@bp.get("/jobs/<id:job_id>")
@require_role("admin")
def job(job_id: int) -> Any:
    """Show a training job's progress, report and the gate's verdict."""
    # A job whose process died is failed, and says so: no page spins for ever.
    jobs.reap_orphans(intake.store())
    with intake.store().session() as s:
        row = s.get(TrainingJob, job_id)
    if row is None:
        abort(404)
    if request.args.get("format") == "json":
        # Read by the page's poller, which shows "progress" as it is: Japanese, like the page.
        return jsonify({"status": row.status, "progress": messages_ja.progress(row.progress or ""),
                        "version": row.version, "error": messages_ja.csv_error(row.error) if row.error else None})
    return render_template("job.html", job=row, misclassified=_misclassified(row.version))


def _misclassified(version: str | None) -> list[dict[str, str]]:
    """Return the first training rows that cross-validation got wrong, masked, from the version's misclassified.csv."""
    if not version:
        return []
    import csv

    from .redact import redact

    try:
        text = (_registry().path(version) / "misclassified.csv").read_text(encoding="utf-8")
    except (OSError, RegistryError):
        return []
    rows = list(csv.DictReader(text.splitlines()))
    return [{"text": redact(r.get("text", ""))[:160], "label": r.get("label", ""), "predicted": r.get("predicted", "")}
            for r in rows[:MISCLASSIFIED_SHOWN]]


@bp.get("/corrections")
@require_role("admin")
def corrections() -> Any:
    """Agent corrections to review before they are exported for training; conflicting ones marked."""
    from .redact import redact

    items = []
    for inquiry in intake.store().corrections_for_review():
        live = {c.label for c in inquiry.corrections if c.review != "rejected"}
        items.append({"inquiry": inquiry, "text": redact(inquiry.text)[:300], "conflict": len(live) > 1,
                      "corrections": [dict(id=c.id, label=c.label, agent=c.agent, review=c.review,
                                           reviewed_by=c.reviewed_by,
                                           time=japan_time(c.created_at.isoformat())) for c in inquiry.corrections]})
    pending = sum(1 for i in items for c in i["corrections"] if c["review"] is None)
    return render_template("admin_corrections.html", items=items, pending=pending,
                           accepted=len(intake.store().corrections(accepted_only=True)))


@bp.post("/corrections/<int:correction_id>/review")
@require_role("admin")
def review_correction(correction_id: int) -> Any:
    """Accept or reject one correction for training."""
    decision = request.form.get("decision", "")
    if decision not in ("accepted", "rejected"):
        return flash_back("admin.corrections", "「採用」か「不採用」を選んでください。", "error")
    if intake.store().review_correction(correction_id, decision, current_user.name) is None:
        abort(404)
    log.info("correction %d %s by %s", correction_id, decision, current_user.name)
    flash(f"訂正 #{correction_id} を{'採用' if decision == 'accepted' else '不採用に'}しました。", "ok")
    return redirect(url_for("admin.corrections") + f"#c-{correction_id}"), 303


@bp.get("/corrections.csv")
@require_role("admin")
def export_corrections() -> Response:
    """Download the accepted agent corrections in the training format (UTF-8 with BOM for Excel)."""
    data, n = corrections_csv(intake.store(), bom=True, accepted_only=True)
    log.info("corrections exported by %s (%d rows)", current_user.name, n)
    return Response(data, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={corrections_filename()}"})
