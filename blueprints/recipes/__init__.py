"""Blueprint recipes: one file per business question, each a short declaration on a task base.

A recipe names its inputs (with synonyms), its semantic features, its output and its sample; the
task bases in :mod:`tracer.blueprints.tasks` supply the rest. The registry lists every recipe.
"""
