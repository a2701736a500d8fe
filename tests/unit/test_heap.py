"""Settling the heap: start-up's objects out of the collector's scans, its garbage gone."""

from __future__ import annotations

import gc
import weakref

from ccm_tui.heap import THRESHOLDS, settle_heap


class Node:
    def __init__(self) -> None:
        self.self = self  # a cycle: only the cyclic collector frees it


def test_startup_objects_leave_the_collectors_scans_and_startup_garbage_is_freed_first():
    kept = Node()
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    thresholds = gc.get_threshold()
    try:
        settle_heap()
        assert gone() is None  # collected before the freeze, not kept forever
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects())  # no longer scanned
        assert gc.get_threshold() == THRESHOLDS
        later = Node()  # cycles made after start-up are still collected
        later_ref = weakref.ref(later)
        del later
        gc.collect()
        assert later_ref() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert any(obj is kept for obj in gc.get_objects())
