"""Long-running processes freeze their start-up heap, so full garbage collections skip it."""

from __future__ import annotations

import gc
from typing import Any

from actors.broker import FreezeStartupHeap, broker


def test_a_worker_freezes_its_start_up_heap_once_it_runs() -> None:
    assert any(isinstance(middleware, FreezeStartupHeap) for middleware in broker.middleware)
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        worker: Any = None  # the hook does not look at the worker
        FreezeStartupHeap().after_worker_boot(broker, worker)
        assert gc.get_freeze_count() > 1000  # modules, models and settings at least
    finally:
        gc.unfreeze()
