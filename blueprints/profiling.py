"""Reading a user's dataset, what each of its columns holds, and whether it is a time series.

:func:`profile_columns` gives every column a kind, the vocabulary of blueprint inputs plus two of
its own: ``id``, ``timestamp``, ``numeric``, ``categorical``, ``boolean``, ``text`` (long free-form
strings) and ``empty`` (nothing but missing values). Kinds come from the values first and the name
second; the rules, in order:

- missing values include blanks and tokens like ``NA``, ``null``, ``-``;
- datetimes, ISO and common day/month date strings, months, quarters and ISO weeks (``1987 Jan``,
  ``1998 Q1``, ``2020-W05``), epoch numbers (seconds need a time-like name such as ``ts`` or
  ``created_at``; milli-, micro- and nanoseconds need only integral values in 1979..2103) and
  decimal years in 1800..2200 named like ``time``, ``year``, ``date``, ``period``, ``month`` or
  ``quarter`` are timestamps; the profile's ``parse_time_format`` says how to read them in a stream
  (``day_first`` for ``31/12/2024``, ``decimal_year`` for ``1991.5``; see :mod:`~tracer.blueprints.dates`);
- two distinct values (``Yes``/``No``, 0/1, ``True``/``False``; other pairs from 20 rows on) are
  boolean;
- numbers, including strings like ``"1,234.50"``, ``"$12"``, ``"7 %"``, are numeric, unless they are
  unique-ish integers with an id-like name (``*_id``, ``sku``, ``key``...) or a 0, 1, 2... row index;
- other strings are ids when they are unique-ish (or id-named), text when long with spaces, else
  categorical.

Profiles read a seeded sample of at most :data:`SAMPLE_ROWS` rows, so a 100k-row frame is profiled
in tens of milliseconds; ``missing_fraction``, ``distinct_values`` and ``unique_fraction`` describe
that sample.

>>> frame = pd.DataFrame({"order_id": ["A1", "B2", "C3"], "amount": ["1,200", "35", " "]})
>>> [(p.name, p.kind) for p in profile_columns(frame)]
[('order_id', 'id'), ('amount', 'numeric')]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from tracer.blueprints.dates import (
    DECIMAL_YEAR_SPAN,
    TIME_NAME_WORDS,
    Rejected,
    TimeFormat,
    decimal_years_to_seconds,
    infer_time_format,
    parse_time,
    period_form,
)
from tracer.blueprints.errors import TracerError

__all__ = [
    "SAMPLE_ROWS",
    "ColumnKind",
    "ColumnProfile",
    "DatasetFormatError",
    "DatasetProfile",
    "TimeSeriesProfile",
    "epoch_seconds",
    "is_time_series",
    "load_dataset",
    "name_tokens",
    "parse_numbers",
    "profile_columns",
    "profile_dataset",
    "time_series_profile",
]

ColumnKind = Literal["id", "timestamp", "numeric", "categorical", "boolean", "text", "empty"]
SAMPLE_ROWS = 5_000
"""Rows profiled per column (a seeded random sample of larger frames)."""
_SERIES_ROWS = 100_000  # rows read (from the top) to measure time-series spacing
_DATE_PROBE = 500  # values tried against each date format
_DATE_HEAD = 32  # values tried first: a format (or number) most of them miss is not the column's

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_ABBREVIATIONS = {
    "qty": "quantity", "amt": "amount", "cust": "customer", "prod": "product", "txn": "transaction",
    "dt": "date", "ts": "timestamp", "num": "number", "cnt": "count", "pct": "percent", "acct": "account",
}  # fmt: skip
_MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "nat", "-", "?"})
_BOOL_TOKENS = frozenset({"yes", "no", "y", "n", "true", "false", "t", "f", "0", "1", "on", "off"})
_ID_HINTS = frozenset({"id", "uuid", "guid", "key", "sku", "code", "identifier", "symbol", "ticker"})
_TIME_HINTS = frozenset(
    {"date", "time", "timestamp", "datetime", "epoch", "day", "created", "updated", "modified", "period", "at"}
)  # fmt: skip
_FIELD_ORDERS: dict[str, TimeFormat] = {
    **{f"%d{separator}%m": "day_first" for separator in "/.-"},
    **{f"%m{separator}%d": "month_first" for separator in "/.-"},
}  # strptime formats of numeric dates -> how a stream reads them
_PERIOD_FORMATS = frozenset({"year_month", "year_quarter", "iso_week"})  # read with dates.parse_time
_TARGET_HINTS = frozenset(
    {"churn", "churned", "label", "target", "outcome", "class", "converted", "cancelled", "canceled",
     "attrition", "exited", "fraud", "default", "defaulted", "response", "y"}
)  # fmt: skip
_EPOCH_UNITS: tuple[tuple[str, float, float, float], ...] = (  # name, lowest, highest, seconds per unit
    ("epoch_s", 3e8, 4.2e9, 1.0),
    ("epoch_ms", 3e11, 4.2e12, 1e-3),
    ("epoch_us", 3e14, 4.2e15, 1e-6),
    ("epoch_ns", 3e17, 4.2e18, 1e-9),
)
_DATE_FORMATS = (
    "ISO8601", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%d.%m.%Y", "%d-%b-%Y", "%d %b %Y", "%b %d, %Y",
)  # fmt: skip


class ColumnProfile(BaseModel):
    """One column's kind and the evidence for it."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: ColumnKind
    pandas_dtype: str
    missing_fraction: float = Field(ge=0, le=1)
    distinct_values: int = Field(ge=0, description="Distinct non-missing values in the sample.")
    unique_fraction: float = Field(
        ge=0, le=1, description="distinct_values / non-missing values in the sample."
    )
    target_like: bool = Field(description="Two-valued, or named like an outcome (churned, label, is_*...).")
    time_format: str | None = Field(
        default=None,
        description="For timestamps: 'datetime', 'epoch_s'/'_ms'/'_us'/'_ns', 'decimal_year', "
        "'year_month', 'year_quarter', 'iso_week', or the strptime format of the dates.",
    )
    parse_time_format: TimeFormat = Field(
        default="auto",
        description="How a stream of this column is read: the TimeFormat for coercion.timestamp_coercer.",
    )
    examples: list[str] = Field(default_factory=list, description="Up to three sample values.")


class TimeSeriesProfile(BaseModel):
    """How a dataset's timestamps are spaced, overall or within each entity."""

    model_config = ConfigDict(frozen=True)

    time_column: str
    entity_column: str | None = Field(description="The column splitting rows into series, if one does.")
    measure_columns: list[str]
    median_spacing_seconds: float = Field(ge=0)
    regular_fraction: float = Field(ge=0, le=1, description="Gaps within 25 % of the median gap.")
    regular: bool


class DatasetProfile(BaseModel):
    """A whole dataset: its size, each column's profile and its time-series structure, if any."""

    model_config = ConfigDict(frozen=True)

    name: str
    rows: int = Field(ge=0)
    columns: list[ColumnProfile]
    time_series: TimeSeriesProfile | None


def profile_dataset(df: pd.DataFrame, name: str = "dataset") -> DatasetProfile:
    """Profile every column, then the time-series structure the profiles allow."""
    columns = profile_columns(df)
    return DatasetProfile(
        name=name, rows=len(df), columns=columns, time_series=time_series_profile(df, columns)
    )


def name_tokens(name: object) -> tuple[str, ...]:
    """Lower-case words of a column or input name: ``customerID`` -> ``('customer', 'id')``.

    Splits camelCase and any non-alphanumeric run, and expands common abbreviations (qty, amt, ts...).
    """
    spaced = _CAMEL_BOUNDARY.sub(" ", str(name)).lower()
    return tuple(_ABBREVIATIONS.get(word, word) for word in _NON_ALNUM.split(spaced) if word)


def profile_columns(df: pd.DataFrame, sample_rows: int = SAMPLE_ROWS, seed: int = 0) -> list[ColumnProfile]:
    """Each column's kind, read from a seeded sample of at most ``sample_rows`` rows."""
    sample = df.sample(n=sample_rows, random_state=seed) if len(df) > sample_rows else df
    return [_profile(str(name), sample.iloc[:, position]) for position, name in enumerate(sample.columns)]


def _profile(name: str, column: pd.Series) -> ColumnProfile:
    tokens = set(name_tokens(name))
    strings = _present_strings(column)
    present = len(strings)
    distinct = int(strings.nunique())
    kind, time_format = _kind(name, tokens, column, strings, distinct)
    return ColumnProfile(
        name=name,
        kind=kind,
        pandas_dtype=str(column.dtype),
        missing_fraction=round(1 - present / len(column), 4) if len(column) else 1.0,
        distinct_values=distinct,
        unique_fraction=round(distinct / present, 4) if present else 0.0,
        target_like=kind == "boolean"
        or bool(tokens & _TARGET_HINTS)
        or name.lower().startswith(("is_", "has_")),
        time_format=time_format,
        parse_time_format=_parse_time_format(time_format),
        examples=[value[:40] for value in strings.drop_duplicates().head(3)],
    )


def _present_strings(column: pd.Series) -> pd.Series:
    """The non-missing values as stripped strings (blank and NA-like tokens count as missing)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    strings = column.dropna().astype(str).str.strip()
    return strings[~strings.str.lower().isin(_MISSING_TOKENS)]


def _kind(
    name: str, tokens: set[str], column: pd.Series, strings: pd.Series, distinct: int
) -> tuple[ColumnKind, str | None]:
    if strings.empty:
        return "empty", None
    if pd.api.types.is_bool_dtype(column.dtype):
        return "boolean", None
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return "timestamp", "datetime"
    if pd.api.types.is_timedelta64_dtype(column.dtype):
        return _numeric_kind(tokens, column.dropna().dt.total_seconds().to_numpy(dtype=float), distinct)
    if pd.api.types.is_numeric_dtype(column.dtype):
        return _numeric_kind(tokens, column.dropna().to_numpy(dtype=float), distinct)
    if distinct <= 2 and set(strings.str.lower().unique()) <= _BOOL_TOKENS:
        return "boolean", None
    numbers = _numbers_if_most(strings)
    if numbers is not None and numbers.notna().mean() >= 0.95:
        if tokens & _ID_HINTS and distinct >= 0.5 * len(strings):
            return "id", None
        return _numeric_kind(tokens, numbers.dropna().to_numpy(dtype=float), distinct)
    date_format = _date_format(strings) or _period_format(strings)
    if date_format is not None:
        return "timestamp", date_format
    if distinct == 2 and len(strings) >= 20:
        return "boolean", None
    return _string_kind(tokens, strings, distinct), None


def _numeric_kind(tokens: set[str], values: np.ndarray, distinct: int) -> tuple[ColumnKind, str | None]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "empty", None
    integral = bool(np.all(np.mod(values, 1) == 0))
    low, high = float(values.min()), float(values.max())
    if tokens & TIME_NAME_WORDS and DECIMAL_YEAR_SPAN[0] <= low and high <= DECIMAL_YEAR_SPAN[1]:
        return "timestamp", "decimal_year"  # years, whole or decimal (1991.5), as R's ts writes them
    for unit, lowest, highest, _ in _EPOCH_UNITS:
        if lowest <= low and high <= highest and (tokens & _TIME_HINTS or (unit != "epoch_s" and integral)):
            return "timestamp", unit
    if distinct == 2 and (set(np.unique(values)) <= {0.0, 1.0} or values.size >= 20):
        return "boolean", None
    if integral and distinct >= 0.5 * values.size and values.size >= 2:
        if tokens & _ID_HINTS:
            return "id", None
        ordered = np.sort(values)
        if (
            distinct == values.size
            and ordered[-1] - ordered[0] == values.size - 1
            and not tokens & _TIME_HINTS
        ):
            return "id", None  # a row index: 0, 1, 2, ... in some order
    return "numeric", None


def _string_kind(tokens: set[str], strings: pd.Series, distinct: int) -> ColumnKind:
    unique_fraction = distinct / len(strings)
    if unique_fraction >= 0.5 and distinct >= 20 and not tokens & _ID_HINTS:
        spaced = strings.str.contains(" ", regex=False).mean()
        if spaced >= 0.5 and strings.str.len().mean() >= 25:
            return "text"
    if tokens & _ID_HINTS and (unique_fraction >= 0.2 or distinct >= 50):
        return "id"
    return "id" if unique_fraction >= 0.5 and distinct >= 20 else "categorical"


def parse_numbers(strings: pd.Series) -> pd.Series:
    """Numbers written as text: ``"1,234.5"``, ``"$12"``, ``"7 %"``; NaN where a value is no number."""
    cleaned = strings.astype(str).str.strip().str.replace(r"^[$€£¥]\s*|\s*%$", "", regex=True)
    grouped = cleaned.str.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", na=False)
    cleaned = cleaned.where(~grouped, cleaned.str.replace(",", "", regex=False))
    return pd.to_numeric(cleaned, errors="coerce").astype(float)


def _numbers_if_most(strings: pd.Series) -> pd.Series | None:
    """:func:`parse_numbers` of ``strings``, or None when so many of their head are no number that
    fewer than 95 % of them can be."""
    if len(strings) > _DATE_HEAD:
        misses = int(parse_numbers(strings.head(_DATE_HEAD)).isna().sum())
        if 20 * misses > len(strings):
            return None
    return parse_numbers(strings)


def _date_format(strings: pd.Series) -> str | None:
    """The first date format that parses at least 90 % of a probe of the values, if any."""
    probe = strings.head(_DATE_PROBE)
    if not probe.str.contains(r"\d", regex=True).all():
        return None
    best, best_fraction = None, 0.9
    formats: tuple[str, ...] = _DATE_FORMATS
    if infer_time_format(probe) == "day_first":  # day first, unless a value says otherwise
        formats = tuple(sorted(formats, key=lambda date_format: date_format.startswith("%m")))
    head = probe.head(_DATE_HEAD) if len(probe) > _DATE_HEAD else None
    for date_format in formats:
        if head is not None:  # misses in a head that alone keep the probe below 90 %: not this format
            misses = int(pd.to_datetime(head, format=date_format, errors="coerce", utc=True).isna().sum())
            if 10 * misses > len(probe):
                continue
        parsed = pd.to_datetime(probe, format=date_format, errors="coerce", utc=True)
        fraction = float(parsed.notna().mean())
        if fraction > best_fraction or (best is None and fraction >= best_fraction):
            best, best_fraction = date_format, fraction
            if fraction == 1.0:
                break
    return best


def _period_format(strings: pd.Series) -> str | None:
    """The period form (``1987 Jan``, ``1998 Q1``, ``2020-W05``) of at least 90 % of a probe, if any."""
    forms = strings.head(_DATE_PROBE).map(period_form)
    counts = forms.value_counts()  # of the values in a period form
    return str(counts.index[0]) if len(counts) and counts.iloc[0] >= 0.9 * len(forms) else None


def _parse_time_format(time_format: str | None) -> TimeFormat:
    """The TimeFormat a stream of a column needs, from the format its profile found."""
    if time_format == "decimal_year":
        return "decimal_year"
    return _FIELD_ORDERS.get((time_format or "")[:5], "auto")


def _parsed_seconds(column: pd.Series, time_format: TimeFormat) -> np.ndarray:
    """Epoch seconds of each value, parsed once per distinct value by dates.parse_time; NaN if it doesn't."""
    seconds: dict[object, float] = {}
    for value in column.unique():
        try:
            parsed = parse_time(value, time_format)
        except Rejected:
            parsed = None
        seconds[value] = np.nan if parsed is None else parsed
    values: np.ndarray = column.map(seconds).to_numpy(dtype=float, na_value=np.nan)
    return values


def epoch_seconds(column: pd.Series, profile: ColumnProfile) -> np.ndarray:
    """A timestamp column as float seconds since the Unix epoch (UTC); NaN where a value doesn't parse."""
    time_format = profile.time_format
    if time_format is None:
        return np.full(len(column), np.nan)
    for unit, _, _, seconds_per_unit in _EPOCH_UNITS:
        if time_format == unit:
            numbers = column if pd.api.types.is_numeric_dtype(column.dtype) else parse_numbers(column)
            values: np.ndarray = numbers.to_numpy(dtype=float, na_value=np.nan)
            return values * seconds_per_unit
    if time_format == "decimal_year" and pd.api.types.is_numeric_dtype(column.dtype):
        years = decimal_years_to_seconds(column.to_numpy(dtype=float, na_value=np.nan))
        return years if years is not None else _parsed_seconds(column, "decimal_year")
    if time_format == "decimal_year" or time_format in _PERIOD_FORMATS:
        return _parsed_seconds(column, profile.parse_time_format)
    if time_format == "datetime":
        stamps = pd.to_datetime(column, utc=True, errors="coerce")
    else:
        stamps = pd.to_datetime(column.astype(str).str.strip(), format=time_format, errors="coerce", utc=True)
    epoch = pd.Timestamp(0, tz="UTC").as_unit(stamps.dt.unit)  # same unit: years past 2262 don't overflow
    offsets: np.ndarray = (stamps - epoch).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
    return offsets


def time_series_profile(
    df: pd.DataFrame, profiles: list[ColumnProfile], time_column: str | None = None
) -> TimeSeriesProfile | None:
    """Spacing of a timestamp column, overall and per entity; None without a timestamp and a measure.

    ``time_column`` picks the column; by default the most regular timestamp column is used. Looks
    at the first 100k rows. Spacing is regular when at least 60 % of the gaps between consecutive
    distinct timestamps (per entity, when an id or categorical column splits the rows into series)
    are within 25 % of the median gap.
    """
    times = [p for p in profiles if p.kind == "timestamp" and time_column in (None, p.name)]
    measures = [p.name for p in profiles if p.kind == "numeric"]
    if not times or not measures:
        return None
    head = df.head(_SERIES_ROWS)
    entities = [p for p in profiles if p.kind in ("id", "categorical") and p.distinct_values >= 2]
    entities = [
        p for p in entities if p.unique_fraction < 0.5
    ]  # one row per value splits nothing into series
    entities.sort(key=lambda p: (not set(name_tokens(p.name)) & _ID_HINTS, p.name))
    codes = {p.name: pd.factorize(head[p.name])[0] for p in entities[:20]}
    found: list[TimeSeriesProfile] = []
    for time_profile in times[:5]:
        seconds = epoch_seconds(head[time_profile.name], time_profile)
        best: tuple[tuple[float, float, int], str | None] = (_spacing(seconds, None), None)
        for entity, groups in codes.items():
            spacing = _spacing(seconds, groups)
            if spacing[1] > best[0][1] + 0.05:
                best = (spacing, entity)
        (median_gap, regular_fraction, gaps), entity_column = best
        found.append(
            TimeSeriesProfile(
                time_column=time_profile.name,
                entity_column=entity_column,
                measure_columns=[m for m in measures if m != time_profile.name],
                median_spacing_seconds=median_gap,
                regular_fraction=round(regular_fraction, 4),
                regular=gaps >= 3 and regular_fraction >= 0.6,
            )
        )
    return max(found, key=lambda series: (series.regular, series.regular_fraction))


def _spacing(seconds: np.ndarray, groups: np.ndarray | None) -> tuple[float, float, int]:
    """(median gap, fraction of gaps within 25 % of their series' median gap, number of gaps)."""
    keep = np.isfinite(seconds)
    times = seconds[keep]
    series = groups[keep] if groups is not None else np.zeros(len(times), dtype=np.int64)
    order = np.lexsort((times, series))
    times, series = times[order], series[order]
    gaps = np.diff(times)
    valid = (series[1:] == series[:-1]) & (gaps > 0)  # repeated timestamps are not gaps
    if not valid.any():
        return 0.0, 0.0, 0
    gap = pd.Series(gaps[valid])
    medians = gap.groupby(series[1:][valid]).transform("median").to_numpy()
    within = np.abs(gap.to_numpy() - medians) <= 0.25 * medians
    return float(gap.median()), float(within.mean()), int(valid.sum())


def is_time_series(df: pd.DataFrame, profiles: list[ColumnProfile]) -> bool:
    """Whether the dataset has a timestamp with regular-ish spacing (overall or per entity) and a measure."""
    series = time_series_profile(df, profiles)
    return series is not None and series.regular


class DatasetFormatError(TracerError, ValueError):
    """A file's extension is not one ``load_dataset`` reads."""


_COMPRESSION = (".gz", ".bz2", ".zip", ".xz", ".zst")


def load_dataset(path: str | Path) -> pd.DataFrame:
    """Read a .csv, .tsv, .parquet or .jsonl/.ndjson file (CSV and JSONL may be compressed, e.g. .csv.gz).

    Values are read as they are written (no date parsing): :func:`profile_columns` decides kinds.
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".csv":
        return pd.read_csv(path, low_memory=False)
    if kind == ".tsv":
        return pd.read_csv(path, sep="\t", low_memory=False)
    if kind in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if kind in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False)
    raise DatasetFormatError(
        f"{path}: can't read {kind or 'a file without an extension'!r}; "
        "use .csv, .tsv, .parquet or .jsonl (CSV and JSONL may end in .gz, .bz2, .zip, .xz or .zst)"
    )
