"""Answers of the engines (prize engines, raffles, jackpots, tournaments, journeys), the batch and operations.

Like every module of this package, no ``from __future__ import annotations`` (see ``api.responses``).
"""

from typing import Annotated, Literal, NotRequired, TypedDict

from litestar.params import KwargDefinition

from api.responses import EngineStatus, Moment, Money, Reveal

# --- lootboxes and mini-games ------------------------------------------------------------------------


class PrizeSegment(TypedDict):
    label: str
    asset: str
    amount: Money
    weight: int


class Prize(TypedDict):
    segment_label: str
    asset: str
    amount: Money


class Lootbox(TypedDict):
    id: str
    name: str
    prize_table: list[PrizeSegment]
    cost_winz: int
    cooldown_s: int
    status: EngineStatus
    created_at: Moment
    updated_at: Moment


class MiniGame(TypedDict):
    id: str
    name: str
    kind: Literal["wheel", "scratch", "pick"]
    prize_table: list[PrizeSegment]
    cost_winz: int
    status: EngineStatus
    created_at: Moment
    updated_at: Moment


class LootboxOpened(Reveal):
    open_id: str
    lootbox_id: str
    user_id: str
    reward: Prize
    cost_winz: int
    next_server_seed_hash: str
    opened_at: Moment
    deduped: bool


class MiniGamePlayed(Reveal):
    play_id: str
    mini_game_id: str
    kind: Literal["wheel", "scratch", "pick"]
    user_id: str
    outcome: Prize
    cost_winz: int
    next_server_seed_hash: str
    played_at: Moment
    deduped: bool


class PrizeDraw(Reveal):
    """A past open or play, with its seeds revealed."""

    id: str
    user_id: str
    outcome: Prize
    cost_winz: int
    created_at: Moment


class SegmentStats(TypedDict):
    label: str
    weight: int
    observed: int
    expected: float
    observed_share: float
    expected_share: float


class DrawStats(TypedDict):
    id: str
    draws: int
    segments: list[SegmentStats]
    chi_square: float
    degrees_of_freedom: int
    p_value: float
    paid: dict[str, Money]
    cost_collected_winz: int


# --- raffles -----------------------------------------------------------------------------------------


class Raffle(TypedDict):
    id: str
    name: str
    ticket_cost_winz: int
    prize_winz: int
    draw_at: Moment | None
    status: Literal["active", "paused", "archived", "completed"]
    total_tickets: int
    server_seed_hash: str
    server_seed: NotRequired[Annotated[str, KwargDefinition(description="revealed once the raffle is drawn")]]
    created_at: Moment
    updated_at: Moment


class RaffleEntry(TypedDict):
    entry_id: str
    raffle_id: str
    user_id: str
    tickets: int
    first_ticket: int
    last_ticket: int
    cost_winz: int
    created_at: Moment


class RaffleEntered(RaffleEntry):
    deduped: bool


class RaffleDrawn(Reveal):
    draw_id: str
    raffle_id: str
    winner_username: str
    prize_winz: int
    winning_ticket_idx: int
    total_tickets: int
    entries_hash: str
    drawn_at: Moment


# --- jackpots ----------------------------------------------------------------------------------------


class Jackpot(TypedDict):
    id: str
    name: str
    currency: str
    seed_amount: Money
    must_drop_at: Money | None
    pool: Money
    status: EngineStatus
    created_at: Moment
    updated_at: Moment


class JackpotDrop(TypedDict):
    drop_id: str
    jackpot_id: str
    winner_username: str
    currency: str
    amount: Money
    pool_before: Money
    pool_after: Money
    trigger_reason: str
    dropped_at: Moment


class Contribution(TypedDict):
    contribution_id: str
    user_id: str
    source_wager_id: str
    amount: Money
    created_at: Moment


# --- tournaments -------------------------------------------------------------------------------------


class RankPrize(TypedDict):
    rank_from: int
    rank_to: int
    prize_winz: int


class Tournament(TypedDict):
    id: str
    name: str
    starts_at: Moment
    ends_at: Moment
    prizes: list[RankPrize]
    status: Literal["active", "paused", "archived", "closed"]
    created_at: Moment
    updated_at: Moment


class Standing(TypedDict):
    rank: int
    username: str
    points: int


class Leaderboard(TypedDict):
    tournament_id: str
    data: list[Standing]


class Score(TypedDict):
    user_id: str
    source_wager_id: str
    points: int
    created_at: Moment


class Payout(TypedDict):
    rank: int
    username: str
    prize_winz: int


class TournamentClosed(TypedDict):
    tournament_id: str
    payouts: list[Payout]
    total_paid: int
    closed_at: Moment


# --- journeys ----------------------------------------------------------------------------------------


class Step(TypedDict):
    trigger: str
    count: int
    reward_winz: int


class Journey(TypedDict):
    id: str
    name: str
    steps: list[Step]
    reward_winz: int
    status: EngineStatus
    created_at: Moment
    updated_at: Moment


class StepProgress(Step):
    progress: int
    done: bool


class Progress(TypedDict):
    journey_id: str
    user_id: str
    completed: bool
    completed_at: Moment | None
    current_step: Annotated[int | None, KwargDefinition(description="null once the journey is completed")]
    steps: list[StepProgress]


# --- the event pipeline and operations ---------------------------------------------------------------


class Refusal(TypedDict):
    type: str
    status: int
    detail: str
    field: str | None


class EventResult(TypedDict):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    error: NotRequired[Annotated[Refusal, KwargDefinition(description="present when the event is rejected")]]


class BatchResults(TypedDict):
    results: list[EventResult]


class Succeeded(TypedDict):
    """A finished operation, with the answer its call would have given."""

    operation_id: str
    status: Literal["succeeded"]
    result: LootboxOpened | MiniGamePlayed | RaffleEntered | RaffleDrawn | JackpotDrop | TournamentClosed
