"""The operations page: versions, quality gate, activate, roll back, retrain from CSV."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from . import dataset, intake
from .auth import AuthError, active_sessions, end_all_sessions, list_users, require_role
from .export import corrections_csv
from .registry import Registry, RegistryError
from .store import Store, TrainingJob, utcnow

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
    with intake.store().session() as s:
        jobs = s.query(TrainingJob).order_by(TrainingJob.id.desc()).limit(5).all()
    return render_template("admin.html", versions=versions, active=registry.active(), jobs=jobs,
                           audit=list(reversed(registry.audit_log()))[:20],
                           serving=intake.holder().current, model_error=intake.holder().last_error,
                           users=list_users(intake.store()), sessions=active_sessions(intake.store()))


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


@bp.post("/train")
@require_role("admin")
def train() -> Any:
    """Validate an uploaded CSV, then train on it in the background."""
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
        flash(f"ファイルが大きすぎます（上限 {limit // (1024 * 1024)} MB）。", "error")
        return redirect(url_for("admin.index")), 303
    name = Path(upload.filename).name
    try:
        dataset.parse(data, name)
    except dataset.DatasetError as exc:
        return render_template("admin_errors.html", filename=name, message=exc.args[0], errors=exc.errors), 422
    uploads = Path(current_app.instance_path) / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    store = intake.store()
    with store.session() as s:
        job = TrainingJob(started_by=current_user.name, filename=name, progress="queued")
        s.add(job)
        s.flush()
        job_id = job.id
    path = uploads / f"job-{job_id}.csv"
    path.write_bytes(data)
    paths = [path]
    if request.form.get("with_bundled") == "1":
        paths.insert(0, Path(current_app.config["DATA_DIR"]) / "inquiries.csv")
    gate_csv = current_app.config["GATE_CSV"] or None
    thread = threading.Thread(
        target=_run_job, args=(store, _registry(), job_id, paths, gate_csv, current_user.name),
        name=f"train-job-{job_id}", daemon=True,
    )
    thread.start()
    log.info("training job %d started by %s on %s", job_id, current_user.name, name)
    return redirect(url_for("admin.job", job_id=job_id)), 303


def _run_job(store: Store, registry: Registry, job_id: int, paths: list[Path], gate_csv: str | None,
             actor: str) -> None:
    """Train in a background thread, writing progress where every worker can read it."""
    from .lifecycle import train_version, training_lock

    def progress(message: str) -> None:
        with store.session() as s:
            job = s.get(TrainingJob, job_id)
            if job is not None:
                job.progress = message

    try:
        with training_lock(registry.root):
            outcome = train_version(paths, registry, gate_csv=gate_csv, activate="gate", actor=actor,
                                    progress=progress)
        result = {"report": outcome.report, "gate": outcome.gate.to_dict(), "activated": outcome.activated,
                  "rows": len(outcome.data.texts), "overridden": outcome.data.overridden}
        with store.session() as s:
            job = s.get(TrainingJob, job_id)
            job.status, job.version, job.result, job.finished_at = "done", outcome.version, result, utcnow()
            job.progress = "完了"
    except Exception as exc:  # reported on the page; the thread must not die silently
        log.error("training job %d failed: %s", job_id, type(exc).__name__)
        message = str(exc) if isinstance(exc, dataset.DatasetError | RegistryError) else "内部エラー"
        with store.session() as s:
            job = s.get(TrainingJob, job_id)
            job.status, job.error, job.finished_at = "failed", message, utcnow()


@bp.get("/jobs/<id:job_id>")
@require_role("admin")
def job(job_id: int) -> Any:
    """Show a training job's progress, report and the gate's verdict."""
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
