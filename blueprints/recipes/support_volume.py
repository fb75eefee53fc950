"""``support_volume``: how many tickets or calls the next interval brings, per queue, for staffing.

The question: how many contacts (tickets, calls, chats, cases) will arrive in the next interval, the
next day and the next week, and should the team scale up, scale down or hold?

Inputs (the user's column names in brackets):

* ``contact_volume`` (tickets, ticket_count, calls, call_volume, contacts, cases, ...): the count of the
  interval, required; it is also the label (self-labelled: each row is scored before its count is
  learned, as revenue_forecast does);
* ``interval_start`` (date, datetime, DateTime, timestamp, interval, hour, ...): the interval the row
  counts, 5 minutes to a week; without it each row is the next day;
* ``queue`` (channel, team, skill, site, ...): each queue is its own series.

There are no features of its own: the row's queue and time go to the shared
:class:`~tracer.blueprints.engines.seasonal_forecaster.SeasonalForecaster` (per queue, naive,
seasonal-naive and Holt-Winters smoothers chosen by recent error; intraday data is read by slot of the
week, so hour-of-day and weekday patterns and closed hours are learned). Outputs, before the row's own
count is learned:

* ``expected_volume`` (headline): the forecast of the row's interval, at least 0;
* ``volume_next_day`` and ``volume_next_week``: expected totals over the 1 and 7 days after it;
* ``volume_interval``: ``expected_volume ± z · rms`` at ``confidenceLevel``, ``rms`` the queue's
  recent one-step error, floored at 0;
* ``recent_average``: the mean count of the queue's last 12 intervals;
* ``volume_trend``: rising, falling or stable (the forecaster's 90-day trend test);
* ``recommended_protocol``: ``scale_up`` when ``expected_volume`` exceeds ``recent_average`` by more
  than ``staffingMargin``, ``scale_down`` when it is that much below, else ``hold``;
* ``confidence``: ``n / (n + 100) / (1 + rms / max(expected_volume, 1))``, n intervals learned.
"""

from __future__ import annotations

import math
from itertools import islice
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from tracer.blueprints.base import Features, InputSpec, LabelSpec, OnlineModel, OutputSpec, Params, ParamSpec
from tracer.blueprints.engines.seasonal_forecaster import DEFAULT_SERIES, SeasonalForecaster
from tracer.blueprints.tasks import Forecast, confidence_level
from tracer.schemas.base import OutboundModel

__all__ = [
    "SAMPLE_HOURLY",
    "SAMPLE_QUEUES",
    "SAMPLE_RELEASE",
    "SAMPLE_WEEKDAY",
    "SupportVolume",
    "SupportVolumeOutput",
]

StaffingCall = Literal["scale_up", "scale_down", "hold"]
RECENT_INTERVALS: Final = 12
"""``recent_average`` is the mean of this many last intervals of the queue."""
Trend = Literal["rising", "falling", "stable"]
_TRENDS: Final[dict[str, Trend]] = {
    "growth_detected": "rising",
    "decline_detected": "falling",
    "stable": "stable",
}
_EXPERIENCE_RAMP: Final = 100.0

SAMPLE_QUEUES: Final = {"billing": 40.0, "technical": 70.0, "account": 20.0}
"""Queues of :meth:`SupportVolume.sample` and their mean tickets per hour on a weekday."""
SAMPLE_WEEKDAY: Final = (1.25, 1.1, 1.0, 1.0, 0.9, 0.45, 0.35)
"""Monday..Sunday multipliers planted in the sample."""
SAMPLE_HOURLY: Final = tuple(0.15 + 1.85 * math.exp(-(((hour - 13.0) / 4.0) ** 2)) for hour in range(24))
"""Hour-of-day multipliers (UTC) planted in the sample: quiet nights, a hump around 13:00."""
SAMPLE_RELEASE: Final = (9 * 24 + 10, 3.0, 18.0)
"""The release spike: hour it starts, extra multiple on the technical queue, decay time in hours."""


class SupportVolumeOutput(OutboundModel):
    """What ``support_volume`` answers for one interval of one queue."""

    expected_volume: float
    """Expected contacts in the row's interval, forecast from everything learned before it."""
    volume_next_day: float
    """Expected contacts over the day after the row's interval."""
    volume_next_week: float
    """Expected contacts over the 7 days after the row's interval."""
    volume_interval: tuple[float, float]
    """Bounds around ``expected_volume`` at ``confidenceLevel`` (never below 0)."""
    recent_average: float
    """Mean count of the queue's last 12 intervals (0 before any)."""
    volume_trend: Trend
    """A significant slope over the last 90 days projecting beyond ±3% is rising or falling."""
    recommended_protocol: StaffingCall
    """Staffing: scale_up, scale_down or hold (see the module docstring)."""
    confidence: float
    """From 0 to 1: experience times how small the recent error is next to the forecast."""


_INTERVAL = InputSpec(
    "interval_start",
    "timestamp",
    "Start (or end, consistently) of the interval the row counts: one row per interval per queue. "
    "Without it each row is the next day.",
    ("date", "datetime", "timestamp", "interval", "interval_end", "time", "ds", "hour", "period",
     "start_time", "slot", "time_slot", "time_interval", "datetime_utc"),
)  # fmt: skip
_VOLUME = InputSpec(
    "contact_volume",
    "numeric",
    "Contacts that arrived in the interval: tickets, calls, chats, emails or cases.",
    ("tickets", "ticket_count", "num_tickets", "n_tickets", "tickets_created", "new_tickets", "calls",
     "call_volume", "call_count", "calls_offered", "calls_received", "inbound_calls", "contacts",
     "cases", "case_count", "new_cases", "chats", "requests", "incidents",
     "ticket_volume", "support_volume", "arrivals"),
)  # fmt: skip
_QUEUE = InputSpec(
    "queue",
    "id",
    f"The queue, channel or team the row counts for: each gets its own forecast. Without it every "
    f"row is one series, {DEFAULT_SERIES!r}.",
    ("queue_name", "queue_id", "channel", "team", "team_name", "skill", "skill_group", "support_team",
     "support_queue", "department", "site", "call_center", "contact_center", "line", "group"),
)  # fmt: skip


class SupportVolume(Forecast[SupportVolumeOutput]):
    """Support volume forecast: contacts next interval, day and week per queue, and a staffing call.

    >>> bp = SupportVolume()
    >>> params, frame = bp.resolve_params(), bp.sample(24 * 3 * 21, seed=0)
    >>> model = bp.make_model(params, seed=0)
    >>> for row in frame.itertuples():
    ...     record = {"interval_start": pd.Timestamp(row.interval_start).timestamp(),
    ...               "contact_volume": float(row.tickets), "queue": row.queue}
    ...     x = bp.featurize(record, None, params)
    ...     output = bp.postprocess(model.predict_one(x), x, model, params)
    ...     model.learn_one(x, bp.label_of(record, params))
    >>> row.queue, row.interval_start  # the last row
    ('account', '2024-03-24 23:00')
    >>> output.recommended_protocol, output.volume_interval[0]  # a quiet hour after the day's average
    ('scale_down', 0.0)
    >>> 300 < output.volume_next_day < 500  # a Monday ahead: 20 x 16.7 x 1.25 = 418 tickets planted
    True
    """

    id = "support_volume"
    name = "Support Volume Forecast"
    category = "business_operations"
    use_case = (
        "Forecast tickets or calls per interval (5 minutes to a day) per queue or channel for staffing: "
        "the next interval, day and week, with an interval, the trend and whether to scale up or down."
    )
    required_inputs = (_VOLUME,)
    optional_inputs = (_INTERVAL, _QUEUE)
    parameters = (
        confidence_level("volume_interval around expected_volume"),
        ParamSpec(
            "staffingMargin",
            0.2,
            "How far above (below) the recent average the next interval must be to scale up (down).",
            (0.1, 0.2, 0.3, 0.5),
        ),
    )
    label = LabelSpec(
        "The row's own count: each interval is forecast before its count is learned.", column=_VOLUME
    )
    output = OutputSpec(
        SupportVolumeOutput,
        "value",
        "Expected contacts in the next interval, day and week, with an interval, trend and staffing call.",
        headline="expected_volume",
    )
    time_input = "interval_start"
    entity_input = "queue"
    value_input = "contact_volume"
    horizons_days = (1.0, 7.0)
    data_requirements = (
        "One row per interval (5 minutes, 15 minutes, an hour or a day) per queue, in time order: its start "
        "and how many tickets or calls arrived. Intervals with no contacts should be rows with 0; closed "
        "hours (nights, weekends) may be left out. Aggregate single tickets to intervals first. Forecasts "
        "start after 4 intervals and follow the weekly pattern after one week. Optional: a queue, channel "
        "or team column for several series in one deployment."
    )

    def postprocess(
        self, score: float, features: Features, model: OnlineModel, params: Params
    ) -> SupportVolumeOutput:
        """Horizon totals and trend from the forecaster's outlook; interval, recent average and the
        staffing call from the queue's recent values and one-step errors."""
        outlook = self.outlook(features, model)
        expected = max(score, 0.0) if math.isfinite(score) else 0.0
        rms, recent, learned = _recent(model, str(features.get("series_id", DEFAULT_SERIES)))
        half_width = self.half_width(rms, params)
        margin = float(params.get("staffingMargin", 0.2))
        protocol: StaffingCall = "hold"
        if learned and expected > recent * (1.0 + margin):
            protocol = "scale_up"
        elif learned and expected < recent * (1.0 - margin):
            protocol = "scale_down"
        experience = learned / (learned + _EXPERIENCE_RAMP)
        return SupportVolumeOutput(
            expected_volume=expected,
            volume_next_day=max(outlook.totals[0], 0.0),
            volume_next_week=max(outlook.totals[1], 0.0),
            volume_interval=(max(expected - half_width, 0.0), expected + half_width),
            recent_average=recent,
            volume_trend=_TRENDS[outlook.trend],
            recommended_protocol=protocol,
            confidence=experience / (1.0 + rms / max(expected, 1.0)),
        )

    def sample(self, n_rows: int, seed: int) -> pd.DataFrame:
        """Hourly tickets of three queues from 2024-03-04 (a Monday), one row per queue and hour.

        ``tickets ~ Poisson(SAMPLE_QUEUES[queue] × SAMPLE_WEEKDAY[weekday] × SAMPLE_HOURLY[hour] ×
        growth × release)``: growth is +0.2% a day, and a release on day 9 at 10:00 adds 3 × the
        technical queue's volume, decaying with an 18-hour time constant. Two columns the recipe
        doesn't read (agents on shift, with gaps, and average handle time) come along.
        """
        rng = np.random.default_rng(seed)
        queues = list(SAMPLE_QUEUES)
        index = np.arange(n_rows)
        hours = index // len(queues)
        queue = np.asarray(queues)[index % len(queues)]
        mean = self.planted_mean(hours, queue)
        tickets = rng.poisson(mean)
        agents = np.round(mean / 2.5 + rng.normal(0.0, 0.5, n_rows)).clip(1.0)
        agents[rng.random(n_rows) < 0.05] = np.nan
        starts = pd.Timestamp("2024-03-04") + pd.to_timedelta(hours, unit="h")
        return pd.DataFrame(
            {
                "interval_start": starts.strftime("%Y-%m-%d %H:%M"),
                "queue": queue,
                "tickets": tickets.astype(np.int64),
                "agents_on_shift": agents,
                "avg_handle_time_min": np.round(rng.gamma(9.0, 1.0, n_rows), 1),
            }
        )

    @staticmethod
    def planted_mean(hours: npt.NDArray[np.int64], queue: npt.NDArray[np.str_]) -> npt.NDArray[np.float64]:
        """The sample's true mean tickets for hours since its start, per queue: the forecast ceiling."""
        base = np.asarray([SAMPLE_QUEUES[str(q)] for q in queue])
        weekday = np.asarray(SAMPLE_WEEKDAY)[(hours // 24) % 7]
        hourly = np.asarray(SAMPLE_HOURLY)[hours % 24]
        start, extra, decay = SAMPLE_RELEASE
        since = hours - start
        release = 1.0 + np.where((since >= 0) & (queue == "technical"), extra * np.exp(-since / decay), 0.0)
        mean = base * weekday * hourly * np.exp(0.002 * hours / 24.0) * release
        return np.asarray(mean, dtype=np.float64)


def _recent(model: OnlineModel, series_id: str) -> tuple[float, float, int]:
    """The queue's one-step RMS error, the mean of its last RECENT_INTERVALS values and how many
    intervals it learned (zeros for a queue not seen yet)."""
    series = model.series.get(series_id) if isinstance(model, SeasonalForecaster) else None
    if series is None:
        return 0.0, 0.0, 0
    values = list(islice(reversed(series.buffer), RECENT_INTERVALS))
    values = values or [y for _, y in series.start_rows[-RECENT_INTERVALS:]]
    learned = series.n_learned + len(series.start_rows)
    recent = sum(values) / len(values) if values else 0.0
    return math.sqrt(max(series.errors.mean_sq_error_1, 0.0)), recent, learned
