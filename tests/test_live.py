"""The one watcher of a worker: pointer items swap when their pointer moves, refuse bad loads, survive outages."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from triage.live import PointerItem, Unavailable, Watcher


class FakeStore:
    """Pointers as a dict; `down` makes the read fail like a database that is gone."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.down = False
        self.reads = 0

    def pointers(self) -> dict[str, str]:
        self.reads += 1
        if self.down:
            raise OperationalError("select", {}, Exception("connection refused"))
        return dict(self.values)


def _loader(bad: set[str], loads: list[str]):
    def load(value: str) -> str:
        loads.append(value)
        if value in bad:
            raise ValueError(f"version {value} is broken")
        return f"loaded {value}"

    return load


def test_items_follow_their_pointers_with_one_read_per_tick() -> None:
    store = FakeStore()
    loads: list[str] = []
    watcher = Watcher(read_pointers=store.pointers)
    faq = watcher.add(PointerItem("faq", _loader(set(), loads)))
    profile = watcher.add(PointerItem("profile", _loader(set(), loads)))
    with pytest.raises(Unavailable):
        faq.get()
    watcher.stop()

    store.values = {"faq": "1", "profile": "7"}
    assert watcher.refresh() == ["faq", "profile"]
    assert (faq.current, profile.current) == ("loaded 1", "loaded 7")
    assert watcher.refresh() == [] and loads == ["1", "7"]  # unchanged pointers load nothing
    store.values["faq"] = "2"
    assert watcher.refresh() == ["faq"] and faq.current == "loaded 2" and profile.current == "loaded 7"
    assert store.reads == 3


def test_a_bad_version_is_refused_once_and_the_old_one_keeps_serving() -> None:
    store = FakeStore()
    loads: list[str] = []
    watcher = Watcher(read_pointers=store.pointers)
    faq = watcher.add(PointerItem("faq", _loader({"2"}, loads)))
    store.values = {"faq": "1"}
    watcher.refresh()
    store.values = {"faq": "2"}
    assert watcher.refresh() == [] and watcher.refresh() == []
    assert faq.current == "loaded 1" and loads == ["1", "2"]  # not retried every tick
    assert "refused faq 2" in (faq.last_error or "")
    store.values = {"faq": "3"}
    assert watcher.refresh() == ["faq"] and faq.last_error is None


def test_a_database_outage_keeps_what_is_loaded_and_recovers() -> None:
    store = FakeStore()
    watcher = Watcher(read_pointers=store.pointers)
    faq = watcher.add(PointerItem("faq", _loader(set(), [])))
    store.values = {"faq": "1"}
    watcher.refresh()
    store.down = True
    store.values = {"faq": "2"}
    assert watcher.refresh() == [] and faq.current == "loaded 1"
    store.down = False
    assert watcher.refresh() == ["faq"] and faq.current == "loaded 2"


def test_the_thread_starts_once_per_process_and_stops() -> None:
    store = FakeStore()
    watcher = Watcher(interval=0.01, read_pointers=store.pointers)
    faq = watcher.add(PointerItem("faq", _loader(set(), [])))
    store.values = {"faq": "1"}
    watcher.refresh()
    assert faq.get() == "loaded 1" and watcher.started()
    watcher.start()  # a second start in the same process is a no-op
    watcher.stop()
    assert not watcher.started()
