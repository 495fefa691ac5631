"""The `triage` command: a thin click edge over the modules of the package."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from . import config, dataset, services
from .dataset import LABELS_JA, DatasetError
from .export import csv_text
from .registry import Registry, RegistryError


def domain_errors() -> tuple[type[Exception], ...]:
    """Return what the package raises for a user's input or setup (the message names the file, setting or command)."""
    # Imported when an error is being handled, not when the command line starts.
    from . import StartupError
    from .auth import AuthError
    from .faq import VersionError

    return (DatasetError, RegistryError, config.ConfigError, AuthError, VersionError, StartupError)


class TriageGroup(click.Group):
    """The `triage` group: a domain error of any command leaves as one `Error: ...` line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, turning the package's errors into click's (no traceback for a bad CSV or setting)."""
        try:
            return super().invoke(ctx)
        except domain_errors() as exc:
            raise click.ClickException(str(exc)) from None


def _settings() -> dict[str, Any]:
    return config.from_env()


def _registry(settings: dict[str, Any]) -> Registry:
    from .registry import open_registry

    # The database registry opens the database the service uses (SQLite in the instance folder when unset).
    return open_registry(settings)


def _store(settings: dict[str, Any], migrate: bool = True):
    return services.open_store(settings, migrate=migrate)


def _write(out: str, data: bytes) -> None:
    """Write OUT atomically, or fail naming it: a reader never sees half a file, a failure leaves none."""
    from .files import write_atomic

    try:
        write_atomic(out, data)
    except OSError as exc:
        raise click.ClickException(f"{out}: cannot write ({exc.strerror}).") from None


class _Progress:
    """Print steps to stderr with the time they took (training takes minutes)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        click.echo(f"[{time.monotonic() - self.start:6.1f}s] {message}", err=True)


def _gate_csv(settings: dict[str, Any]) -> str | None:
    return settings["GATE_CSV"] or None


def load_active(settings: dict[str, Any]):
    """Load the active model, training the bundled default on first run."""
    from .lifecycle import ensure_model

    registry = _registry(settings)
    version, trained = ensure_model(registry, Path(settings["DATA_DIR"]), _gate_csv(settings), progress=_Progress())
    if trained:
        click.echo(f"No model was in {registry.describe()}: trained and activated the default {version}.", err=True)
    return registry.load(version)


@click.group(cls=TriageGroup)
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
    from .lifecycle import format_gate, format_report, train_version

    settings = _settings()
    registry = _registry(settings)
    if force_reason is not None and no_activate:
        raise click.UsageError("--force and --no-activate exclude each other.")
    if job_id is not None:
        _run_job(settings, registry, job_id, list(csv_files))
        return
    mode = "no" if no_activate else ("force" if force_reason is not None else "gate")
    # train_version takes the training lock of the models folder itself; exclusive() serialises
    # trainings across hosts when the registry is in the database.
    with registry.exclusive():
        outcome = train_version(
            list(csv_files), registry, gate_csv=_gate_csv(settings), activate=mode,
            reason=force_reason or "", progress=_Progress(),
            lexicon_csv=Path(settings["DATA_DIR"]) / "lexicon.csv",
        )
    data = outcome.data
    click.echo(f"Trained version {outcome.version} on {len(data.texts)} rows "
               f"({', '.join(f'{k} {v}' for k, v in data.counts().items())}).")
    if data.duplicates_dropped:
        click.echo(f"Dropped {data.duplicates_dropped} exact duplicate row(s).")
    if data.overridden:
        click.echo(f"{data.overridden} row(s) relabelled by a later file (e.g. agent corrections).")
    if outcome.held_out_dropped:
        click.echo(f"Left out {outcome.held_out_dropped} row(s) that are in the held-out gate set.")
    click.echo(f"\n5-fold cross-validation, {outcome.report.get('cross_validation', 'stratified')} "
               "(with the routing policy):\n")
    click.echo(format_report(outcome.report, registry.metadata(outcome.version)["thresholds"]))
    click.echo(f"Misclassified rows written to {registry.where(outcome.version, 'misclassified.csv')}")
    click.echo(format_gate(outcome.gate), nl=False)
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


@cli.command("evaluate")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--by", "by_column", default=None, metavar="COLUMN",
              help="Also report macro-F1 per value of this column (e.g. register).")
def evaluate_cmd(csv_file: str, as_json: bool, by_column: str | None) -> None:
    """Score the active model on a labelled CSV."""
    from .evaluation import evaluate, format_evaluation

    settings = _settings()
    table = dataset.read(csv_file)
    loaded = load_active(settings)
    kb = _faq_context(settings)[0] if "faq_id" in table.header else None
    report = evaluate(loaded, table, by_column, kb)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(format_evaluation(report, csv_file), nl=False)


def _faq_context(settings: dict[str, Any]) -> tuple[Any, Any]:
    """Return the active FAQ index and incident profile from the database (set up on first use).

    Without a reachable database the bundled FAQ and the TRIAGE_* defaults are used, with a warning.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from . import faq, incident

    try:
        store = _store(settings)
        profile = incident.ensure(store, settings)
        version = faq.ensure(store, settings["DATA_DIR"])
        return (faq.load_kb(store, version) if version is not None else None), profile
    except SQLAlchemyError as exc:
        click.echo(f"Warning: the database is not available ({type(exc).__name__}); using the bundled "
                   f"{settings['DATA_DIR']}/faq.csv and the TRIAGE_* settings.", err=True)
    path = Path(settings["DATA_DIR"]) / "faq.csv"
    kb = faq.build(faq.read_entries(path)) if path.is_file() else None
    return kb, incident.default_profile(settings)


def _echo_prediction(text: str, loaded: Any, settings: dict[str, Any], as_json: bool) -> None:
    from .claims import rows_ja
    from .results import classify

    kb, profile = _faq_context(settings)
    # The result the service answers with (triage.results), so that both say the same of one text.
    r = classify(text, loaded, kb, profile)
    if as_json:
        click.echo(json.dumps(r, ensure_ascii=False, indent=2))
        return
    explanation, instruction = r["explanation"], r["instruction"]
    review = "  要確認 (needs review)" if r["needs_review"] else ""
    reason = f"  reason: {r['reason']}" if r["reason"] else ""
    click.echo(f"{r['label']} ({r['label_ja']})  confidence {r['confidence']:.2f}{review}{reason}")
    if "sentence" in explanation:
        click.echo(f"deciding sentence: {explanation['sentence']['text']}")
    click.echo("probabilities: " + ", ".join(f"{k} {v:.2f}" for k, v in r["probabilities"].items()))
    terms = ", ".join(t["term"] for t in explanation["terms"])
    if terms:
        click.echo(f"why: {terms}")
    click.echo(f"to do: {instruction['text']}" + (f" → {instruction['transfer']}" if instruction["transfer"] else ""))
    for s in r["faq_suggestions"]:
        click.echo(f"\nFAQ {s['id']} (score {s['score']:.2f}, shown from {r['faq_threshold']}): "
                   f"{s['question']}\n{s['answer']}")
    if r["label"] == "compensation":
        for heading, value in rows_ja(r["claim"]):
            click.echo(f"{heading}: {value}")
    click.echo(f"model: {r['model_version']}")


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
    table = dataset.read(csv_in, require_label=False)
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
    _write(csv_out, body.encode(table.encoding))
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
        click.echo(f"No model versions in {registry.describe()}; run `triage train data/inquiries.csv`.")
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
@click.option("--force", "force_reason", metavar="REASON", default=None,
              help="Why a version that failed the quality gate goes live (audited; rollback may return to it).")
def activate_cmd(version: str, force_reason: str | None) -> None:
    """Make VERSION the active model (after verifying its hash)."""
    registry = _registry(_settings())
    reason = (force_reason or "").strip()
    if force_reason is not None and not reason:
        raise click.UsageError("--force needs a reason: say why this version goes live.")
    failed = (registry.metadata(version).get("gate") or {}).get("passed") is False
    changed = registry.activate(version, actor="cli", reason=reason,
                                action="force-activate" if failed and reason else "activate")
    if not changed:
        click.echo(f"{version} is already active; nothing changed.")
        return
    click.echo(f"Activated {version}; running servers switch within seconds.")
    if failed and not reason:
        click.echo(f"Note: {version} failed the quality gate; `triage rollback` will not return to it "
                   "unless it is activated with --force REASON.")


@cli.command("rollback")
def rollback_cmd() -> None:
    """Re-activate the version that was active before the current one."""
    version = _registry(_settings()).rollback(actor="cli")
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
    from . import create_app

    settings = _settings()
    app = create_app()
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


@cli.group("users")
def users_grp() -> None:
    """Manage agent and admin accounts."""


@users_grp.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["agent", "admin"]), required=True)
@click.password_option(help="At least 12 characters; asked for when not given.")
def users_add(name: str, role: str, password: str) -> None:
    """Create an account."""
    from .auth import add_user

    add_user(_store(_settings()), name, role, password)
    click.echo(f"Created {role} {name}.")


@users_grp.command("passwd")
@click.argument("name")
@click.password_option(help="At least 12 characters; asked for when not given.")
def users_passwd(name: str, password: str) -> None:
    """Set a new password; every session of the account ends (all browsers log in again)."""
    from .auth import set_password

    ended = set_password(_store(_settings()), name, password)
    click.echo(f"Changed the password of {name}; ended {ended} session(s).")


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
    from .auth import create_token

    token = create_token(_store(_settings()), name)
    click.echo(token)
    click.echo(f"Token for {name}: shown once, store it in the contact system now.", err=True)


def _by_name(group: click.Group, name: str, help_text: str, action: str, done: str) -> None:
    """Add the command NAME to ``group``: call ``triage.auth.<action>(store, NAME)`` and print ``done``."""

    @group.command(name, help=help_text)
    @click.argument("name")
    def command(name: str) -> None:
        from . import auth

        result = getattr(auth, action)(_store(_settings()), name)
        click.echo(done.format(name=name, result=result))


_by_name(users_grp, "disable", "Disable an account; its sessions stop working at once.", "set_disabled",
         "Disabled {name}.")
_by_name(users_grp, "logout", "End every session of NAME (log out everywhere), e.g. after a lost laptop or a copied "
         "cookie.", "end_all_sessions", "Ended {result} session(s) of {name}.")
_by_name(tokens_grp, "revoke", "Revoke NAME's token.", "revoke_token", "Revoked the token of {name}.")


@cli.command("insights")
@click.option("--hours", type=click.IntRange(1, 24 * 31), default=None,
              help="Hours to look back, the current one included (default: TRIAGE_INSIGHT_HOURS).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: window_hours, volume, faq_gaps, emerging, corrections.")
def insights_cmd(hours: int | None, as_json: bool) -> None:
    """Show what the FAQ does not answer, what is new this hour, how often agents correct, and volume."""
    from sqlalchemy.exc import OperationalError

    from .insights import compute, format_text

    settings = _settings()
    try:
        # Read only, and quick: no migration (the service runs them); an old schema fails below.
        result = compute(_store(settings, migrate=False), hours or settings["INSIGHT_HOURS"], settings)
    except OperationalError as exc:
        raise click.ClickException(f"cannot read the database ({exc.orig}); check TRIAGE_DATABASE_URL, and run "
                                   "`triage db upgrade` if an earlier release made it") from None
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(format_text(result), nl=False)


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
    n_files = purge_uploads(store, services.instance_path())
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
    """Write agent corrections to OUT as training CSV (text,label,original_label,inquiry_id,source,corrected_at,agent)."""
    from .export import corrections_csv

    data, n = corrections_csv(_store(_settings()), bom=bom)
    _write(out, data)
    click.echo(f"Wrote {n} corrections to {out}. Train with: triage train data/inquiries.csv {out}")


@cli.group("claims")
def claims_grp() -> None:
    """The claims desk: amounts, dates, references and requests extracted from inquiries."""


@claims_grp.command("export")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
              help="Only inquiries received on or after this day (Japanese time).")
@click.option("--bom", is_flag=True, help="Write UTF-8 with BOM so that Excel opens it correctly.")
def claims_export_cmd(out: str, since: Any, bom: bool) -> None:
    """Write compensation inquiries with their claim fields to OUT, one row each (masked, formula-safe)."""
    from datetime import UTC

    from .claims import JST
    from .export import claims_csv

    start = since.replace(tzinfo=JST).astimezone(UTC) if since else None
    data, n = claims_csv(_store(_settings()), since=start, bom=bom)
    _write(out, data)
    click.echo(f"Wrote {n} compensation inquiries to {out}" + (f" (received since {since:%Y-%m-%d})." if since else "."))


@cli.command("evaluate-claims")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--misses", type=click.Path(dir_okay=False), default=None,
              help="Also write the line number and the differing items of every row that is not exact (no text).")
def evaluate_claims_cmd(csv_file: str, as_json: bool, misses: str | None) -> None:
    """Print precision and recall per claim field on CSV_FILE (columns text, received_at, expected)."""
    from .evaluation import claim_misses_csv, evaluate_claims, format_claims, read_claim_cases

    cases = read_claim_cases(csv_file)
    report, predicted = evaluate_claims(cases, csv_file)
    if misses:
        _write(misses, claim_misses_csv(cases, predicted))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(format_claims(report), nl=False)


# -- the incident: profile and FAQ (what ops set up on day one) -------------------


def _actor() -> str:
    """Return who runs this command, for the audit log."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "cli"
    return f"cli:{user}"[:80]


def _incident_store(settings: dict[str, Any]) -> Any:
    """Return the store with the first profile and FAQ version in place (a fresh clone needs no step)."""
    from sqlalchemy.exc import SQLAlchemyError

    from . import faq, incident

    try:
        store = _store(settings)
        incident.ensure(store, settings)
        faq.ensure(store, settings["DATA_DIR"])
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"the database at TRIAGE_DATABASE_URL is not available ({type(exc).__name__})."
        ) from None
    except DatasetError as exc:
        raise click.ClickException(f"cannot import the bundled FAQ: {exc}") from None
    return store


def _unfillable(store: Any, profile: Any) -> tuple[int | None, list[str]]:
    """Return the active FAQ version and the placeholders of its answers that the profile cannot fill."""
    from . import faq

    version = faq.active_id(store)
    if version is None:
        return None, []
    used = {n for e in faq.entries_of(faq.get(store, version)) for n in faq.placeholders(e.answer)}
    return version, sorted(used - set(profile.values()))


def _warn_unfillable(store: Any, profile: Any) -> None:
    version, missing = _unfillable(store, profile)
    if missing:
        names = ", ".join("{" + n + "}" for n in missing)
        click.echo(f"Warning: the active FAQ (version {version}) uses {names}, which the profile cannot fill; "
                   f"agents would see them unfilled. Set them: triage incident set {missing[0]}=VALUE", err=True)


@cli.group("incident")
def incident_grp() -> None:
    """The incident profile: the facts filled into FAQ answers and what agents do on each route."""


@incident_grp.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as one JSON object.")
def incident_show(as_json: bool) -> None:
    """Print the current profile as KEY=VALUE lines (the keys `triage incident set` takes)."""
    from . import incident

    settings = _settings()
    store = _incident_store(settings)
    profile = incident.current(store)
    if as_json:
        click.echo(json.dumps({"revision": profile.revision, **profile.to_data()}, ensure_ascii=False, indent=2))
        return
    click.echo(f"# incident profile revision {profile.revision}")
    for key, value in profile.items():
        click.echo(f"{key}={value}")
    _warn_unfillable(store, profile)


@incident_grp.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
def incident_set(assignments: tuple[str, ...]) -> None:
    """Change the profile; running servers use it within seconds.

    Keys: company, incident_date, hotline, hours, url; any lower-case name
    for an extra placeholder (refund_deadline=2027年1月31日; empty removes it);
    instruction.ROUTE_OR_REASON and transfer.ROUTE_OR_REASON for what agents do
    (routes faq, compensation, escalation; reasons person_at_risk, threat,
    fraud_now, legal, press, leadership, records, other).
    """
    from . import incident

    settings = _settings()
    store = _incident_store(settings)
    problems = []
    try:
        changes = incident.parse_assignments(assignments)
    except incident.ProfileError as exc:
        problems += exc.problems
        changes = incident.parse_assignments([a for a in assignments if "=" in a])
    try:
        profile, changed = incident.current(store).updated(changes)
    except incident.ProfileError as exc:
        problems += exc.problems
    if problems:  # every problem at once, and nothing stored
        raise click.ClickException("nothing was changed:\n" + "\n".join(f"  {p.en()}" for p in problems))
    if not changed:
        click.echo(f"Nothing changed (profile revision {profile.revision}).")
        return
    saved = incident.save(store, profile, _actor(), changed)
    click.echo(f"Saved profile revision {saved.revision} ({', '.join(changed)}); "
               "running servers use it within seconds.")
    _warn_unfillable(store, saved)


@cli.group("faq")
def faq_grp() -> None:
    """FAQ versions: import the company's FAQ, list, activate, roll back, export."""


def _echo_hits(settings: dict[str, Any], store: Any, new_kb: Any, eval_csv: str | None) -> dict[str, Any] | None:
    """Print top-1/top-3 hit rates of the new FAQ and the active one; return them (None without a CSV)."""
    from . import faq

    found = faq.labelled_rows(eval_csv or settings["GATE_CSV"])
    if found is None:
        if eval_csv:
            raise click.ClickException(f"{eval_csv}: no 'faq_id' column to check the FAQ on.")
        return None
    path, rows = found
    active = faq.active_id(store)
    figures = {"csv": path, "new": faq.hit_rates(new_kb, rows)}
    if active is not None:
        figures["active"] = faq.hit_rates(faq.load_kb(store, active), rows)
    click.echo(f"FAQ suggestions on the {figures['new']['n']} faq rows of {path} (what agents would see):")
    for who in ("active", "new"):
        if who in figures:
            f = figures[who]
            label = f"active (version {f['version']})" if who == "active" else "new"
            missing = f"; {f['unknown_ids']} expected id(s) not in this FAQ" if f["unknown_ids"] else ""
            click.echo(f"  {label:<22} top-1 {f['top1']:.3f}  top-3 {f['top3']:.3f}{missing}")
    return figures


@faq_grp.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True, help="Validate and compare with the active FAQ only; store nothing.")
@click.option("--no-activate", is_flag=True, help="Store the new version but keep the active one.")
@click.option("--eval", "eval_csv", type=click.Path(dir_okay=False), default=None,
              help="Labelled CSV with a faq_id column to compare on (default: TRIAGE_GATE_CSV).")
def faq_import(csv_file: str, check: bool, no_activate: bool, eval_csv: str | None) -> None:
    """Validate CSV_FILE (id,question,answer[,keywords]; UTF-8, BOM or CP932), store it as a version, activate it."""
    from . import faq, incident

    settings = _settings()
    store = _incident_store(settings)
    try:
        data = Path(csv_file).read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{csv_file}: cannot read ({exc.strerror}).") from None
    profile = incident.current(store)
    parsed = faq.parse(data, csv_file, known=set(profile.values()))
    click.echo(f"{csv_file}: {len(parsed.entries)} entries, valid ({parsed.encoding}).")
    figures = _echo_hits(settings, store, faq.build(parsed.entries), eval_csv)
    if check:
        click.echo("Checked only (--check): nothing was stored.")
        return
    version = faq.store_version(store, parsed, _actor(), activate=not no_activate,
                                detail={"hits": figures} if figures else None)
    if no_activate:
        click.echo(f"Stored FAQ version {version}, not active (`triage faq activate {version}` to use it).")
    else:
        click.echo(f"Imported and activated FAQ version {version}; running servers use it within seconds.")


@faq_grp.command("list")
def faq_list() -> None:
    """List the FAQ versions; the active one is marked with *."""
    from . import faq

    store = _incident_store(_settings())
    active = faq.active_id(store)
    click.echo(f"  {'version':>7}  {'created (UTC)':<20} {'by':<16}{'entries':>8}  file")
    for v in faq.versions(store):
        mark = "*" if v.id == active else " "
        click.echo(f"{mark} {v.id:>7}  {v.created_at:%Y-%m-%d %H:%M:%S}  {v.created_by[:15]:<16}{v.n_entries:>8}  "
                   f"{v.filename}")


@faq_grp.command("activate")
@click.argument("version", type=int)
def faq_activate(version: int) -> None:
    """Make FAQ VERSION the active one."""
    from . import faq

    store = _incident_store(_settings())
    faq.activate(store, version, _actor())
    click.echo(f"Activated FAQ version {version}; running servers use it within seconds.")


@faq_grp.command("rollback")
def faq_rollback() -> None:
    """Re-activate the FAQ version that was active before the current one."""
    from . import faq

    store = _incident_store(_settings())
    version = faq.rollback(store, _actor())
    click.echo(f"Rolled back to FAQ version {version}.")


@faq_grp.command("export")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--version", "version", type=int, default=None, help="Which version (default: the active one).")
def faq_export(out: str, version: int | None) -> None:
    """Write a FAQ version to OUT as CSV (UTF-8 with BOM; `triage faq import` reads it back unchanged)."""
    from . import faq

    store = _incident_store(_settings())
    version = version if version is not None else faq.active_id(store)
    if version is None:
        raise click.ClickException("there is no FAQ version yet; import one with `triage faq import FAQ.csv`.")
    entries = faq.entries_of(faq.get(store, version))
    _write(out, faq.to_csv(entries))
    click.echo(f"Wrote FAQ version {version} ({len(entries)} entries) to {out}.")


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="triage")
