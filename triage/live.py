"""What a running worker serves, kept current while ops change it: the model, the FAQ, the incident profile.

One watcher thread per worker process ticks every ``RELOAD_SECONDS``. Each
tick reads the database's live pointers once (one small query) and asks
every live item whether its pointer moved. An item that moved loads the new
thing beside the old one and swaps only when it is ready (one assignment,
atomic for readers), so no request waits for a load or sees half of one. A
load that fails is refused and logged; the old one keeps serving.

The FAQ version and the profile revision follow rows of ``live_pointers``; the
model follows the folder registry's ACTIVE file, or, with the database registry
(TRIAGE_REGISTRY=database, issue 17), the ``model`` row of the same table. Either
way it is verified by its SHA-256 before it is unpickled.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from . import metrics
from .registry import LoadedModel, Registry, RegistryError

log = logging.getLogger("triage.live")
model_log = logging.getLogger("triage.model")

T = TypeVar("T")
Pointers = dict[str, str]


class Unavailable(Exception):
    """Nothing verified is loaded for this item in this worker."""


# The name callers of the first release import.
ModelUnavailable = Unavailable


class Watcher:
    """The one thread of a worker process that keeps every live item current."""

    def __init__(self, interval: float = 1.0, read_pointers: Callable[[], Pointers] | None = None) -> None:
        self.interval = interval
        self.read_pointers = read_pointers
        self.items: list[LiveItem[Any]] = []
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._pointer_error: str | None = None

    def add(self, item: LiveItem[T]) -> LiveItem[T]:
        """Watch one more item; return it."""
        item.watcher = self
        self.items.append(item)
        return item

    def refresh(self) -> list[str]:
        """Bring every item up to date now; return the names of those that swapped."""
        pointers: Pointers | None = None
        if self.read_pointers is not None:
            try:
                pointers = self.read_pointers()
            except SQLAlchemyError as exc:
                # The database is down: keep serving what is loaded; say so once, not every tick.
                message = type(exc).__name__
                if self._pointer_error != message:
                    log.warning("cannot read the live pointers (%s); serving what is loaded", message)
                    self._pointer_error = message
            else:
                if self._pointer_error is not None:
                    log.info("live pointers readable again")
                    self._pointer_error = None
        swapped = []
        for item in self.items:
            try:
                if item.refresh(pointers):
                    swapped.append(item.name)
            except Exception:  # one item's failure must not keep the others stale
                log.exception("live item %s failed to refresh", item.name)
        return swapped

    def started(self) -> bool:
        """Return True when this process's watcher thread runs."""
        return self._pid == os.getpid()

    def start(self) -> None:
        """Start the watcher thread of this process (threads do not survive fork)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stopped = threading.Event()
            # The thread holds the watcher weakly: a watcher nobody uses any more (an app of a
            # test, say) lets its thread end instead of polling a database forever.
            self._thread = threading.Thread(target=_watch, args=(weakref.ref(self), self._stopped, self.interval),
                                            name="triage-live-watcher", daemon=True)
            self._thread.start()
        for item in self.items:
            item.announce()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop this process's thread and wait for its last tick; return True if one was running."""
        with self._lock:
            running = self._pid == os.getpid()
            self._pid = None
            self._stopped.set()
            thread = self._thread
        if running and thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return running

    def stop_with(self, engine: Any) -> None:
        """Stop when the database engine is disposed (its owner is done with it), so that it stops polling.

        A tick that ran just after the dispose put a connection into the new pool: close it. (One in
        flight during the dispose returns its connection to the old pool; call stop() before
        disposing to leave nothing open.) A forked worker disposes the engine it inherited before
        its watcher starts, so nothing runs there yet and the parent's connections are left alone.
        """
        if self.stop():
            engine.pool.dispose()


def _watch(ref: weakref.ref[Watcher], stopped: threading.Event, interval: float) -> None:
    while not stopped.wait(interval):
        watcher = ref()
        if watcher is None:
            return
        try:
            watcher.refresh()
        except Exception:  # never let the watcher die: the next tick retries
            log.exception("live watcher failed")
        del watcher


class LiveItem(Generic[T]):
    """One thing a worker serves and keeps current (see Watcher)."""

    name = "item"

    def __init__(self) -> None:
        self.current: T | None = None
        self.key: str | None = None
        self.last_error: str | None = None
        self.watcher: Watcher | None = None

    def get(self) -> T:
        """Return what to answer with (starting this process's watcher if needed)."""
        if self.watcher is None or not self.watcher.started():
            self.start()
        value = self.current
        if value is None:
            raise Unavailable(self.last_error or f"no {self.name} is loaded")
        return value

    def start(self) -> None:
        """Start the watcher of this item's process (a watcher of its own if it has none)."""
        if self.watcher is None:
            Watcher().add(self)
        assert self.watcher is not None
        self.watcher.start()

    def refresh(self, pointers: Pointers | None) -> bool:
        """Load what the pointers name if it changed; return True when swapped."""
        raise NotImplementedError

    def announce(self) -> None:
        """Publish what this process serves (called when a forked worker starts its watcher)."""
        if self.key is not None:
            metrics.set_live(self.name, self.key, None)


class PointerItem(LiveItem[T]):
    """A live item named by a row of ``live_pointers`` (the FAQ version, the profile revision)."""

    def __init__(self, name: str, load: Callable[[str], T]) -> None:
        super().__init__()
        self.name = name
        self.load = load
        self._refused: str | None = None

    def refresh(self, pointers: Pointers | None) -> bool:
        """Load the pointed-at value if the pointer moved; return True when swapped."""
        if pointers is None:
            return False
        key = pointers.get(self.name)
        if key is None or key == self.key or key == self._refused:
            return False
        try:
            value = self.load(key)
        except SQLAlchemyError as exc:
            # Transient: retried on the next tick, not remembered as refused.
            self.last_error = f"cannot load {self.name} {key}: {type(exc).__name__}"
            return False
        except Exception as exc:
            self._refused = key
            self.last_error = f"refused {self.name} {key}: {exc}"
            log.error("refused %s %s; still serving %s: %s", self.name, key, self.key, exc)
            return False
        old = self.key
        self.current, self.key = value, key
        self.last_error = None
        self._refused = None
        metrics.set_live(self.name, key, old)
        log.info("now serving %s %s (was %s) in pid %d", self.name, key, old, os.getpid())
        return True


class ModelHolder(LiveItem[LoadedModel]):
    """The current model of this process, kept in step with the registry's active version.

    The folder registry names it in its ACTIVE file; the database registry in the ``model``
    row of ``live_pointers`` (read by the watcher with the other pointers, one query per tick).
    """

    name = "model"

    def __init__(self, registry: Registry, interval: float = 1.0) -> None:
        super().__init__()
        self.registry = registry
        self.interval = interval
        self._refused: tuple[str, str] | None = None

    def start(self) -> None:
        """Start the watcher of this process (a watcher of its own if it has none)."""
        if self.watcher is None:
            Watcher(self.interval).add(self)
        super().start()

    def announce(self) -> None:
        """The model's gauge is set by the server's post-fork hook (triage.serve)."""

    def _active(self, pointers: Pointers | None) -> str | None:
        if self.registry.pointer is None:
            return self.registry.active()
        if pointers is None:  # a watcher without pointers (or the database is down): ask directly
            try:
                return self.registry.active()
            except SQLAlchemyError:
                return None
        return pointers.get(self.registry.pointer) or None

    def refresh(self, pointers: Pointers | None = None) -> bool:
        """Load the active version if it changed; return True when swapped."""
        name = self._active(pointers)
        if name is None:
            return False
        if self.current is not None and self.current.version == name:
            # ACTIVE points at what this worker serves (again): an earlier refusal is history.
            self.last_error = None
            self._refused = None
            return False
        stamp = self.registry.stamp(name)
        if self._refused == (name, stamp):
            return False
        try:
            loaded = self.registry.load(name)
        except SQLAlchemyError as exc:
            # Transient (the database blinked): retried on the next tick, not remembered as refused.
            self.last_error = f"cannot load model {name}: {type(exc).__name__}"
            return False
        except (RegistryError, OSError, ValueError, EOFError) as exc:
            self._refused = (name, stamp)
            metrics.MODEL_REFUSALS.inc()
            self.last_error = f"refused model {name}: {exc}"
            model_log.error("refused model version %s; still serving %s: %s", name,
                            self.current.version if self.current else "nothing", exc)
            return False
        old = self.current.version if self.current else None
        self.current = loaded
        self.key = name
        self.last_error = None
        self._refused = None
        metrics.set_model(name, old)
        model_log.info("now serving model %s (was %s) in pid %d", name, old, os.getpid())
        return True
