"""``player_churn``: will this player stop playing, with no session in the next ``inactivityDays``?

Inputs: one row per game session, as the game logs them: ``player_id`` (player, gamer_id,
account_id, user_id...), ``session_start`` (session_time, login_time, session_date...) and
optionally ``session_minutes`` (session_length, playtime, duration...), ``player_level`` (level,
character_level, xp_level...), ``session_purchases`` (purchases, iap_amount, spend...) and
``friends`` (friend_count, friends_count, guild_members...). Every other usable column (platform,
country...) is learned from too.

Features, per player (bounded state: at most ``MAX_PLAYERS``): ``gap_days`` since the previous
session, ``gap_vs_usual`` (that gap over the player's average gap), ``sessions_played``,
``tenure_days``, ``session_minutes`` and ``minutes_vs_usual``, ``player_level`` and
``levels_gained`` since the previous session, ``has_purchased`` (ever) and ``friends``.

Model: the archive's online logistic regression (:func:`~tracer.blueprints.tasks.default_binary_model`).
The label comes from the sessions themselves (:meth:`PlayerChurn.self_labels`): a prediction made at
a session is settled as retained (0.0) by the player's next session within ``inactivityDays``, or as
churned (1.0) as soon as the stream's time passes the session's time plus ``inactivityDays`` without one.

Output (:class:`PlayerChurnOutput`): ``churn_probability`` (the headline), ``risk_classification``,
``risk_vectors`` (the features pushing it up), ``recommended_protocol`` (no_action,
push_notification, personalised_offer, comeback_reward from low to critical), ``confidence`` and
``inactivity_days``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Final

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import (
    Blueprint,
    Features,
    InputSpec,
    LabelSpec,
    OnlineModel,
    OutputSpec,
    Params,
    ParamSpec,
    Record,
    Task,
)
from tracer.blueprints.engines.deadlines import Deadlines
from tracer.blueprints.tasks import (
    MAX_DRIVERS,
    RISK_THRESHOLDS,
    BinaryOutput,
    RiskLevel,
    default_binary_model,
    distinct_names,
    driver_name,
    pushing_features,
)

__all__ = ["PlayerChurn", "PlayerChurnOutput", "PlayerChurnState", "simulate_sessions"]

DAY_S: Final = 86_400.0
MAX_PLAYERS: Final = 1_000_000
"""Players the state remembers; past it the tenth seen longest ago are forgotten (a forgotten player's
pending prediction is never settled, and their next session is featurized as a first one)."""
PROTOCOLS: Final = by_risk(
    low="no_action", medium="push_notification", high="personalised_offer", critical="comeback_reward"
)
LOGGED: Final = ("gap_days", "gap_vs_usual", "sessions_played", "tenure_days", "session_minutes",
                 "minutes_vs_usual", "friends", "levels_gained")  # fmt: skip


class PlayerChurnOutput(BinaryOutput):
    """What ``player_churn`` says about a player after a session."""

    churn_probability: Annotated[
        float, Field(ge=0, le=1, description="P(no session within inactivity_days).")
    ]
    inactivity_days: int


@dataclass
class _Player:
    first_s: float
    last_s: float
    sessions: int = 0
    mean_gap_days: float = 0.0
    mean_minutes: float = 0.0
    level: float | None = None
    purchased: bool = False
    pending: str | None = None  # the key of the prediction made at the last session, until settled


@dataclass
class PlayerChurnState:
    """Each player's summary and open prediction, and when each open prediction turns into churn."""

    players: dict[str, _Player] = field(default_factory=dict)
    deadlines: Deadlines = field(default_factory=Deadlines)


def _input(name: str, dtype: Any, description: str, *synonyms: str) -> InputSpec:
    return InputSpec(name, dtype, description, synonyms)


PLAYER = _input("player_id", "id", "The player.", "player", "gamer_id", "gamer", "player_uuid", "account_id",
                "user_id", "uid", "character_id", "profile_id")  # fmt: skip
SESSION_START = _input("session_start", "timestamp", "When the session started.", "session_time",
                       "session_start_time", "session_date", "login_time", "login_at", "started_at",
                       "session_started_at", "play_date", "event_time")  # fmt: skip
MINUTES = _input("session_minutes", "numeric", "How long the session lasted.", "session_length",
                 "session_duration", "session_length_minutes", "playtime", "play_time", "minutes_played",
                 "duration_minutes")  # fmt: skip
LEVEL = _input("player_level", "numeric", "The player's level at the session.", "level", "character_level",
               "xp_level", "current_level", "rank_level", "stage")  # fmt: skip
PURCHASES = _input("session_purchases", "numeric", "In-game purchases in the session (count or amount).",
                   "purchases", "iap_amount", "in_app_purchases", "iap_count", "purchase_count",
                   "spend_in_session", "gems_bought")  # fmt: skip
FRIENDS = _input("friends", "numeric", "The player's friends (or guild members) in the game.", "friend_count",
                 "friends_count", "num_friends", "guild_members", "social_connections")  # fmt: skip


class PlayerChurn(Blueprint[PlayerChurnOutput, PlayerChurnState]):
    """Player Churn: the probability that a player has no session within the inactivity window."""

    id: ClassVar[str] = "player_churn"
    name: ClassVar[str] = "Player Churn Predictor"
    category: ClassVar[str] = "gaming_entertainment"
    use_case: ClassVar[str] = (
        "Game studios: after every session, the probability that the player does not come back within the "
        "inactivity window, with the reasons, so live-ops can nudge or reward them in time."
    )
    task: ClassVar[Task] = "binary"
    required_inputs: ClassVar[tuple[InputSpec, ...]] = (PLAYER, SESSION_START)
    optional_inputs: ClassVar[tuple[InputSpec, ...]] = (MINUTES, LEVEL, PURCHASES, FRIENDS)
    parameters: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("inactivityDays", 7, "Days without a session after which a player counts as churned.",
                  (3, 7, 14, 30)),
    )  # fmt: skip
    feature_params = frozenset()  # the window settles labels and names the output, never the features
    self_labelling = True
    learns_context = True
    label_ttl_s: ClassVar[float] = 45 * DAY_S  # covers the longest window
    label: ClassVar[LabelSpec] = LabelSpec(
        "1.0 if the player has no session within inactivityDays after this one, else 0.0.",
        rule="self-labelled: the player's next session within inactivityDays settles 0.0; the stream's time "
        "passing the window without one settles 1.0",
        rule_needs=("player_id", "session_start"),
    )
    output: ClassVar[OutputSpec] = OutputSpec(
        PlayerChurnOutput, "probability", "Likelihood that the player stops playing (no session in the window).",
        headline="churn_probability", range=(0.0, 1.0),
    )  # fmt: skip
    entity_input: ClassVar[str] = "player_id"
    time_input: ClassVar[str | None] = "session_start"
    drift_exempt_features = ("tenure_days",)
    data_requirements: ClassVar[str] = (
        "Game sessions as they happen, one row each with the player and the session's start; length, "
        "level, purchases and friends where the game logs them. A label comes inactivityDays later at most."
    )

    def new_state(self, params: Params) -> PlayerChurnState:
        return PlayerChurnState()

    def scratch_state(self, state: PlayerChurnState, record: Record) -> PlayerChurnState:
        """The record's player only (featurize reads nothing else)."""
        found = state.players.get(str(record["player_id"]))
        if found is None:
            return PlayerChurnState()
        copy = _Player(found.first_s, found.last_s, found.sessions, found.mean_gap_days, found.mean_minutes,
                       found.level, found.purchased)  # fmt: skip
        return PlayerChurnState({str(record["player_id"]): copy})

    def featurize(self, record: Record, state: PlayerChurnState, params: Params) -> Features:
        """The session against the player's history; then the session joins it."""
        now, name = float(record["session_start"]), str(record["player_id"])
        player = state.players.get(name)
        if player is None:
            player = state.players[name] = _Player(now, now)
            if len(state.players) > MAX_PLAYERS:
                _forget_oldest(state)
        minutes, level, bought = (
            record["session_minutes"],
            record["player_level"],
            record["session_purchases"],
        )
        friends = record["friends"]
        gap = max(now - player.last_s, 0.0) / DAY_S
        features: Features = {
            "sessions_played": float(player.sessions),
            "tenure_days": (now - player.first_s) / DAY_S,
        }
        if player.sessions:
            features["gap_days"] = gap
            if player.sessions > 1:
                features["gap_vs_usual"] = gap / max(player.mean_gap_days, 0.05)
        if minutes is not None:
            features["session_minutes"] = max(minutes, 0.0)
            if player.sessions:
                features["minutes_vs_usual"] = max(minutes, 0.0) / max(player.mean_minutes, 1.0)
        if level is not None:
            features["player_level"] = level
            if player.level is not None:
                features["levels_gained"] = max(level - player.level, 0.0)
            player.level = level
        player.purchased = player.purchased or (bought is not None and bought > 0)
        features["has_purchased"] = float(player.purchased)
        if friends is not None:
            features["friends"] = max(friends, 0.0)
        if player.sessions:
            player.mean_gap_days += (gap - player.mean_gap_days) / player.sessions
        if minutes is not None:
            player.mean_minutes += (max(minutes, 0.0) - player.mean_minutes) / (player.sessions + 1)
        player.sessions += 1
        player.last_s = max(player.last_s, now)
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """Deterministic (zero-initialised, no sampling): ``seed`` changes nothing."""
        return default_binary_model(LOGGED)

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: a session carries no outcome of its own; later sessions and time settle it (``self_labels``)."""
        return None

    def self_labels(self, record: Record, state: PlayerChurnState, params: Params) -> list[tuple[str, float]]:
        """Churned (1.0) for every open prediction whose window ended before this session's time; retained
        (0.0) for this player's open one; then this session's prediction opens. Called before ``featurize``."""
        now, window = float(record["session_start"]), _window(params) * DAY_S
        labels: list[tuple[str, float]] = []
        for name, key in state.deadlines.passed(now):
            player = state.players.get(name)
            if player is not None and player.pending == key:
                labels.append((key, 1.0))
                player.pending = None
        name, key = str(record["player_id"]), self.prediction_key(record)
        player = state.players.get(name)
        if player is None:
            player = state.players[name] = _Player(now, now)  # featurize goes on from here
            if len(state.players) > MAX_PLAYERS:
                _forget_oldest(state)
        if player.pending is not None and player.pending != key:
            labels.append((player.pending, 0.0))
        if player.pending != key:
            state.deadlines.add(now + window, name, key)
        player.pending = key
        return labels

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> PlayerChurnOutput:
        probability = min(max(score, 0.0), 1.0) if score == score else 0.5
        risk: RiskLevel = next((level for cut, level in RISK_THRESHOLDS if probability >= cut), "low")
        learned = float(getattr(model, "n_learned", 0))
        return PlayerChurnOutput(
            churn_probability=probability,
            risk_classification=risk,
            risk_vectors=distinct_names(
                pushing_features(features, model),
                lambda feature, rising: driver_name(feature, features.get(feature), rising),
                MAX_DRIVERS,
            ),
            recommended_protocol=PROTOCOLS[risk],
            confidence=abs(2.0 * probability - 1.0) * learned / (learned + 100.0),
            inactivity_days=_window(params),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Sessions of players who quit after a session with the planted odds of
        :func:`simulate_sessions` (``true_churn_probability`` dropped)."""
        return simulate_sessions(n_rows, seed).drop(columns=["true_churn_probability"])


def simulate_sessions(n_rows: int, seed: int) -> pd.DataFrame:
    """Sessions over about 180 days of players joining all along. After each session a player quits for
    good with a planted probability (``true_churn_probability``, the ceiling a model can reach), else
    comes back within 7 days (a 3-day window settles some of those as churned). The odds rise with the
    gap since the previous session, a short session, no level gained (stuck) and few sessions played, and fall with
    friends, a purchase ever and playing on pc (a context column). About 3% of levels are blank."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list[Any]] = {k: [] for k in ("player_id", "t", "session_minutes", "level", "purchases",
                                                      "friends", "platform", "true_churn_probability")}  # fmt: skip
    players = 0
    while len(columns["t"]) < n_rows * 1.15 + 50:
        players += 1
        day, level, bought, sessions = rng.uniform(0, 180), 1.0, False, 0
        friends = float(rng.poisson(rng.choice([0.5, 4.0, 15.0])))
        platform = str(rng.choice(["ios", "android", "pc"], p=[0.4, 0.4, 0.2]))
        usual_gap, usual_minutes = rng.gamma(2.0, 0.6), rng.gamma(3.0, 12.0)
        gap = 0.0
        while day < 180:
            minutes = float(np.round(usual_minutes * rng.lognormal(0.0, 0.5), 1))
            gained = float(rng.random() < 0.5)
            level += gained
            bought = bought or rng.random() < 0.05
            spend = float(rng.choice([0.99, 4.99, 9.99])) if bought and rng.random() < 0.2 else 0.0
            logit = (0.2 + 0.9 * np.log1p(gap) - 0.5 * (np.log1p(minutes) - 3.5) - 0.7 * gained
                     - 0.45 * np.log1p(friends) - 0.9 * bought - 0.5 * np.log1p(sessions) - 0.6 * (platform == "pc"))  # fmt: skip
            p = 1.0 / (1.0 + np.exp(-logit))
            for key, value in (("player_id", f"P{seed % 100:02d}{players:06d}"), ("t", day), ("session_minutes", minutes),
                               ("level", level), ("purchases", spend), ("friends", friends), ("platform", platform),
                               ("true_churn_probability", p)):  # fmt: skip
                columns[key].append(value)
            sessions += 1
            if rng.random() < p:
                break
            gap = min(rng.exponential(usual_gap), 6.9)
            day += gap
    frame: Any = pd.DataFrame(columns).sort_values("t", kind="stable").head(n_rows)
    start = pd.Timestamp("2024-01-01")
    frame.insert(
        1, "session_start", (start + pd.to_timedelta(frame.pop("t"), unit="D")).dt.strftime("%Y-%m-%d %H:%M")
    )
    frame.loc[rng.random(len(frame)) < 0.03, "level"] = np.nan
    return frame.reset_index(drop=True)


def _window(params: Params) -> int:
    return int(float(params.get("inactivityDays", 7) or 7))


def _forget_oldest(state: PlayerChurnState) -> None:
    by_last = sorted(state.players, key=lambda name: state.players[name].last_s)
    for name in by_last[: len(by_last) // 10]:
        del state.players[name]
