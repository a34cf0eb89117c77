"""Once a long-running process has started: keep its start-up objects out of the garbage collector's way."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect once, then move every object still alive (modules, models, mappers, settings) into the
    collector's permanent generation, which its full collections no longer walk.

    A full collection walks every tracked object, and a process's start-up heap is most of them: in a
    draws worker these pauses made the slowest 1 % of lootbox opens (p99 87 to 95 ms against 56 to 61 ms
    with the start-up heap frozen, same session and load).
    """
    gc.collect()
    gc.freeze()
