"""``content_engagement``: will this user engage with (watch, finish) this piece of content (issue 19).

A recipe on :class:`~tracer.blueprints.tasks.BinaryClassification`: one row per impression (a title
shown or offered to a user), scored when it is shown; its outcome (engaged: watched or finished, or
not) arrives when the session ends, on ``tracer.labels``. Every other column is learned from
(context features: subscription, country, release year...). The recipe reads, where it finds them
(all optional; synonyms in brackets):

- the user (``viewer_id``, ``subscriber_id``, ``profile_id``...) and the content (``video_id``,
  ``title_id``, ``movie_id``, ``show_id``...), its genre and duration (``runtime``,
  ``duration_min``, ``video_length``...) and its average rating (``avg_rating``, ``imdb_rating``...);
- the user's past engagement with the genre (``genre_affinity``, ``genre_completion_rate``...) and
  overall (``user_completion_rate``...), a fraction or a percent;
- when and where: the hour or a daypart (``hour_of_day``, ``time_of_day``...: a number 0-23 or a
  word such as ``evening``), the device (``device_type``...), and the recommendation rank or slot
  it was shown at (``rec_rank``, ``position``, ``slot``...).

The features, as a programmer reads an impression:

===========================  =================================================================
``genre_affinity``           the user's past engagement with the genre, a fraction (35 = 35%)
``user_completion_rate``     the user's past engagement overall, a fraction
``duration_min``             as given (logged); ``long_on_small_screen``: 1 for 90 minutes or
                             more on a phone or mobile device
``recommendation_rank``      as given (logged); ``top_slot``: 1 for the first three
``avg_rating``               as given
``prime_time``, ``late_night``  1 from 18:00 to 23:59, 1 from 0:00 to 5:59; else ``daypart``
``genre``, ``device``        the values, one-hot
===========================  =================================================================

Label: the ``engaged`` column (``watched``, ``completed``, ``finished``, ``watched_to_end``,
``is_engaged``...): yes/no, 1/0, true/false or words such as ``watched``/``skipped``.

Output (:class:`EngagementOutput`): ``engagement_probability``; ``expected_watch_minutes``
(probability x duration: the minutes to expect when engaging means watching to the end; derived,
not learned, since the label is yes/no; None without a duration); ``risk_classification`` (here:
the chance to engage, low..critical), ``risk_vectors`` (what pushes it up), ``recommended_protocol``
(do_not_recommend, recommend, feature_prominently) and ``confidence``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field

from tracer.blueprints.actions import by_risk
from tracer.blueprints.base import Features, InputSpec, LabelSpec, OnlineModel, OutputSpec, Params, Record
from tracer.blueprints.tasks import BinaryClassification, BinaryOutput

__all__ = ["ContentEngagement", "EngagementOutput", "parse_hour", "planted_logit"]

LONG_MINUTES = 90.0
TOP_SLOTS = 3.0
SMALL_SCREENS = frozenset({"mobile", "phone", "smartphone", "iphone", "android"})

USER = InputSpec("user_id", "id", "The user or viewer the content is shown to.",
                 ("viewer_id", "subscriber_id", "profile_id", "member_id", "userid", "viewer", "account_profile"))  # fmt: skip
CONTENT = InputSpec("content_id", "id", "The title, video or episode shown.",
                    ("video_id", "title_id", "movie_id", "show_id", "episode_id", "asset_id", "program_id",
                     "movieid", "item_id"))  # fmt: skip
GENRE = InputSpec("genre", "categorical", "The content's genre.",
                  ("genres", "content_genre", "primary_genre", "genre_name", "content_type"))  # fmt: skip
DURATION = InputSpec("duration_min", "numeric", "The content's length in minutes.",
                     ("duration", "runtime", "content_duration", "length_minutes", "video_length", "length",
                      "runtime_minutes", "duration_minutes"))  # fmt: skip
RATING = InputSpec("avg_rating", "numeric", "The content's average rating.",
                   ("average_rating", "imdb_rating", "content_rating_score", "mean_rating", "star_rating"))  # fmt: skip
AFFINITY = InputSpec("genre_affinity", "numeric", "The user's past engagement with the genre: a fraction or a percent.",
                     ("genre_completion_rate", "user_genre_engagement", "past_genre_engagement", "genre_watch_share",
                      "genre_preference", "genre_score"))  # fmt: skip
COMPLETION = InputSpec("user_completion_rate", "numeric", "The user's past engagement overall: a fraction or a percent.",
                       ("past_completion_rate", "avg_completion_rate", "user_engagement_rate", "completion_history",
                        "historical_completion"))  # fmt: skip
HOUR = InputSpec("hour_of_day", "categorical", "When it was shown: an hour 0-23 or a daypart word.",
                 ("hour", "time_of_day", "watch_hour", "start_hour", "daypart", "session_hour", "impression_hour"))  # fmt: skip
DEVICE = InputSpec("device", "categorical", "The device it was shown on.",
                   ("device_type", "device_category", "client_device", "playback_device", "viewing_device"))  # fmt: skip
RANK = InputSpec("recommendation_rank", "numeric", "The rank or slot it was recommended at (1 = first).",
                 ("rec_rank", "rank", "position", "slot", "row_position", "recommendation_position",
                  "display_rank", "carousel_position"))  # fmt: skip
ENGAGED = InputSpec(
    "engaged", "categorical", "Whether the user engaged: yes/no, 1/0, true/false or watched/skipped.",
    ("watched", "completed", "finished", "watched_to_end", "is_engaged", "engagement", "did_watch",
     "played", "viewed", "completion_flag", "engaged_flag"),
)  # fmt: skip


def parse_hour(text: str | None) -> float | None:
    """An hour 0..23 from ``"21"``, ``"21:30"`` or ``"9.5"``; None for a word or nothing.

    >>> parse_hour("21:30"), parse_hour("7"), parse_hour("evening"), parse_hour("25")
    (21.0, 7.0, None, None)
    """
    head = (text or "").strip().split(":")[0]
    try:
        hour = float(head)
    except ValueError:
        return None
    return float(int(hour)) if 0.0 <= hour < 24.0 else None


class EngagementOutput(BinaryOutput):
    """What ``content_engagement`` says about one impression."""

    engagement_probability: Annotated[float, Field(ge=0, le=1, description="P(the user engages).")]
    expected_watch_minutes: float | None = Field(
        default=None, ge=0, description="engagement_probability x duration (derived, not learned)."
    )


class ContentEngagement(BinaryClassification[EngagementOutput]):
    """Content Engagement: the probability that a user watches or finishes a title shown to them."""

    id = "content_engagement"
    name = "Content Engagement"
    category = "gaming_entertainment"
    use_case = "Streaming and media services: what each user will watch, to rank what to recommend."
    optional_inputs = (
        USER,
        CONTENT,
        GENRE,
        DURATION,
        RATING,
        AFFINITY,
        COMPLETION,
        HOUR,
        DEVICE,
        RANK,
        ENGAGED,
    )
    positive_labels = BinaryClassification.positive_labels | {
        "engaged",
        "watched",
        "completed",
        "finished",
        "played",
    }
    negative_labels = BinaryClassification.negative_labels | {
        "skipped",
        "abandoned",
        "not_watched",
        "ignored",
    }
    protocols = by_risk(
        low="do_not_recommend", medium="recommend", high="recommend", critical="feature_prominently"
    )
    label = LabelSpec("The 'engaged' column: yes/no, 1/0, true/false or watched/skipped.", column=ENGAGED)
    output = OutputSpec(EngagementOutput, "probability", "Likelihood that the user engages with the content.",
                        headline="engagement_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "user_id"
    log1p_features = ("duration_min", "recommendation_rank")
    data_requirements = (
        "One row per impression (a title shown to a user) with its outcome (engaged: watched or finished) "
        "to learn from, or outcomes arriving as labels when the session ends; every usable column is "
        "learned from. Genre, duration, the user's past engagement, time of day, device and recommendation "
        "rank add the features programmers read first."
    )

    def features(self, record: Record, params: Params) -> Features:
        features: Features = {}
        for name in ("genre_affinity", "user_completion_rate"):
            if record[name] is not None:
                value = record[name]
                features[name] = min(max(value / 100.0 if value > 1.0 else value, 0.0), 1.0)
        duration, device = record["duration_min"], record["device"]
        if duration is not None:
            features["duration_min"] = max(duration, 0.0)
            if device is not None:
                small = device.strip().lower() in SMALL_SCREENS
                features["long_on_small_screen"] = float(small and duration >= LONG_MINUTES)
        if record["recommendation_rank"] is not None:
            rank = max(record["recommendation_rank"], 1.0)
            features["recommendation_rank"] = rank
            features["top_slot"] = float(rank <= TOP_SLOTS)
        if record["avg_rating"] is not None:
            features["avg_rating"] = record["avg_rating"]
        when = record["hour_of_day"]
        hour = parse_hour(when)
        if hour is not None:
            features["prime_time"] = float(hour >= 18.0)
            features["late_night"] = float(hour < 6.0)
        elif when is not None:
            features["daypart"] = when.strip().lower()
        for name in ("genre", "device"):
            if record[name] is not None:
                features[name] = record[name]
        return features

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> EngagementOutput:
        output = super().postprocess(score, features, model, params)
        duration = features.get("duration_min")
        if not isinstance(duration, float):
            return output
        return output.model_copy(update={"expected_watch_minutes": output.engagement_probability * duration})

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Titles shown to the users of a streaming service, who engage more with genres they have
        finished before, when they finish most of what they start, with a top recommendation slot, a
        well-rated title, in the evening, on a TV and on a premium plan (a column the recipe doesn't
        read: context), and less with a long film on a phone (:func:`planted_logit`). About 3% of
        values are missing; new users have no past engagement."""
        rng = np.random.default_rng(seed)
        users = max(n_rows // 20, 5)
        user = rng.integers(0, users, n_rows)
        habit = rng.beta(2.5, 2.5, users)
        genre = rng.choice(list(GENRE_LIFT), n_rows)
        rows: dict[str, Any] = {
            "Viewer ID": [f"V{seed % 1000:03d}-{u:05d}" for u in user],
            "Title ID": [f"T{t:05d}" for t in rng.integers(0, 3000, n_rows)],
            "Genre": genre,
            "Runtime": np.where(np.isin(genre, ["Drama", "Action", "Horror"]), rng.normal(110, 20, n_rows),
                                rng.choice([22.0, 45.0, 60.0, 95.0], n_rows)).round(0),
            "Avg Rating": rng.normal(3.5, 0.6, n_rows).clip(1, 5).round(1),
            "Genre Affinity": np.clip(rng.beta(2, 3, n_rows) + 0.3 * (habit[user] - 0.5), 0, 1).round(3),
            "User Completion Rate": np.clip(habit[user] + rng.normal(0, 0.05, n_rows), 0, 1).round(3),
            "Hour": rng.choice(24, n_rows, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()),
            "Device Type": rng.choice(["TV", "Mobile", "Tablet", "Web"], n_rows, p=[0.45, 0.3, 0.1, 0.15]),
            "Rec Rank": rng.integers(1, 41, n_rows),
            "Subscription": rng.choice(["Basic", "Standard", "Premium"], n_rows, p=[0.4, 0.4, 0.2]),
            "Country": rng.choice(["US", "UK", "BR", "IN", "DE"], n_rows),
        }  # fmt: skip
        frame = pd.DataFrame(rows)
        new_user = rng.random(n_rows) < 0.05
        frame.loc[new_user, ["Genre Affinity", "User Completion Rate"]] = math.nan
        frame["Watched"] = np.where(
            rng.random(n_rows) < 1.0 / (1.0 + np.exp(-planted_logit(frame))), "Yes", "No"
        )
        holes = rng.random((n_rows, 2)) < 0.03
        frame.loc[holes[:, 0], "Avg Rating"] = math.nan
        frame.loc[holes[:, 1], "Device Type"] = None
        return frame


GENRE_LIFT = {"Drama": 0.0, "Comedy": 0.3, "Action": 0.2, "Documentary": -0.5, "Kids": 0.1, "Horror": -0.3,
              "Reality": -0.1}  # fmt: skip
HOUR_WEIGHTS = np.array(
    [2, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 5, 7, 9, 10, 10, 8, 5], dtype=float
)


def planted_logit(frame: pd.DataFrame) -> np.ndarray:
    """The log-odds :meth:`ContentEngagement.sample` draws ``Watched`` from, read from its columns (NaN
    where a value it reads was blanked; a new user's missing history counts as 0.3): the ceiling a
    model of the sample can reach."""
    affinity = frame["Genre Affinity"].fillna(0.3)
    completion = frame["User Completion Rate"].fillna(0.3)
    device = frame["Device Type"]
    logit = (-0.7 + 3.0 * (affinity - 0.4) + 2.0 * (completion - 0.5) - 0.5 * np.log(frame["Rec Rank"])
             + 0.8 * (frame["Rec Rank"] <= TOP_SLOTS) + 0.7 * (frame["Avg Rating"] - 3.5)
             + 0.4 * (frame["Hour"] >= 18) - 0.3 * (frame["Hour"] < 6) + frame["Genre"].map(GENRE_LIFT)
             + 0.3 * (device == "TV") - 1.0 * ((device == "Mobile") & (frame["Runtime"] >= LONG_MINUTES))
             + 0.4 * (frame["Subscription"] == "Premium") + np.where(device.isna(), np.nan, 0.0))  # fmt: skip
    return np.asarray(logit, dtype=np.float64)
