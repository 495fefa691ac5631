"""Model versions: save, verify, load, activate, roll back, audit.

Two registries with one interface: ``Registry`` keeps them in a folder (the default,
``TRIAGE_REGISTRY=folder``), ``DatabaseRegistry`` in the database (``TRIAGE_REGISTRY=database``,
for hosts without a shared disk). Layout under the models directory of the folder registry::

    <version>/model.joblib     the pickled InquiryModel (weights, combiner, routing policy)
    <version>/metadata.json    hashes, metrics, thresholds, library versions
    <version>/report.txt       the training report as printed
    <version>/misclassified.csv
    ACTIVE                     the active version's name (replaced atomically)
    history.jsonl, audit.jsonl append-only logs of activations and trainings
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib

from .files import write_atomic

if TYPE_CHECKING:  # scikit-learn loads slowly; CLI commands without a model skip it
    from .model import InquiryModel
    from .store import Store

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class RegistryError(Exception):
    """A model version that is missing, invalid or fails verification."""


class NothingToRollBack(RegistryError):
    """No earlier version that rollback may return to: the English message for logs and the CLI, ``ja`` for pages."""

    def __init__(self, message: str, ja: str) -> None:
        super().__init__(message)
        self.ja = ja


def rollback_stack(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replay the activation history into the stack rollback walks down (top = the latest activation).

    An activation pushes its version; a rollback to V takes off everything above the latest V
    (the versions it went back over, also the ones it skipped). Entries of older releases carry
    no action and count as activations; entries from a version to itself are ignored.
    """
    stack: list[dict[str, Any]] = []
    for entry in history:
        version = entry.get("version")
        if not version or version == entry.get("previous"):
            continue
        if entry.get("action") == "rollback" and any(e["version"] == version for e in stack):
            while stack[-1]["version"] != version:
                stack.pop()
        else:
            stack.append({"version": version, "action": entry.get("action") or "activate",
                          "reason": entry.get("reason") or ""})
    return stack


def rollback_target(registry: Registry, current: str | None, history: list[dict[str, Any]]) -> str:
    """Return the version a rollback from ``current`` goes to, or raise NothingToRollBack.

    It is the latest version activated before the current one that is still stored and either
    passed the quality gate or was activated over a failed gate with a recorded reason (the admin
    page's reason field, `triage activate VERSION --force REASON`, `triage train --force REASON`):
    rolling back is the safe way out, so it never lands on a refused model nobody vouched for.
    """
    stack = rollback_stack(history)
    while stack and stack[-1]["version"] == current:
        stack.pop()
    skipped = []
    for entry in reversed(stack):
        version = entry["version"]
        if version == current:
            continue
        try:
            gate = registry.metadata(version).get("gate") or {}
        except RegistryError:
            skipped.append(f"{version} (no longer stored)")
            continue
        vouched = entry["action"] == "force-activate" and bool(entry["reason"].strip())
        if gate.get("passed") is False and not vouched:
            skipped.append(f"{version} (failed the quality gate, activated without a reason)")
            continue
        return version
    why = f"; skipped {', '.join(skipped)}" if skipped else ""
    raise NothingToRollBack(
        f"nothing to roll back to: no version active before {current or 'the current one'} is recorded{why}; "
        "choose one with `triage models` and switch with `triage activate VERSION`.",
        "戻せる以前のモデルがありません" + ("（品質ゲート不合格で理由なく有効にされた版・削除された版は飛ばします）"
                                            if skipped else "") + "。一覧から版を選んで「有効にする」を押してください"
        "（コマンドでは `triage models` と `triage activate VERSION`）。")


# Files of the registry itself: valid names, but never versions.
RESERVED_NAMES = frozenset({"ACTIVE", "history.jsonl", "audit.jsonl"})


def check_version_name(version: str) -> str:
    """Return the name if it is a safe directory name, else raise RegistryError."""
    if not isinstance(version, str) or not VERSION_RE.match(version) or ".." in version:
        raise RegistryError(f"invalid version name {version!r}: use letters, digits, '.', '_' and '-' only.")
    if version in RESERVED_NAMES:
        raise RegistryError(f"{version!r} is a file of the registry, not a model version; see `triage models`.")
    return version


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _unpickle(version: str, meta: dict[str, Any], source: Any, where: str) -> InquiryModel:
    """Unpickle a model whose SHA-256 the caller has just checked against ``meta`` (never before)."""
    from .model import InquiryModel
    from .text import TOKENIZER_VERSION

    if meta.get("versions", {}).get("tokenizer") != TOKENIZER_VERSION:
        raise RegistryError(
            f"version {version} was trained with tokenizer {meta.get('versions', {}).get('tokenizer')!r}, "
            f"this code has {TOKENIZER_VERSION!r}; retrain with `triage train data/inquiries.csv`."
        )
    model = joblib.load(source)
    if not isinstance(model, InquiryModel):
        raise RegistryError(f"{where}: not a triage model ({type(model).__name__}); retrain.")
    return model


def _mismatch(where: str, digest: str, meta: dict[str, Any]) -> RegistryError:
    return RegistryError(
        f"{where}: SHA-256 mismatch (file {digest[:12]}…, metadata {str(meta.get('model_sha256'))[:12]}…); "
        "the file was changed after training and is refused. Activate another version "
        "(`triage models`, `triage activate VERSION`) or retrain."
    )


@dataclass
class LoadedModel:
    """A verified model ready to serve."""

    version: str
    router: InquiryModel
    metadata: dict[str, Any]
    sha256: str


class Registry:
    """The model versions in one directory (the default, TRIAGE_REGISTRY=folder)."""

    # The live pointer that names the active version; None: the ACTIVE file does.
    pointer: str | None = None

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        """Return where the versions are, for messages."""
        return f"{self.root}/"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Serialise trainings across hosts; the folder registry is one host's (lifecycle.training_lock does it)."""
        yield

    def where(self, version: str, name: str) -> str:
        """Return where a version's file (report.txt, misclassified.csv) is, for messages."""
        return str(self.path(version) / name)

    def file(self, version: str, name: str) -> str:
        """Return report.txt or misclassified.csv of a version."""
        try:
            return (self.path(version) / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RegistryError(f"{self.path(version) / name}: missing.") from None

    def stamp(self, version: str) -> str:
        """Return what changes when a version's model bytes are replaced (a refused load is retried then)."""
        try:
            return str((self.path(version) / MODEL_FILE).stat().st_mtime)
        except (OSError, RegistryError):
            return ""

    # -- versions ---------------------------------------------------------
    def path(self, version: str) -> Path:
        """Return the directory of a version (after validating its name)."""
        return self.root / check_version_name(version)

    def versions(self) -> list[dict[str, Any]]:
        """Return every version's metadata, oldest first."""
        out = []
        if not self.root.is_dir():
            return out
        for d in sorted(self.root.iterdir()):
            meta = d / METADATA_FILE
            if d.is_dir() and VERSION_RE.match(d.name) and meta.is_file():
                try:
                    out.append(json.loads(meta.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue
        out.sort(key=lambda m: (m.get("created", ""), m.get("version", "")))
        return out

    def metadata(self, version: str) -> dict[str, Any]:
        """Return one version's metadata."""
        meta = self.path(version) / METADATA_FILE
        try:
            return json.loads(meta.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            raise RegistryError(f"no model version {version!r} in {self.root}/; see `triage models`.") from None
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{meta}: unreadable metadata ({exc}).") from None

    def save(self, model: InquiryModel, metadata: dict[str, Any], files: dict[str, str] | None = None,
             version: str | None = None) -> str:
        """Write a new version directory completely, then reveal it with one rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".incoming-"))
        try:
            model_path = tmp / MODEL_FILE
            joblib.dump(model, model_path, compress=3)
            digest = sha256_file(model_path)
            if version is None:
                # Retraining on the same data gives the same hash: number repeats.
                version = base = f"{stamp}-{digest[:8]}"
                n = 1
                while (self.root / version).exists():
                    n += 1
                    version = f"{base}-{n}"
            check_version_name(version)
            meta = dict(metadata, version=version, created=_now(), model_sha256=digest)
            meta["thresholds"] = model.policy.to_dict()
            (tmp / METADATA_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
            for name, content in (files or {}).items():
                (tmp / name).write_text(content, encoding="utf-8")
            final = self.root / version
            if final.exists():
                raise RegistryError(f"version {version} already exists in {self.root}/.")
            os.replace(tmp, final)
        except BaseException:
            for p in tmp.glob("*"):
                p.unlink(missing_ok=True)
            tmp.rmdir()
            raise
        return version

    def load(self, version: str) -> LoadedModel:
        """Verify a version's SHA-256, then unpickle it (never before)."""
        meta = self.metadata(version)
        path = self.path(version) / MODEL_FILE
        if not path.is_file():
            raise RegistryError(f"{path}: model file missing; retrain with `triage train data/inquiries.csv`.")
        digest = sha256_file(path)
        if digest != meta.get("model_sha256"):
            raise _mismatch(str(path), digest, meta)
        return LoadedModel(version, _unpickle(version, meta, path, str(path)), meta, digest)

    # -- the active pointer -----------------------------------------------
    def active(self) -> str | None:
        """Return the active version's name, or None when none is active."""
        try:
            name = (self.root / "ACTIVE").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def activate(self, version: str, actor: str = "cli", reason: str = "", action: str = "activate") -> bool:
        """Make a version active (after verifying it) and record who did it; False if it already was.

        Activating the active version changes nothing and records nothing: a
        history entry from a version to itself would make rollback "go back" to it.
        """
        check_version_name(version)
        previous = self.active()
        if previous == version:
            return False
        loaded = self.load(version)
        write_atomic(self.root / "ACTIVE", (version + "\n").encode("utf-8"))
        self._append("history.jsonl", {"time": _now(), "version": version, "previous": previous,
                                       "action": action, "reason": reason})
        self.audit(action, actor, version=version, previous=previous, reason=reason, sha256=loaded.sha256)
        return True

    def rollback(self, actor: str = "cli") -> str:
        """Re-activate the version active before the current one; again goes one further back (see rollback_target)."""
        with self.exclusive_pointer():
            current = self.active()
            target = rollback_target(self, current, self.history())
            self.activate(target, actor=actor, reason=f"rollback from {current}", action="rollback")
        return target

    @contextmanager
    def exclusive_pointer(self) -> Iterator[None]:
        """Hold the pointer while a rollback reads the history and moves it (two at once would go back one)."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".rollback.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def history(self) -> list[dict[str, Any]]:
        """Return the activations, oldest first: version, previous, action, reason."""
        return self._read("history.jsonl")

    # -- logs -------------------------------------------------------------
    def audit(self, action: str, actor: str, **fields: Any) -> None:
        """Append one line to the audit log."""
        self._append("audit.jsonl", {"time": _now(), "action": action, "actor": actor, **fields})

    def audit_log(self) -> list[dict[str, Any]]:
        """Return the audit log, oldest first."""
        return self._read("audit.jsonl")

    def _append(self, name: str, entry: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _read(self, name: str) -> list[dict[str, Any]]:
        try:
            lines = (self.root / name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


MODEL_POINTER = "model"
# PostgreSQL advisory lock keys: 74021 is the migrations' (triage.migrate), then the trainings', the rollbacks'.
TRAINING_LOCK_KEY = 74022
ROLLBACK_LOCK_KEY = 74023


@contextmanager
def _advisory_lock(store: Store, key: int) -> Iterator[None]:
    """Hold a PostgreSQL session advisory lock meanwhile; on SQLite (one machine's file) do nothing."""
    if store.engine.dialect.name != "postgresql":
        yield
        return
    from sqlalchemy import text

    with store.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


class DatabaseRegistry(Registry):
    """The model versions in the database (TRIAGE_REGISTRY=database): hosts need no shared disk.

    A version is one row of ``model_versions`` (the joblib bytes, the metadata, the report and
    the misclassified rows); the active version is the ``model`` row of ``live_pointers``, which
    every worker's watcher already polls (so an activation reaches every host the way a FAQ
    version does); history and audit are rows of ``model_events``. As in the folder registry,
    the bytes are unpickled only after their SHA-256 matches the metadata's ``model_sha256``.
    ``root`` is still a local folder: it holds the training lock of this host.
    """

    pointer = MODEL_POINTER

    def __init__(self, store: Store, root: str | Path) -> None:
        super().__init__(root)
        self.store = store

    def describe(self) -> str:
        """Return where the versions are, for messages."""
        return "the database registry"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Serialise trainings of every host on one PostgreSQL (a session advisory lock held meanwhile).

        Several hosts started at once on an empty database would otherwise each train the default
        model. SQLite is one machine's file: the local training lock already covers it.
        """
        with _advisory_lock(self.store, TRAINING_LOCK_KEY):
            yield

    def where(self, version: str, name: str) -> str:
        """Return where a version's file is, for messages."""
        return f"{name} of {version} in the database"

    def stamp(self, version: str) -> str:
        """Return the stored SHA-256 column (changes when the row's bytes are replaced)."""
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        from .store import ModelVersion

        try:
            with self.store.session() as s:
                return s.scalar(select(ModelVersion.sha256).where(ModelVersion.version == version)) or ""
        except SQLAlchemyError:
            return ""

    # -- versions ---------------------------------------------------------
    def versions(self) -> list[dict[str, Any]]:
        """Return every version's metadata, oldest first."""
        from sqlalchemy import select

        from .store import ModelVersion

        with self.store.session() as s:
            out = [dict(m) for m in s.scalars(select(ModelVersion.meta))]
        out.sort(key=lambda m: (m.get("created", ""), m.get("version", "")))
        return out

    def metadata(self, version: str) -> dict[str, Any]:
        """Return one version's metadata."""
        from sqlalchemy import select

        from .store import ModelVersion

        check_version_name(version)
        with self.store.session() as s:
            meta = s.scalar(select(ModelVersion.meta).where(ModelVersion.version == version))
        if meta is None:
            raise RegistryError(f"no model version {version!r} in the database registry; see `triage models`.")
        return dict(meta)

    def file(self, version: str, name: str) -> str:
        """Return report.txt or misclassified.csv of a version."""
        from sqlalchemy import select

        from .store import ModelVersion

        column = {"report.txt": ModelVersion.report, "misclassified.csv": ModelVersion.misclassified}[name]
        with self.store.session() as s:
            value = s.scalar(select(column).where(ModelVersion.version == check_version_name(version)))
        if value is None:
            raise RegistryError(f"no model version {version!r} in the database registry; see `triage models`.")
        return value

    def save(self, model: InquiryModel, metadata: dict[str, Any], files: dict[str, str] | None = None,
             version: str | None = None) -> str:
        """Store a new version in one transaction: it is seen complete or not at all."""
        import io

        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        from .store import ModelVersion

        buf = io.BytesIO()
        joblib.dump(model, buf, compress=3)
        data = buf.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        files = files or {}
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        explicit = version is not None
        base = version or f"{stamp}-{digest[:8]}"
        for n in range(1, 100):
            name = base if n == 1 else f"{base}-{n}"
            check_version_name(name)
            meta = dict(metadata, version=name, created=_now(), model_sha256=digest)
            meta["thresholds"] = model.policy.to_dict()
            try:
                with self.store.session() as s:
                    if s.scalar(select(ModelVersion.version).where(ModelVersion.version == name)) is None:
                        s.add(ModelVersion(version=name, sha256=digest, meta=meta, model=data,
                                           report=files.get("report.txt", ""),
                                           misclassified=files.get("misclassified.csv", "")))
                        s.flush()
                        return name
            except IntegrityError:  # another host stored the same name meanwhile: number on
                pass
            if explicit:
                raise RegistryError(f"version {name} already exists in the database registry.")
        raise RegistryError(f"too many versions named {base}-N in the database registry.")

    def load(self, version: str) -> LoadedModel:
        """Verify a version's SHA-256, then unpickle it (never before)."""
        import io

        from sqlalchemy import select

        from .store import ModelVersion

        check_version_name(version)
        with self.store.session() as s:
            row = s.execute(select(ModelVersion.meta, ModelVersion.model)
                            .where(ModelVersion.version == version)).first()
        if row is None:
            raise RegistryError(f"no model version {version!r} in the database registry; see `triage models`.")
        meta, data = dict(row[0]), bytes(row[1])
        digest = hashlib.sha256(data).hexdigest()
        where = f"model {version} in the database"
        if digest != meta.get("model_sha256"):
            raise _mismatch(where, digest, meta)
        return LoadedModel(version, _unpickle(version, meta, io.BytesIO(data), where), meta, digest)

    # -- the active pointer -----------------------------------------------
    def active(self) -> str | None:
        """Return the active version's name, or None when none is active."""
        return self.store.pointers().get(self.pointer) or None

    def activate(self, version: str, actor: str = "cli", reason: str = "", action: str = "activate") -> bool:
        """Make a version active (after verifying it) and record who did it, in one transaction.

        Return False, recording nothing, when it already is active: a history entry from a version
        to itself would make rollback "go back" to it.
        """
        from sqlalchemy import select

        from .store import LivePointer, ModelEvent, utcnow

        loaded = self.load(version)
        with self.store.session() as s:
            # FOR UPDATE serialises two activations on PostgreSQL (SQLite has one writer anyway).
            row = s.scalars(select(LivePointer).where(LivePointer.name == self.pointer).with_for_update()).first()
            previous = row.value if row is not None else None
            if previous == version:
                return False
            if row is None:
                s.add(LivePointer(name=self.pointer, value=version, updated_by=actor, updated_at=utcnow()))
            else:
                row.value, row.updated_by, row.updated_at = version, actor, utcnow()
            s.add(ModelEvent(action=action, actor=actor, version=version, previous=previous,
                             detail={"reason": reason, "sha256": loaded.sha256, "history": True}))
        return True

    @contextmanager
    def exclusive_pointer(self) -> Iterator[None]:
        """Serialise rollbacks of every host on one PostgreSQL (SQLite has one writer anyway)."""
        with _advisory_lock(self.store, ROLLBACK_LOCK_KEY):
            yield

    # -- logs -------------------------------------------------------------
    def audit(self, action: str, actor: str, **fields: Any) -> None:
        """Record one audit entry."""
        from .store import ModelEvent

        with self.store.session() as s:
            s.add(ModelEvent(action=action, actor=actor, version=fields.pop("version", None),
                             previous=fields.pop("previous", None), detail=fields))

    def _events(self) -> list[Any]:
        from sqlalchemy import select

        from .store import ModelEvent

        with self.store.session() as s:
            return list(s.scalars(select(ModelEvent).order_by(ModelEvent.id)))

    def history(self) -> list[dict[str, Any]]:
        """Return the activations, oldest first: version, previous, action, reason."""
        return [{"version": e.version, "previous": e.previous, "action": e.action,
                 "reason": (e.detail or {}).get("reason") or ""}
                for e in self._events() if (e.detail or {}).get("history")]

    def audit_log(self) -> list[dict[str, Any]]:
        """Return the audit log, oldest first, shaped like the folder registry's audit.jsonl lines."""
        out = []
        for e in self._events():
            detail = {k: v for k, v in (e.detail or {}).items() if k != "history"}
            at = e.at if e.at.tzinfo is not None else e.at.replace(tzinfo=UTC)
            entry = {"time": at.astimezone(UTC).isoformat(timespec="seconds"), "action": e.action, "actor": e.actor}
            if e.version is not None:
                entry["version"] = e.version
            if (e.detail or {}).get("history"):
                entry["previous"] = e.previous
            entry.update(detail)
            out.append(entry)
        return out


def open_registry(settings: dict[str, Any], store: Store | None = None) -> Registry:
    """Return the registry TRIAGE_REGISTRY names: "folder" (MODELS_DIR, the default) or "database"."""
    kind = str(settings.get("REGISTRY") or "folder").lower()
    if kind == "folder":
        return Registry(settings["MODELS_DIR"])
    if kind == "database":
        if store is None:
            from .services import open_store

            store = open_store(settings)
        return DatabaseRegistry(store, settings["MODELS_DIR"])
    raise RegistryError(f"TRIAGE_REGISTRY={kind!r}: use folder or database.")
