"""Freezing start-up's objects: out of the collector's scans, and start-up's garbage gone."""

from __future__ import annotations

import gc
import weakref

from ccm_tui.heap import freeze_startup_objects


class Node:
    def __init__(self) -> None:
        self.self = self  # a cycle: only the cyclic collector frees it


def test_startup_objects_leave_the_collectors_scans_and_startup_garbage_is_freed_first():
    kept = Node()
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    try:
        freeze_startup_objects()
        assert gone() is None  # collected before the freeze, not kept forever
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects())  # no longer scanned
    finally:
        gc.unfreeze()
    assert any(obj is kept for obj in gc.get_objects())
