"""``KeptReads`` stays bounded: past ``KEPT_AT_MOST`` rows of a kind it forgets them all and reads again."""

from __future__ import annotations

from models.prize_engines import KEPT_AT_MOST, KeptReads, Lootbox


def _box(n: int) -> Lootbox:
    return Lootbox(id=f"box{n}", tenant_id="t", brand_id="b", mode="live", name="box", prize_table=[])


def test_engines_past_the_bound_are_forgotten_before_the_next_is_kept() -> None:
    kept = KeptReads()
    for n in range(KEPT_AT_MOST):
        kept.keep_engine(("lootbox", "t", "live", "b", f"box{n}"), _box(n))
    assert len(kept.engines) == KEPT_AT_MOST
    kept.keep_engine(("lootbox", "t", "live", "b", "one-more"), _box(-1))
    assert list(kept.engines) == [("lootbox", "t", "live", "b", "one-more")]


def test_endpoints_past_the_bound_are_forgotten_before_the_next_are_kept() -> None:
    kept = KeptReads()
    kept.keep_subscribers({(f"t{n}", "live"): [] for n in range(KEPT_AT_MOST)})
    kept.keep_subscribers({("t1", "live"): [("endpoint", ["lootbox.*"])]})  # read again: nothing more to keep
    assert len(kept.subscribers) == KEPT_AT_MOST and kept.subscribers[("t1", "live")] == [("endpoint", ["lootbox.*"])]
    kept.keep_subscribers({("t0", "test"): [("endpoint", ["lootbox.*"])]})
    assert kept.subscribers == {("t0", "test"): [("endpoint", ["lootbox.*"])]}
    kept.forget()
    assert kept.subscribers == {} and kept.engines == {}
