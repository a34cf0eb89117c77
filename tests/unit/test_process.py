"""Long-running processes freeze their start-up heap (full collections skip it) and collect young objects less often."""

from __future__ import annotations

import gc
from typing import Any

from actors.broker import FreezeStartupHeap, broker
from config.process import YOUNG_COLLECTION_THRESHOLD


def test_a_worker_freezes_its_start_up_heap_and_collects_less_often_once_it_runs() -> None:
    assert any(isinstance(middleware, FreezeStartupHeap) for middleware in broker.middleware)
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        assert gc.get_freeze_count() == 0
        worker: Any = None  # the hook does not look at the worker
        FreezeStartupHeap().after_worker_boot(broker, worker)
        assert gc.get_freeze_count() > 1000  # modules, models and settings at least
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
