"""The heap of a process that runs for days: what start-up built lives as long as it."""

from __future__ import annotations

import gc

# Collect the youngest objects after 5000 net allocations (Python's default is 700), the
# middle generation every 10th time, the whole heap every 20th of those. Under 200
# streaming req/s the defaults spent 2.6 s of every 17 in the collector with 100 ms
# pauses; these spend 1.3 s with 50 ms at most (bench/isolation.py, bench/README.md).
THRESHOLDS = (5000, 10, 20)


def settle_heap() -> None:
    """Takes what exists now out of the cyclic collector's sight, and collects less often.

    A full collection scans every tracked object, and the ~100k that start-up makes
    (modules, classes, the screen's widgets and stylesheet) never die: scanning them
    paused the loop for up to 170 ms at a time. Frozen objects are still freed by
    reference counting; only a cycle among them would be kept, so start-up's own garbage
    is collected first. Nearly all of a request's objects die by reference counting, so
    rarer collections keep memory flat (bench/run.py's 100k-request run).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
