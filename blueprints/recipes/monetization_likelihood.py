"""``monetization_likelihood``: will this player make a first purchase (gaming and entertainment)?

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification`: one row per player (or player
snapshot) who has not paid yet, its outcome (a first purchase, yes/no) learned when it arrives on
``tracer.labels``, often days later (delayed label). Every other column is learned from too (context
features: country, acquisition channel, device...). The recipe reads, where it finds them (all
optional; synonyms in brackets):

- player id (``user_id``, ``gamer_id``, ``uid``...), platform (``os``, ``device_os``, ``store``);
- engagement: sessions (``session_count``, ``total_sessions``...), playtime in minutes
  (``total_playtime``, ``minutes_played``...), level (``player_level``, ``max_level``...), days since
  install (``install_age_days``, ``days_since_first_open``...), rewarded ads watched
  (``ad_views``, ``rewarded_ads``...), friends (``friends_count``, ``social_connections``...).

The features, as a live-ops analyst reads a player (heavy-tailed ones logged before scaling):

=========================  ======================================================
``sessions_per_day``       sessions / days since install (at least one day)
``minutes_per_session``    playtime / sessions: depth of play
``levels_per_day``         level / days since install: progression speed
``ads_per_session``        rewarded ads / sessions: a free player's habit
``friends``                the social graph, as given
``days_since_install``     as given; ``platform`` one-hot
=========================  ======================================================

Label: the ``converted_to_payer`` column (``is_payer``, ``first_purchase``, ``made_purchase``,
``has_paid``, ``payer``...): yes/no, 1/0, or ``payer``/``non_payer``.

Output (:class:`MonetizationOutput`): ``payer_probability``, ``risk_classification`` (here: the
chance to pay, low..critical), ``risk_vectors`` (what pushes it up), ``recommended_protocol``
(``rewarded_ads``, ``personalised_offer``, ``starter_pack_offer``, ``premium_offer``: offers the
composite engine can price) and ``confidence``.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OutputSpec, Params, Record
from tracer.blueprints.tasks import BinaryClassification, BinaryOutput

__all__ = ["MonetizationLikelihood", "MonetizationOutput", "simulate_players"]

PLAYER = InputSpec("player_id", "id", "The player (or account) the row is about.",
                   ("user_id", "gamer_id", "uid", "player", "playerid", "game_user_id"))  # fmt: skip
PLATFORM = InputSpec("platform", "categorical", "Where the player plays: ios, android, pc, console.",
                     ("os", "device_os", "store", "app_store", "device_platform"))  # fmt: skip
SESSIONS = InputSpec("sessions", "numeric", "Sessions played since install.",
                     ("session_count", "sessions_count", "total_sessions", "num_sessions", "n_sessions"))  # fmt: skip
PLAYTIME = InputSpec("playtime_minutes", "numeric", "Minutes played since install.",
                     ("playtime", "total_playtime", "minutes_played", "time_played", "play_time", "playtime_min"))  # fmt: skip
LEVEL = InputSpec("level", "numeric", "The level (or stage) the player has reached.",
                  ("player_level", "max_level", "level_reached", "current_level", "stage_reached"))  # fmt: skip
INSTALL_AGE = InputSpec("days_since_install", "numeric", "Days since the player installed the game.",
                        ("install_age_days", "days_installed", "days_since_first_open", "install_days", "player_age_days"))  # fmt: skip
ADS = InputSpec("ads_watched", "numeric", "Rewarded (or other) ads the player has watched.",
                ("ad_views", "ads_viewed", "rewarded_ads", "rewarded_ads_watched", "ad_impressions"))  # fmt: skip
FRIENDS = InputSpec("friends", "numeric", "The player's friends, guild mates or followers in the game.",
                    ("friends_count", "friend_count", "social_connections", "num_friends", "guild_members"))  # fmt: skip
PAID = InputSpec(
    "converted_to_payer", "categorical", "Whether the player made a first purchase: yes/no, 1/0, payer/non_payer.",
    ("is_payer", "payer", "first_purchase", "made_purchase", "has_paid", "paid", "became_payer", "is_spender",
     "iap_purchase", "monetized"),
)  # fmt: skip


class MonetizationOutput(BinaryOutput):
    """What ``monetization_likelihood`` says about one player."""

    payer_probability: Annotated[float, Field(ge=0, le=1, description="P(a first purchase).")]


class MonetizationLikelihood(BinaryClassification[MonetizationOutput]):
    """Monetization Likelihood: the probability that a free player makes a first purchase."""

    id = "monetization_likelihood"
    name = "Monetization Likelihood"
    category = "gaming_entertainment"
    use_case = (
        "Games and apps with in-app purchases: find the free players most likely to pay for the first "
        "time, and show each the offer that fits (a starter pack, a personalised bundle)."
    )
    optional_inputs = (PLAYER, PLATFORM, SESSIONS, PLAYTIME, LEVEL, INSTALL_AGE, ADS, FRIENDS, PAID)
    positive_labels = BinaryClassification.positive_labels | {"payer", "paid", "converted", "spender"}
    negative_labels = BinaryClassification.negative_labels | {"non_payer", "nonpayer", "free", "not_paid"}
    protocols = by_risk(
        low="rewarded_ads", medium="personalised_offer", high="starter_pack_offer", critical="premium_offer"
    )
    label = LabelSpec("The 'converted_to_payer' column: yes/no, 1/0, or payer/non_payer.", column=PAID)
    output = OutputSpec(MonetizationOutput, "probability", "Likelihood that the player makes a first purchase.",
                        headline="payer_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "player_id"
    label_ttl_s = 60 * 86_400.0  # a first purchase is known days or weeks later
    log1p_features = ("sessions_per_day", "minutes_per_session", "levels_per_day", "ads_per_session",
                      "friends", "days_since_install")  # fmt: skip
    data_requirements = (
        "One row per player who has not paid yet, with whether they made a first purchase (or outcomes "
        "arriving later as labels); every usable column is learned from. Sessions, playtime, level, days "
        "since install, ads watched and friends add the rates a live-ops team reads first."
    )

    def features(self, record: Record, params: Params) -> Features:
        days = record["days_since_install"]
        span = max(days if days is not None else 1.0, 1.0)
        sessions: float | None = record["sessions"]
        features: Features = {}
        if days is not None:
            features["days_since_install"] = max(days, 0.0)
        if sessions is not None:
            features["sessions_per_day"] = max(sessions, 0.0) / span
        per_session = max(sessions, 1.0) if sessions is not None else None
        if record["playtime_minutes"] is not None and per_session is not None:
            features["minutes_per_session"] = max(record["playtime_minutes"], 0.0) / per_session
        if record["level"] is not None:
            features["levels_per_day"] = max(record["level"], 0.0) / span
        if record["ads_watched"] is not None and per_session is not None:
            features["ads_per_session"] = max(record["ads_watched"], 0.0) / per_session
        if record["friends"] is not None:
            features["friends"] = max(record["friends"], 0.0)
        if record["platform"] is not None:
            features["platform"] = str(record["platform"]).strip().lower()
        return features

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Free players whose odds of a first purchase rise with sessions a day, depth of play,
        progression speed, friends and iOS, and fall with the rewarded-ads habit. About 3% of values
        are missing; ``acquisition_channel`` and ``country`` carry effects of their own (context)."""
        return simulate_players(n_rows, seed)[0]


def simulate_players(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample and each row's planted probability of paying (the generator's ceiling)."""
    rng = np.random.default_rng(seed)
    days = rng.integers(1, 61, n_rows).astype(float)
    engagement = rng.normal(0.0, 1.0, n_rows)
    sessions = rng.poisson(days * np.exp(0.2 + 0.5 * engagement)).astype(float)
    minutes = (sessions * rng.lognormal(2.3 + 0.2 * engagement, 0.4)).round(0)
    level = np.floor(np.sqrt(minutes) * rng.uniform(0.5, 1.5, n_rows))
    ads = rng.poisson(sessions * rng.uniform(0.0, 1.5, n_rows)).astype(float)
    friends = rng.poisson(np.exp(0.5 + 0.6 * rng.normal(0.0, 1.0, n_rows))).astype(float)
    platform = rng.choice(["android", "ios", "pc"], n_rows, p=[0.55, 0.35, 0.10])
    country = rng.choice(["US", "DE", "BR", "IN", "JP"], n_rows, p=[0.3, 0.15, 0.2, 0.25, 0.1])
    channel = rng.choice(["organic", "paid_social", "cross_promo"], n_rows, p=[0.5, 0.35, 0.15])
    per_session = np.maximum(sessions, 1.0)
    logit = (-5.6 + 1.3 * np.log1p(sessions / days) + 0.6 * np.log1p(minutes / per_session)
             + 0.8 * np.log1p(level / days) - 1.2 * np.log1p(ads / per_session) + 0.5 * np.log1p(friends)
             + 0.7 * (platform == "ios") + 0.6 * np.isin(country, ["US", "JP"]) - 0.6 * (country == "IN")
             + 0.4 * (channel == "paid_social"))  # fmt: skip
    probability = 1.0 / (1.0 + np.exp(-logit))
    paid = rng.random(n_rows) < probability
    rows: dict[str, Any] = {
        "user_id": [f"U{seed % 1000:03d}-{i:06d}" for i in range(n_rows)], "platform": platform,
        "country": country, "acquisition_channel": channel, "days_since_install": days,
        "session_count": sessions, "total_playtime": minutes, "player_level": level, "ads_watched": ads,
        "friends_count": friends, "is_payer": np.where(paid, "yes", "no"),
    }  # fmt: skip
    frame = pd.DataFrame(rows)
    holes = rng.random((n_rows, 3)) < 0.03
    frame.loc[holes[:, 0], "total_playtime"] = np.nan
    frame.loc[holes[:, 1], "friends_count"] = np.nan
    frame.loc[holes[:, 2], "platform"] = None
    return frame, probability
