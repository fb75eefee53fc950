"""``viral_potential``: will this content spread? (gaming and entertainment)

One row per observation of a piece of content (a post, a video, a clip): the content
(``content_id``: ``post_id``, ``video_id``, ``tweet_id``...), when it was observed (``observed_at``:
``snapshot_time``, ``crawl_time``, ``scraped_at``...) and, where given, when it was posted
(``posted_at``: ``published_at``, ``upload_time``...; else its first observation), its running counts
(``shares``: ``share_count``, ``reposts``, ``retweet_count``; ``views``: ``view_count``, ``plays``;
``likes``; ``comments``), the creator's followers (``creator_followers``: ``follower_count``,
``subscribers``...) and the content type (``content_type``: ``media_type``, ``post_type``...). Every
other column is learned from too (context features).

It labels itself (``self_labelling``): a content is viral when its ``viralMetric`` (shares or views)
reaches ``threshold`` within ``horizonHours`` of posting. Each observation before the horizon whose
count is still below the threshold waits in its content; the first later observation that reaches
the threshold settles them as viral (1.0), and the first observation at or after the horizon settles
them by its count (1.0 at or above the threshold, else 0.0). Observations whose outcome is already
known (past the horizon or the threshold) are scored but not learned from. At most ``MAX_CONTENTS``
contents are followed (the first seen are dropped, counted, unsettled).

Features of an observation, against the content's previous one (heavy-tailed ones logged):

=================================  ==============================================================
``age_hours``, ``age_band``        hours since posting; its band (under 1 h ... 1 day plus), one-hot
``shares``, ``views``, ``likes``,  the running counts, as given
``comments``
``shares_per_hour``,               counts / age: early velocity
``views_per_hour``
``recent_shares_per_hour``         shares since the previous observation / the hours between
``share_rate``                     shares / views
``creator_followers``              as given; ``content_type`` one-hot
``posted_daypart``                 night, morning, afternoon or evening (UTC) of posting, one-hot
=================================  ==============================================================

Output (:class:`ViralOutput`): ``viral_probability``, ``risk_classification`` (here: the chance to
spread, low..critical), ``risk_vectors`` (what pushes it up), ``recommended_protocol``
(``no_action``, ``monitor``, ``seed_distribution``, ``promote_content``), ``confidence`` and the
``horizon_hours`` and ``threshold`` it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

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
)
from tracer.blueprints.protocols import offers_experience
from tracer.blueprints.tasks import (
    BinaryOutput,
    RiskLevel,
    default_binary_model,
    distinct_names,
    driver_name,
    pushing_features,
)

__all__ = ["MAX_CONTENTS", "ContentState", "ViralOutput", "ViralPotential", "simulate_contents"]

MAX_CONTENTS = 200_000
HOUR_S = 3600.0
RISK: tuple[tuple[float, RiskLevel], ...] = ((0.75, "critical"), (0.5, "high"), (0.25, "medium"))
COUNTS = ("shares", "views", "likes", "comments")
AGE_BANDS = ((1.0, "under_1h"), (3.0, "1_3h"), (6.0, "3_6h"), (12.0, "6_12h"), (24.0, "12_24h"))

CONTENT = InputSpec("content_id", "id", "The post, video or clip observed.",
                    ("post_id", "video_id", "tweet_id", "media_id", "clip_id", "content", "status_id"))  # fmt: skip
OBSERVED = InputSpec("observed_at", "timestamp", "When the counts were read.",
                     ("snapshot_time", "observed_time", "crawl_time", "scraped_at", "measured_at", "polled_at"))  # fmt: skip
POSTED = InputSpec("posted_at", "timestamp", "When the content was posted (else its first observation).",
                   ("published_at", "publish_time", "upload_time", "post_time", "posted_time", "upload_date"))  # fmt: skip
SHARES = InputSpec("shares", "numeric", "Shares (reposts, retweets) so far.",
                   ("share_count", "shares_count", "reposts", "repost_count", "retweet_count", "retweets"))  # fmt: skip
VIEWS = InputSpec("views", "numeric", "Views (plays) so far.",
                  ("view_count", "views_count", "plays", "play_count", "video_views"))  # fmt: skip
LIKES = InputSpec("likes", "numeric", "Likes (favourites, reactions) so far.",
                  ("like_count", "likes_count", "favorites", "favorite_count", "reactions"))  # fmt: skip
COMMENTS = InputSpec("comments", "numeric", "Comments (replies) so far.",
                     ("comment_count", "comments_count", "replies", "reply_count"))  # fmt: skip
FOLLOWERS = InputSpec("creator_followers", "numeric", "The creator's followers or subscribers.",
                      ("followers", "follower_count", "followers_count", "subscribers", "subscriber_count",
                       "author_followers", "channel_subscribers"))  # fmt: skip
CONTENT_TYPE = InputSpec("content_type", "categorical", "video, image, text, stream clip...",
                         ("media_type", "post_type", "content_format", "media_format"))  # fmt: skip


class ViralOutput(BinaryOutput):
    """What ``viral_potential`` says about one observation of a content."""

    viral_probability: Annotated[float, Field(ge=0, le=1, description="P(the metric reaches the threshold).")]
    horizon_hours: Annotated[int, Field(gt=0)]
    threshold: Annotated[int, Field(gt=0)]


@dataclass
class _Content:
    posted_s: float
    seen: int = 0
    last_s: float = 0.0
    last_shares: float | None = None
    settled: bool = False
    pending: list[str] = field(default_factory=list)


@dataclass
class ContentState:
    """Followed contents, first seen first, and how many were dropped past ``MAX_CONTENTS``."""

    contents: dict[str, _Content] = field(default_factory=dict)
    dropped: int = 0

    def get(self, record: Record) -> _Content:
        """The record's content, started (posted at ``posted_at`` or now) the first time it is seen."""
        key = str(record["content_id"])
        content = self.contents.get(key)
        if content is None:
            posted = record["posted_at"]
            content = self.contents[key] = _Content(
                float(record["observed_at"] if posted is None else posted)
            )
            while len(self.contents) > MAX_CONTENTS:
                del self.contents[next(iter(self.contents))]
                self.dropped += 1
        return content


def _daypart(epoch_s: float) -> str:
    hour = int(epoch_s // HOUR_S) % 24
    return ("night", "morning", "afternoon", "evening")[hour // 6]


class ViralPotential(Blueprint[ViralOutput, ContentState]):
    """Viral Potential: the probability that a content's shares (or views) pass a threshold in time."""

    id = "viral_potential"
    name = "Viral Potential Predictor"
    category = "gaming_entertainment"
    use_case = (
        "Platforms, studios and creators: from a content's first hours (velocity, creator reach, type, "
        "time posted) the chance it spreads past a threshold, to promote or seed it while it can still grow."
    )
    task = "binary"
    required_inputs = (CONTENT, OBSERVED)
    optional_inputs = (POSTED, SHARES, VIEWS, LIKES, COMMENTS, FOLLOWERS, CONTENT_TYPE)
    learns_context = True
    parameters = (
        ParamSpec("horizonHours", 24, "Hours after posting by which the content must reach the threshold.",
                  (6, 24, 72, 168)),
        ParamSpec("viralMetric", "shares", "The count that must reach the threshold.", ("shares", "views")),
        ParamSpec("threshold", 1000, "The count that makes a content viral.",
                  (100, 500, 1000, 5000, 10000, 100000, 1000000)),
    )  # fmt: skip
    feature_params = frozenset()  # the parameters only settle labels
    self_labelling = True
    label = LabelSpec(
        "1.0 when viralMetric reaches threshold within horizonHours of posting, else 0.0.",
        rule="self-labelled: later observations of the same content reaching the threshold, or at the horizon",
        rule_needs=("content_id", "observed_at"),
    )
    output = OutputSpec(ViralOutput, "probability", "Likelihood that the content passes the threshold in time.",
                        headline="viral_probability", range=(0.0, 1.0))  # fmt: skip
    entity_input = "content_id"
    time_input = "observed_at"
    label_ttl_s = 8 * 86_400.0  # the longest horizon, and a day
    protocols = by_risk(
        low="no_action", medium="monitor", high="seed_distribution", critical="promote_content"
    )
    log1p_features = ("age_hours", *COUNTS, "shares_per_hour", "views_per_hour", "recent_shares_per_hour",
                      "creator_followers")  # fmt: skip
    data_requirements = (
        "Repeated observations of each content (its running shares or views), in time order, from its first "
        "hours to past the horizon: later ones settle earlier predictions. Posting time, creator followers and "
        "content type help; every other usable column is learned from."
    )

    def new_state(self, params: Params) -> ContentState:
        return ContentState()

    def scratch_state(self, state: ContentState, record: Record) -> ContentState:
        """The record's content only (without its pending predictions: featurizing doesn't read them)."""
        seen = state.contents.get(str(record["content_id"]))
        if seen is None:
            return ContentState()
        return ContentState(
            {str(record["content_id"]): _Content(seen.posted_s, seen.seen, seen.last_s, seen.last_shares)}
        )

    def self_labels(self, record: Record, state: ContentState, params: Params) -> list[tuple[str, float]]:
        """Settle the content's waiting predictions if this count reaches the threshold or this
        observation reaches the horizon; else queue this one."""
        content = state.get(record)
        if content.settled:
            return []
        value: float | None = record[str(params["viralMetric"])]
        now, threshold = float(record["observed_at"]), float(params["threshold"])
        past_horizon = now >= content.posted_s + float(params["horizonHours"]) * HOUR_S
        if value is not None and (value >= threshold or past_horizon):
            content.settled = True
            label = float(value >= threshold)
            labels = [(key, label) for key in content.pending]
            content.pending.clear()
            return labels
        if not past_horizon:
            content.pending.append(self.prediction_key(record))
        return []

    def featurize(self, record: Record, state: ContentState, params: Params) -> Features:
        content = state.get(record)
        now = float(record["observed_at"])
        age = max((now - content.posted_s) / HOUR_S, 0.0)
        band = next((name for limit, name in AGE_BANDS if age < limit), "1d_plus")
        features: Features = {
            "age_hours": age,
            "age_band": band,
            "posted_daypart": _daypart(content.posted_s),
        }
        for name in COUNTS:
            if record[name] is not None:
                features[name] = max(record[name], 0.0)
        shares, views = record["shares"], record["views"]
        if shares is not None:
            features["shares_per_hour"] = max(shares, 0.0) / max(age, 0.1)
            if content.seen and content.last_shares is not None and now > content.last_s:
                recent = (shares - content.last_shares) / ((now - content.last_s) / HOUR_S)
                features["recent_shares_per_hour"] = max(recent, 0.0)
            if views is not None:
                features["share_rate"] = min(max(shares, 0.0) / max(views, 1.0), 1.0)
        if views is not None:
            features["views_per_hour"] = max(views, 0.0) / max(age, 0.1)
        if record["creator_followers"] is not None:
            features["creator_followers"] = max(record["creator_followers"], 0.0)
        if record["content_type"] is not None:
            features["content_type"] = str(record["content_type"]).strip().lower()
        if now >= content.last_s or not content.seen:
            content.seen, content.last_s = content.seen + 1, now
            content.last_shares = shares if shares is not None else content.last_shares
        return features

    def make_model(self, params: Params, seed: int) -> OnlineModel:
        """The archive's default online logistic regression (deterministic: ``seed`` changes nothing)."""
        return default_binary_model(self.log1p_features)

    def label_of(self, record: Record, params: Params) -> float | None:
        """None: later observations of the content settle it (``self_labels``)."""
        return None

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> ViralOutput:
        p = min(max(score, 0.0), 1.0)
        risk: RiskLevel = next((level for cut, level in RISK if p >= cut), "low")
        learned = float(model.n_learned) if offers_experience(model) else 0.0
        drivers = distinct_names(
            pushing_features(features, model), lambda name, up: driver_name(name, features.get(name), up), 3
        )
        return ViralOutput(
            viral_probability=p, risk_classification=risk, risk_vectors=drivers,
            recommended_protocol=self.protocols[risk], confidence=abs(2.0 * p - 1.0) * learned / (learned + 100.0),
            horizon_hours=int(params["horizonHours"]), threshold=int(params["threshold"]),
        )  # fmt: skip

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Contents observed at 0.5, 1, 2, 4, 8, 12, 25 and 48 hours after posting, whose shares by 24 h
        grow with the creator's followers, videos and clips, and evening posts, and with a hidden
        quality the first hours' velocity reveals; after 4 h a late lift no one sees coming adds noise."""
        return simulate_contents(n_rows, seed)[0]


_AGES_H = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 25.0, 48.0])


def simulate_contents(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample, and each row's planted log of the shares expected at 24 h (the generator's oracle)."""
    rng = np.random.default_rng(seed)
    n_contents = n_rows // len(_AGES_H) + 60
    start = pd.Timestamp("2024-05-01").timestamp()
    posted = start + np.cumsum(rng.exponential(600.0, n_contents))
    followers = np.round(rng.lognormal(8.0, 1.5, n_contents))
    kind = rng.choice(["video", "image", "text", "clip"], n_contents, p=[0.35, 0.3, 0.2, 0.15])
    evening = (posted // HOUR_S % 24) >= 18
    log_expected = (0.5 * np.log(followers) + 1.6 + 0.6 * np.isin(kind, ["video", "clip"]) - 0.6 * (kind == "text")
                    + 0.5 * evening + rng.normal(0.0, 1.0, n_contents))  # fmt: skip
    tau = 6.0
    curve = (1 - np.exp(-_AGES_H / tau)) / (1 - np.exp(-24.0 / tau))
    steps = np.diff(np.concatenate([[0.0], curve]))
    lift = np.exp(rng.normal(0.0, 0.5, n_contents))[:, None] ** (_AGES_H > 4.0)[None, :]
    expected = np.exp(log_expected)[:, None] * steps[None, :] * lift
    shares = np.cumsum(rng.poisson(expected), axis=1)
    views = np.cumsum(rng.poisson(expected * 30.0 * rng.lognormal(0.0, 0.3, n_contents)[:, None]), axis=1)
    likes = np.cumsum(rng.poisson(expected * 4.0), axis=1)
    rows: dict[str, Any] = {
        "post_id": np.repeat([f"P{seed % 1000:03d}-{i:06d}" for i in range(n_contents)], len(_AGES_H)),
        "snapshot_time": (posted[:, None] + _AGES_H[None, :] * HOUR_S).ravel(),
        "published_at": np.repeat(posted, len(_AGES_H)), "share_count": shares.ravel(),
        "view_count": views.ravel(), "like_count": likes.ravel(),
        "follower_count": np.repeat(followers, len(_AGES_H)), "media_type": np.repeat(kind, len(_AGES_H)),
        "language": np.repeat(rng.choice(["en", "es", "pt", "ja"], n_contents), len(_AGES_H)),
        "oracle": np.repeat(log_expected, len(_AGES_H)),
    }  # fmt: skip
    frame = pd.DataFrame(rows).sort_values("snapshot_time", kind="stable").head(n_rows).reset_index(drop=True)
    for column in ("snapshot_time", "published_at"):
        frame[column] = pd.to_datetime(frame[column], unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    holes = rng.random((len(frame), 2)) < 0.03
    frame.loc[holes[:, 0], "like_count"] = np.nan
    frame.loc[holes[:, 1], "media_type"] = None
    oracle = frame.pop("oracle").to_numpy()
    return frame, oracle
