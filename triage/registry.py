"""Model versions on disk: save, verify, load, activate, roll back, audit.

Layout under the models directory::

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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib

if TYPE_CHECKING:  # scikit-learn loads slowly; CLI commands without a model skip it
    from .model import InquiryModel

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class RegistryError(Exception):
    """A model version that is missing, invalid or fails verification."""


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


def _write_atomic(path: Path, data: str) -> None:
    """Write a file so that readers see the old or the new content, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class LoadedModel:
    """A verified model ready to serve."""

    version: str
    router: InquiryModel
    metadata: dict[str, Any]
    sha256: str


class Registry:
    """The model versions in one directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

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

    def save(
        self,
        model: InquiryModel,
        metadata: dict[str, Any],
        files: dict[str, str] | None = None,
        version: str | None = None,
    ) -> str:
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
            raise RegistryError(
                f"{path}: SHA-256 mismatch (file {digest[:12]}…, metadata {str(meta.get('model_sha256'))[:12]}…); "
                "the file was changed after training and is refused. Activate another version "
                "(`triage models`, `triage activate VERSION`) or retrain."
            )
        from .model import InquiryModel
        from .text import TOKENIZER_VERSION

        if meta.get("versions", {}).get("tokenizer") != TOKENIZER_VERSION:
            raise RegistryError(
                f"version {version} was trained with tokenizer {meta.get('versions', {}).get('tokenizer')!r}, "
                f"this code has {TOKENIZER_VERSION!r}; retrain with `triage train data/inquiries.csv`."
            )
        model = joblib.load(path)
        if not isinstance(model, InquiryModel):
            raise RegistryError(f"{path}: not a triage model ({type(model).__name__}); retrain.")
        return LoadedModel(version, model, meta, digest)

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
        _write_atomic(self.root / "ACTIVE", version + "\n")
        self._append("history.jsonl", {"time": _now(), "version": version, "previous": previous})
        self.audit(action, actor, version=version, previous=previous, reason=reason, sha256=loaded.sha256)
        return True

    def rollback(self, actor: str = "cli") -> str:
        """Re-activate the version that was active before the current one."""
        current = self.active()
        history = self._read("history.jsonl")
        # Walk back to the entry that made the current version active and take the one before it
        # (entries from a version to itself, written before activation became a no-op, are skipped).
        for entry in reversed(history):
            if entry.get("version") == current and entry.get("previous") not in (None, current):
                target = entry["previous"]
                self.activate(target, actor=actor, reason=f"rollback from {current}", action="rollback")
                return target
        raise RegistryError("nothing to roll back to: no earlier active version is recorded.")

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
