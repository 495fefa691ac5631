"""The operations page: versions, quality gate, activate, roll back, retrain from CSV."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from . import dataset, intake, jobs
from .auth import AuthError, active_sessions, end_all_sessions, list_users, require_role, session_limits
from .errors import http_error
from .export import corrections_csv
from .registry import Registry, RegistryError
from .store import TrainingJob

bp = Blueprint("admin", __name__, url_prefix="/admin")
log = logging.getLogger("triage.admin")


def _registry() -> Registry:
    return current_app.extensions["triage.registry"]


@bp.get("/")
@require_role("admin")
def index() -> Any:
    """Versions with metrics and confusion matrices; activate, roll back, upload."""
    registry = _registry()
    versions = list(reversed(registry.versions()))
    jobs.reap_orphans(intake.store())
    with intake.store().session() as s:
        recent = s.query(TrainingJob).order_by(TrainingJob.id.desc()).limit(5).all()
    return render_template("admin.html", versions=versions, active=registry.active(), jobs=recent,
                           audit=list(reversed(registry.audit_log()))[:20],
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
        flash(f"ログアウトできませんでした: {exc}", "error")
        return redirect(url_for("admin.index")), 303
    log.info("ended %d session(s) of %s by %s", ended, name, current_user.name)
    flash(f"{name} のセッションを {ended} 件終了しました（すべての端末からログアウト）。", "ok")
    return redirect(url_for("admin.index")), 303


@bp.post("/activate")
@require_role("admin")
def activate() -> Any:
    """Activate a version (every worker follows within seconds)."""
    version = request.form.get("version", "")
    try:
        changed = _registry().activate(version, actor=current_user.name,
                                       reason=request.form.get("reason", "admin page"))
    except RegistryError as exc:
        flash(f"有効化できませんでした: {exc}", "error")
        return redirect(url_for("admin.index")), 303
    if not changed:
        flash(f"{version} はすでに有効です（変更なし）。", "ok")
        return redirect(url_for("admin.index")), 303
    log.info("activated %s by %s", version, current_user.name)
    flash(f"{version} を有効にしました。", "ok")
    return redirect(url_for("admin.index")), 303


@bp.post("/rollback")
@require_role("admin")
def rollback() -> Any:
    """Go back to the previously active version."""
    try:
        version = _registry().rollback(actor=current_user.name)
    except RegistryError as exc:
        flash(f"ロールバックできませんでした: {exc}", "error")
        return redirect(url_for("admin.index")), 303
    log.info("rolled back to %s by %s", version, current_user.name)
    flash(f"{version} に戻しました。", "ok")
    return redirect(url_for("admin.index")), 303


UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the other form fields around the file


def upload_limit(app_config: dict[str, Any]) -> int:
    """Return the request size the upload route accepts: the file limit, not the general request limit."""
    return int(app_config["MAX_UPLOAD_BYTES"]) + UPLOAD_OVERHEAD


def _too_large() -> Any:
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    flash(f"ファイルが大きすぎます（上限 {limit / (1024 * 1024):g} MB）。", "error")
    return redirect(url_for("admin.index")), 303


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
    upload = request.files.get("csv")
    if upload is None or not upload.filename:
        flash("CSVファイルを選んでください。", "error")
        return redirect(url_for("admin.index")), 303
    if not upload.filename.lower().endswith(".csv"):
        flash("CSVファイル（.csv）だけを受け付けます。モデルファイルはアップロードできません。", "error")
        return redirect(url_for("admin.index")), 303
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        return _too_large()
    name = Path(upload.filename).name
    try:
        dataset.parse(data, name)
    except dataset.DatasetError as exc:
        return render_template("admin_errors.html", filename=name, message=exc.args[0], errors=exc.errors), 422
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
        return jsonify({"status": row.status, "progress": row.progress, "version": row.version,
                        "error": row.error})
    return render_template("job.html", job=row)


@bp.get("/corrections.csv")
@require_role("admin")
def export_corrections() -> Response:
    """Download agent corrections in the training format (UTF-8 with BOM for Excel)."""
    data, n = corrections_csv(intake.store(), bom=True)
    log.info("corrections exported by %s (%d rows)", current_user.name, n)
    return Response(data, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=corrections.csv"})
