"""Does ``tracer analyze`` pick the right blueprint? A confusion table over the whole archive.

Run from the repository root (under a minute)::

    .venv/bin/python bench/quality_archive.py

For every registered blueprint and a few seeds, its generator's sample (as a user's file: its own
column names, gaps and extra columns) is given to :func:`~tracer.blueprints.analysis.analyze` alone,
as ``tracer analyze sample.csv`` would read it, and the blueprint ranked first is counted. Rows: the
blueprint whose sample it is; columns: the blueprint ranked first. Target: 100% on the diagonal.
The margin is the first suggestion's compatibility minus the best other blueprint's, the smallest
over the seeds: how close the nearest neighbour came.
"""

from __future__ import annotations

from collections import Counter

from common import print_table, verdict

from tracer.blueprints import registry
from tracer.blueprints.analysis import analyze

SEEDS = (1, 2, 3)
ROWS = 2000


def ranked_first(blueprint_id: str, seed: int) -> tuple[str, float]:
    """The blueprint ``analyze`` ranks first on ``blueprint_id``'s sample, and its lead over the next."""
    sample = registry.get(blueprint_id)().sample(ROWS, seed)
    suggestions = analyze({f"{blueprint_id}_sample.csv": sample})
    return suggestions[0].blueprint, suggestions[0].compatibility - suggestions[1].compatibility


def main() -> None:
    ids = registry.ids()
    rows, right = [], 0
    for truth in ids:
        firsts, margins = Counter[str](), []
        for seed in SEEDS:
            first, margin = ranked_first(truth, seed)
            firsts[first] += 1
            margins.append(margin if first == truth else -margin)
        right += firsts[truth]
        rows.append([truth, *(firsts[column] or "" for column in ids), min(margins)])
    total = len(ids) * len(SEEDS)
    print_table(
        f"analyze on each blueprint's own sample ({ROWS} rows, seeds {SEEDS}): rows are the truth, "
        "columns the blueprint ranked first",
        ["sample of", *(f"#{i}" for i in range(1, len(ids) + 1)), "min margin"],
        rows,
        note="  ".join(f"#{i}={blueprint_id}" for i, blueprint_id in enumerate(ids, 1))
        + f"\nright: {right}/{total} = {right / total:.0%} (target 100%): {verdict(right == total)}",
    )


if __name__ == "__main__":
    main()
