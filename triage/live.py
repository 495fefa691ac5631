"""The model a running worker serves, swapped live when ops activate another version.

Each worker process polls the registry's ACTIVE pointer from a background
thread. A new version is loaded and verified beside the old one; only then is
the reference swapped (one assignment, atomic for readers), so no request ever
waits for a load or sees a half-loaded model. A version that fails
verification is refused and the old one keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from . import metrics
from .registry import LoadedModel, Registry, RegistryError

log = logging.getLogger("triage.model")


class ModelUnavailable(Exception):
    """No verified model is loaded in this worker."""


class ModelHolder:
    """The current model of this process, kept in step with the registry."""

    def __init__(self, registry: Registry, interval: float = 1.0) -> None:
        self.registry = registry
        self.interval = interval
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._refused: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._pid: int | None = None

    def get(self) -> LoadedModel:
        """Return the model to answer with (starting this process's watcher if needed)."""
        if self._pid != os.getpid():
            self.start()
        model = self.current
        if model is None:
            raise ModelUnavailable(self.last_error or "no model is loaded")
        return model

    def start(self) -> None:
        """Start the watcher thread of this process (threads do not survive fork)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            thread = threading.Thread(target=self._watch, name="triage-model-watcher", daemon=True)
            thread.start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.refresh()
            except Exception:  # never let the watcher die: the next tick retries
                log.exception("model watcher failed")

    def refresh(self) -> bool:
        """Load the active version if it changed; return True when swapped."""
        name = self.registry.active()
        if name is None:
            return False
        if self.current is not None and self.current.version == name:
            # ACTIVE points at what this worker serves (again): an earlier refusal is history.
            self.last_error = None
            self._refused = None
            return False
        try:
            stamp = (self.registry.path(name) / "model.joblib").stat().st_mtime
        except (OSError, RegistryError):
            stamp = 0.0
        if self._refused == (name, stamp):
            return False
        try:
            loaded = self.registry.load(name)
        except (RegistryError, OSError, ValueError, EOFError) as exc:
            self._refused = (name, stamp)
            metrics.MODEL_REFUSALS.inc()
            self.last_error = f"refused model {name}: {exc}"
            log.error("refused model version %s; still serving %s: %s", name,
                      self.current.version if self.current else "nothing", exc)
            return False
        old = self.current.version if self.current else None
        self.current = loaded
        self.last_error = None
        self._refused = None
        metrics.set_model(name, old)
        log.info("now serving model %s (was %s) in pid %d", name, old, os.getpid())
        return True
