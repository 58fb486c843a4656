"""Shared fixtures and the hypothesis profiles.

Profiles are chosen by ``HYPOTHESIS_PROFILE``: ``dev`` (fast, the default), ``ci`` (thorough,
derandomized: a fixed seed, so every CI run tries the same examples; no deadline) or
``ci-random`` (the same budget, unseeded: fresh examples on each run, for a scheduled or manual
CI job, e.g. ``HYPOTHESIS_PROFILE=ci-random python -m pytest tests/properties``) or ``coverage``
(the branch-coverage gate's run, tools/coverage.sh: 40 examples under the ``ci`` seed and no
example database, so the gate measures the same examples on every machine; the thorough search
is the test phase's). Both ``ci``
profiles print a ``@reproduce_failure`` blob to replay a failure. Hypothesis would load its own
built-in ``ci`` profile when the ``CI`` environment variable is set; ours is registered and
loaded explicitly so the choice is deliberate.

The stateful machines (tests/properties/test_stateful.py) take their budget from the matching
``<profile>-stateful`` profile registered here: ``dev`` 25 runs a machine, ``ci`` 200 (a fixed
seed: every CI run replays the same 200 runs of 40 steps, about 8,000 steps a machine),
``ci-random`` 2000 with fresh examples (the deep search, for a scheduled or manual job). A
stateful run costs far more than an ordinary example, hence its own, bounded budget.

Why ``ci`` is bounded at 200 (it was 500: the two machines, one file and so one xdist worker,
took 171 s of a loaded CI run and were the suite's tail; issue 14 saw the stateful run alone at
14 minutes on a shared machine): under the fixed seed the ``ci`` runs are the same every time, so
they are a regression sample, not a search; a larger fixed sample finds nothing a smaller one
misses unless the code changes under it, and that search is what ``ci-random`` (2000 fresh runs
a machine) is for. The sample keeps every rule and invariant (the budget bounds how many runs,
not what a run may do; the step count stays 40), and steps the machines took when the replay
corpus was recorded are replayed decision for decision by its committed sample
(tests/core/test_replay_corpus.py).

The same split holds for the large parametrized grids of long simulations (the drug-change
grids): by default and in CI they run a pairwise covering subset (every value of each parameter
and every pair of values together, and any case kept because it alone reached a branch), and
their full cross products run under ``ci-random`` (tests/covering_grid.py; docs/coverage.md,
"Grids").
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from itdose.core import Library
from itdose.specs import load_library

settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile(
    "ci",
    max_examples=2000,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci-random", settings.get_profile("ci"), derandomize=False)
settings.register_profile("coverage", settings.get_profile("ci"), max_examples=40, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

STATEFUL_RUNS = {"dev": 25, "ci": 200, "ci-random": 2000, "coverage": 10}
"""Runs of each stateful machine per profile (see the module docstring)."""
for _name, _runs in STATEFUL_RUNS.items():
    settings.register_profile(
        f"{_name}-stateful",
        settings.get_profile(_name),
        max_examples=_runs,
        stateful_step_count=40,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@pytest.fixture(scope="session")
def library() -> Library:
    """The shipped drug and pump library."""
    return load_library()
