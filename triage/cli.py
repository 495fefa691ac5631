"""The `triage` command: a thin click edge over the modules of the package."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from . import config, dataset
from .dataset import LABELS_JA, DatasetError
from .export import csv_text
from .registry import Registry, RegistryError


def _settings() -> dict[str, Any]:
    try:
        return config.from_env()
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _registry(settings: dict[str, Any]) -> Registry:
    return Registry(settings["MODELS_DIR"])


class _Progress:
    """Print steps to stderr with the time they took (training takes minutes)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        click.echo(f"[{time.monotonic() - self.start:6.1f}s] {message}", err=True)


def _gate_csv(settings: dict[str, Any]) -> str | None:
    return settings["GATE_CSV"] or None


def load_active(settings: dict[str, Any]):  # noqa: ANN201 - LoadedModel, imported lazily
    """Load the active model, training the bundled default on first run."""
    from .lifecycle import ensure_model

    registry = _registry(settings)
    try:
        version, trained = ensure_model(
            registry, Path(settings["DATA_DIR"]), _gate_csv(settings), progress=_Progress()
        )
        if trained:
            click.echo(f"No model was in {registry.root}/: trained and activated the default {version}.", err=True)
        return registry.load(version)
    except (RegistryError, DatasetError) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="triage")
def cli() -> None:
    """Route inquiries after a security incident to faq, compensation or escalation."""


@cli.command("train")
@click.argument("csv_files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--force", "force_reason", metavar="REASON", default=None,
              help="Activate even if the quality gate refuses; the reason is recorded in the audit log.")
@click.option("--no-activate", is_flag=True, help="Train and save only; keep the active model.")
@click.option("--job", "job_id", type=int, default=None, hidden=True,
              help="Run the admin page's training job JOB (progress and result go to its database row).")
def train_cmd(csv_files: tuple[str, ...], force_reason: str | None, no_activate: bool, job_id: int | None) -> None:
    """Train on CSV_FILES, report cross-validation, save a version and activate it if it passes the gate."""
    from .lifecycle import format_report, train_version

    settings = _settings()
    registry = _registry(settings)
    if force_reason is not None and no_activate:
        raise click.UsageError("--force and --no-activate exclude each other.")
    if job_id is not None:
        _run_job(settings, registry, job_id, list(csv_files))
        return
    mode = "no" if no_activate else ("force" if force_reason is not None else "gate")
    try:
        # train_version takes the registry's training lock itself.
        outcome = train_version(
            list(csv_files), registry, gate_csv=_gate_csv(settings), activate=mode,
            reason=force_reason or "", progress=_Progress(),
        )
    except (DatasetError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    data = outcome.data
    click.echo(f"Trained version {outcome.version} on {len(data.texts)} rows "
               f"({', '.join(f'{k} {v}' for k, v in data.counts().items())}).")
    if data.duplicates_dropped:
        click.echo(f"Dropped {data.duplicates_dropped} exact duplicate row(s).")
    if data.overridden:
        click.echo(f"{data.overridden} row(s) relabelled by a later file (e.g. agent corrections).")
    if outcome.held_out_dropped:
        click.echo(f"Left out {outcome.held_out_dropped} row(s) that are in the held-out gate set.")
    click.echo("\nStratified 5-fold cross-validation (with the routing policy):\n")
    click.echo(format_report(outcome.report, registry.metadata(outcome.version)["thresholds"]))
    click.echo(f"Misclassified rows written to {registry.path(outcome.version) / 'misclassified.csv'}")
    _echo_gate(outcome.gate)
    if outcome.activated:
        click.echo(f"Activated {outcome.version}.")
    else:
        click.echo(f"Kept {registry.active()} active; {outcome.version} is saved but inactive "
                   f"(`triage activate {outcome.version}` to use it anyway).")


def _run_job(settings: dict[str, Any], registry: Registry, job_id: int, paths: list[str]) -> None:
    """Be the process of an admin-page training job (started by triage.jobs, not by hand)."""
    from functools import partial

    from . import configure_logging
    from .jobs import run
    from .lifecycle import train_version

    configure_logging(settings["LOG_LEVEL"])
    store = _store(settings, migrate=False)
    try:
        ok = run(store, job_id, paths, partial(train_version, registry=registry, gate_csv=_gate_csv(settings),
                                                activate="gate"))
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.engine.dispose()
    if not ok:
        sys.exit(1)


def _echo_gate(gate: Any) -> None:
    click.echo(f"\nQuality gate: {'passed' if gate.passed else 'REFUSED'}")
    for reason in gate.reasons:
        click.echo(f"  - {reason}")
    if gate.candidate and gate.active:
        d = gate.to_dict()
        click.echo(f"  on {d['gate_csv']} (n = {d['candidate']['n']}):")
        for who in ("active", "candidate"):
            f = d[who]
            click.echo(f"    {who:<10} macro-F1 {f['macro_f1']:.3f}  escalation recall {f['escalation_recall']:.3f}"
                       f"  compensation recall {f['compensation_recall']:.3f}")


@cli.command("evaluate")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--by", "by_column", default=None, metavar="COLUMN",
              help="Also report macro-F1 per value of this column (e.g. register).")
def evaluate_cmd(csv_file: str, as_json: bool, by_column: str | None) -> None:
    """Score the active model on a labelled CSV."""
    from .lifecycle import format_report
    from .model import metrics

    settings = _settings()
    try:
        table = dataset.read(csv_file)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    loaded = load_active(settings)
    texts = [r.text for r in table.rows]
    labels = [r.label or "" for r in table.rows]
    predictions = loaded.router.predict_many(texts)
    predicted = [p.label for p in predictions]
    report: dict[str, Any] = metrics(labels, predicted)
    report["model_version"] = loaded.version
    report["needs_review_rate"] = sum(p.needs_review for p in predictions) / len(predictions)
    if by_column:
        if by_column not in table.header:
            raise click.ClickException(f"{csv_file}: no column {by_column!r} (found: {', '.join(table.header)}).")
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(table.rows):
            groups.setdefault(row.extra.get(by_column, ""), []).append(i)
        report["by"] = {
            by_column: {
                key: {k: v for k, v in metrics([labels[i] for i in idx], [predicted[i] for i in idx]).items()
                      if k in ("n", "accuracy", "macro_f1", "per_class")}
                for key, idx in sorted(groups.items())
            }
        }
    if "faq_id" in table.header:
        report["faq"] = _faq_hits(table, settings)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"Model {loaded.version} on {csv_file}:\n")
    click.echo(format_report(report))
    if "faq" in report:
        f = report["faq"]
        click.echo(f"FAQ suggestions on {f['n']} faq rows: top-1 {f['top1']:.3f}, top-3 {f['top3']:.3f}\n")
    if by_column:
        click.echo(f"by {by_column}:")
        for key, m in report["by"][by_column].items():
            click.echo(f"  {key or '(empty)':<16} n={m['n']:<5} macro-F1 {m['macro_f1']:.3f}  "
                       f"escalation recall {m['per_class']['escalation']['recall']:.3f}")


def _faq_hits(table: dataset.Table, settings: dict[str, Any]) -> dict[str, Any]:
    """Return top-1 and top-3 hit rates of FAQ suggestions on rows with an expected faq_id."""
    from .faq import get_kb

    kb = get_kb(settings)
    rows = [r for r in table.rows if r.label == "faq" and r.extra.get("faq_id")]
    ranked = [[s["id"] for s in kb.suggest(r.text)] for r in rows]
    n = len(rows) or 1
    return {
        "n": len(rows),
        "top1": sum(ids[:1] == [r.extra["faq_id"]] for r, ids in zip(rows, ranked, strict=True)) / n,
        "top3": sum(r.extra["faq_id"] in ids for r, ids in zip(rows, ranked, strict=True)) / n,
    }


def _echo_prediction(text: str, loaded: Any, settings: dict[str, Any], as_json: bool) -> None:
    from .faq import get_kb

    p = loaded.router.predict(text)
    explanation = loaded.router.explain(text, p.label)
    suggestions = get_kb(settings).suggest(text) if p.label == "faq" else []
    if as_json:
        click.echo(json.dumps({
            "label": p.label, "label_ja": p.label_ja, "confidence": round(p.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in p.probabilities.items()},
            "needs_review": p.needs_review, "explanation": explanation,
            "faq_suggestions": suggestions, "model_version": loaded.version,
        }, ensure_ascii=False, indent=2))
        return
    review = "  要確認 (needs review)" if p.needs_review else ""
    click.echo(f"{p.label} ({p.label_ja})  confidence {p.confidence:.2f}{review}")
    click.echo("probabilities: " + ", ".join(f"{k} {v:.2f}" for k, v in p.probabilities.items()))
    terms = ", ".join(t["term"] for t in explanation["terms"])
    if terms:
        click.echo(f"why: {terms}")
    for s in suggestions:
        click.echo(f"\nFAQ {s['id']} (score {s['score']:.2f}): {s['question']}\n{s['answer']}")
    click.echo(f"model: {loaded.version}")


@cli.command("classify")
@click.argument("text", required=False)
@click.option("--csv", "csv_in", type=click.Path(dir_okay=False), help="Route every row of this CSV (column 'text').")
@click.option("--out", "csv_out", type=click.Path(dir_okay=False), help="Where to write the routed CSV (with --csv).")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def classify_cmd(text: str | None, csv_in: str | None, csv_out: str | None, as_json: bool) -> None:
    """Print the route of TEXT ('-' reads standard input), or route a CSV backlog with --csv/--out."""
    settings = _settings()
    if csv_in:
        if text is not None:
            raise click.UsageError("give either TEXT or --csv, not both.")
        if not csv_out:
            raise click.UsageError("--csv needs --out OUT.csv.")
        _classify_csv(csv_in, csv_out, settings)
        return
    if text is None:
        raise click.UsageError("give the inquiry text, '-' for standard input, or --csv IN.csv --out OUT.csv.")
    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise click.ClickException("the inquiry text is empty.")
    _echo_prediction(text, load_active(settings), settings, as_json)


def _classify_csv(csv_in: str, csv_out: str, settings: dict[str, Any]) -> None:
    try:
        table = dataset.read(csv_in, require_label=False)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    loaded = load_active(settings)
    progress = _Progress()
    predictions = []
    step = 500
    for start in range(0, len(table.rows), step):
        chunk = table.rows[start : start + step]
        predictions.extend(loaded.router.predict_many([r.text for r in chunk]))
        progress(f"routed {min(start + step, len(table.rows))}/{len(table.rows)}")
    added = ["label", "label_ja", "confidence", "needs_review"]
    if any(a in table.header for a in added):
        added = [f"predicted_{a}" for a in added]
    # The text and every other cell are masked and formula-safe, like every CSV triage writes.
    body = csv_text(table.header + added, (
        [row.text if h == "text" else (row.label or "") if h == "label" else row.extra.get(h, "")
         for h in table.header] + [p.label, LABELS_JA[p.label], f"{p.confidence:.4f}", str(p.needs_review).lower()]
        for row, p in zip(table.rows, predictions, strict=True)
    ))
    # Written to a temporary file first: a failure leaves no half-written output.
    out = Path(csv_out)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_bytes(body.encode(table.encoding))
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(f"{csv_out}: cannot write ({exc.strerror}).") from None
    n_review = sum(p.needs_review for p in predictions)
    click.echo(f"Routed {len(predictions)} rows from {csv_in} into {csv_out} ({table.encoding}); "
               f"{n_review} marked needs_review. Model {loaded.version}.")


@cli.command("models")
def models_cmd() -> None:
    """List the trained versions; the active one is marked with *."""
    settings = _settings()
    registry = _registry(settings)
    versions = registry.versions()
    if not versions:
        click.echo(f"No model versions in {registry.root}/; run `triage train data/inquiries.csv`.")
        return
    active = registry.active()
    click.echo(f"  {'version':<28}{'created':<27}{'rows':>6}{'macro-F1':>10}{'esc. recall':>13}  gate")
    for m in versions:
        metrics = m.get("metrics", {})
        esc = metrics.get("per_class", {}).get("escalation", {}).get("recall", float("nan"))
        gate = m.get("gate", {}).get("passed")
        mark = "*" if m["version"] == active else " "
        click.echo(f"{mark} {m['version']:<28}{m.get('created', ''):<27}{m.get('rows', 0):>6}"
                   f"{metrics.get('macro_f1', float('nan')):>10.3f}{esc:>13.3f}  "
                   f"{'passed' if gate else 'refused' if gate is False else '-'}")


@cli.command("activate")
@click.argument("version")
def activate_cmd(version: str) -> None:
    """Make VERSION the active model (after verifying its hash)."""
    registry = _registry(_settings())
    try:
        changed = registry.activate(version, actor="cli")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    if not changed:
        click.echo(f"{version} is already active; nothing changed.")
        return
    click.echo(f"Activated {version}; running servers switch within seconds.")


@cli.command("rollback")
def rollback_cmd() -> None:
    """Re-activate the version that was active before the current one."""
    registry = _registry(_settings())
    try:
        version = registry.rollback(actor="cli")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Rolled back to {version}.")


# -- the service and its accounts -------------------------------------------


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: TRIAGE_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: TRIAGE_PORT, 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (default: TRIAGE_WORKERS, one per core).")
def serve_cmd(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the service with gunicorn (the model is loaded once, before the workers fork)."""
    from .serve import prepare_metrics_dir, run, worker_count

    prepare_metrics_dir()
    from . import StartupError, create_app

    settings = _settings()
    try:
        app = create_app()
    except (StartupError, RegistryError, DatasetError) as exc:
        raise click.ClickException(str(exc)) from None
    n = worker_count(workers if workers is not None else settings["WORKERS"])
    host = host or settings["HOST"]
    port = port or settings["PORT"]
    holder = app.extensions["triage.holder"]
    if holder.current is None:
        # Start anyway, not ready: /readyz answers 503 with the reason until a good version is active.
        click.echo(f"triage serving NO model ({holder.last_error or 'none loaded'}); /readyz answers 503 until "
                   "a verified version is active (`triage models`, `triage activate VERSION`)", err=True)
    else:
        click.echo(f"triage serving model {holder.current.version}", err=True)
    click.echo(f"listening on http://{host}:{port}/ with {n} worker(s) of {settings['THREADS']} thread(s)", err=True)
    run(app, host, port, n, threads=settings["THREADS"], timeout=settings["TIMEOUT"], keepalive=settings["KEEPALIVE"])


def _instance_path() -> Path:
    """Return the instance folder the service uses (its SQLite file and uploads)."""
    from flask import Flask

    return Path(Flask("triage", instance_relative_config=True).instance_path)


def _store(settings: dict[str, Any], migrate: bool = True):  # noqa: ANN202 - Store, imported lazily
    from .store import Store

    url = settings["DATABASE_URL"]
    if not url:
        instance = _instance_path()
        instance.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{instance / 'triage.sqlite'}"
    store = Store(url)
    if migrate:
        store.create_schema()
    return store


@cli.group("users")
def users_grp() -> None:
    """Manage agent and admin accounts."""


@users_grp.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["agent", "admin"]), required=True)
@click.password_option(help="At least 12 characters; asked for when not given.")
def users_add(name: str, role: str, password: str) -> None:
    """Create an account."""
    from .auth import AuthError, add_user

    try:
        add_user(_store(_settings()), name, role, password)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {role} {name}.")


@users_grp.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable an account; its sessions stop working at once."""
    from .auth import AuthError, set_disabled

    try:
        set_disabled(_store(_settings()), name)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Disabled {name}.")


@users_grp.command("passwd")
@click.argument("name")
@click.password_option(help="At least 12 characters; asked for when not given.")
def users_passwd(name: str, password: str) -> None:
    """Set a new password; every session of the account ends (all browsers log in again)."""
    from .auth import AuthError, set_password

    try:
        ended = set_password(_store(_settings()), name, password)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Changed the password of {name}; ended {ended} session(s).")


@users_grp.command("logout")
@click.argument("name")
def users_logout(name: str) -> None:
    """End every session of NAME (log out everywhere), e.g. after a lost laptop or a copied cookie."""
    from .auth import AuthError, end_all_sessions

    try:
        ended = end_all_sessions(_store(_settings()), name)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Ended {ended} session(s) of {name}.")


@users_grp.command("list")
def users_list() -> None:
    """List accounts."""
    from .auth import list_users

    for u in list_users(_store(_settings())):
        click.echo(f"{u.name:<24}{u.role:<8}{'disabled' if u.disabled else 'active'}")


@users_grp.command("ensure-admin")
def users_ensure_admin() -> None:
    """Create a first admin `admin` with a random password if there are no accounts (prints it once)."""
    import secrets

    from .auth import add_user, list_users

    store = _store(_settings())
    if list_users(store):
        return
    password = secrets.token_urlsafe(12)
    add_user(store, "admin", "admin", password)
    click.echo(f"Created the first account: admin / {password}  (shown once; add agents with "
               "`triage users add NAME --role agent`)")


@cli.group("tokens")
def tokens_grp() -> None:
    """Manage API tokens of contact systems."""


@tokens_grp.command("create")
@click.argument("name")
def tokens_create(name: str) -> None:
    """Create a token for NAME and print it once (only its hash is stored)."""
    from .auth import AuthError, create_token

    try:
        token = create_token(_store(_settings()), name)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)
    click.echo(f"Token for {name}: shown once, store it in the contact system now.", err=True)


@tokens_grp.command("revoke")
@click.argument("name")
def tokens_revoke(name: str) -> None:
    """Revoke NAME's token."""
    from .auth import AuthError, revoke_token

    try:
        revoke_token(_store(_settings()), name)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Revoked the token of {name}.")


@cli.command("purge")
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, metavar="DAYS",
              help="Delete inquiries received more than DAYS days ago.")
def purge_cmd(days: int) -> None:
    """Delete old inquiries and their corrections (retention under APPI)."""
    from datetime import timedelta

    from .auth import purge_sessions
    from .jobs import purge_uploads

    store = _store(_settings())
    n_inq, n_corr = store.purge(days)
    click.echo(f"Deleted {n_inq} inquiries and {n_corr} corrections older than {days} days.")
    n_sessions = purge_sessions(store, timedelta(days=days))
    if n_sessions:
        click.echo(f"Deleted {n_sessions} login session record(s) last used more than {days} days ago.")
    # Uploaded training files are deleted when their job ends; these are leftovers (crashes, older releases).
    n_files = purge_uploads(store, _instance_path())
    if n_files:
        click.echo(f"Deleted {n_files} uploaded training file(s) that no running job needs.")


@cli.group("db")
def db_grp() -> None:
    """Database schema: migrations (they also run whenever the service starts)."""


@db_grp.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest revision (safe to repeat)."""
    from .migrate import upgrade

    store = _store(_settings(), migrate=False)
    before, after = upgrade(store.engine)
    if before == after:
        click.echo(f"The database is at the newest revision ({after}); nothing to do.")
    else:
        click.echo(f"Upgraded the database from {before or 'empty'} to {after}.")


@db_grp.command("current")
def db_current() -> None:
    """Print the revision the database is at and the newest this code knows."""
    from .migrate import current, head

    store = _store(_settings(), migrate=False)
    click.echo(f"database: {current(store.engine) or 'not migrated'}; newest: {head()}")


@cli.command("export-corrections")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--bom", is_flag=True, help="Write UTF-8 with BOM so that Excel opens it correctly.")
def export_corrections_cmd(out: str, bom: bool) -> None:
    """Write agent corrections to OUT as training CSV (text,label,source,corrected_at,agent)."""
    from .export import corrections_csv

    data, n = corrections_csv(_store(_settings()), bom=bom)
    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise click.ClickException(f"{out}: cannot write ({exc.strerror}).") from None
    click.echo(f"Wrote {n} corrections to {out}. Train with: triage train data/inquiries.csv {out}")


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="triage")
