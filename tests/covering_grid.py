"""The cases of a grid of parameters: every pair of values by default, the full cross product under
the ``ci-random`` hypothesis profile (tests/conftest.py).

A grid of drug changes (drive behaviour x change x resets x doubt ...) multiplies to hundreds of
long simulations, each a day or two of pump time judged by the FIFO reference. A pairwise
covering subset runs every value of each parameter and every pair of values of any two
parameters together, at a tenth of the cost; the combinations of three or more that it leaves out
run in the deep, scheduled job (``HYPOTHESIS_PROFILE=ci-random``), with the stateful machines'
2,000 fresh runs. ``keep`` names cases that stay in the subset whatever the pairs: a case that was
the only one of its grid to reach a branch of core/ or of the reference bench (docs/coverage.md,
"Grids"), so the subset reaches every branch the full product reaches.

The subset is chosen greedily over the product in its own order (the first case covering the most
pairs not yet covered): the same cases on every run and every xdist worker (no set of strings is
iterated: their order changes from one process to the next).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import pytest

FULL_PROFILE = "ci-random"
"""The hypothesis profile under which every grid runs its full cross product."""


def full_products() -> bool:
    """Whether grids run their full cross product (the ``ci-random`` profile)."""
    return os.environ.get("HYPOTHESIS_PROFILE") == FULL_PROFILE


def pairwise(axes: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """A subset of the product of ``axes`` holding every pair of values of any two axes (and so
    every value), greedily: the first case of the product (in its order) covering the most pairs
    not yet covered, until none is left. Values are told apart by their place in their axis."""
    product = list(itertools.product(*(range(len(axis)) for axis in axes)))
    pairs = [list(itertools.combinations(enumerate(case), 2)) for case in product]
    uncovered = {p for of_case in pairs for p in of_case}
    chosen: list[int] = []
    while uncovered:
        best = max(range(len(product)), key=lambda n: (sum(p in uncovered for p in pairs[n]), -n))
        chosen.append(best)
        uncovered.difference_update(pairs[best])
    if not chosen:
        chosen = list(range(len(product)))
    return [tuple(axes[i][k] for i, k in enumerate(product[n])) for n in sorted(chosen)]


def cases(
    axes: dict[str, Sequence[Any]],
    ids: dict[str, Sequence[str]] | None = None,
    keep: Sequence[str] = (),
) -> list[Any]:
    """The cases of the grid ``axes`` (argument name -> values, in the order of the test's
    arguments; a name of several arguments, ``"a, b"``, takes tuples of their values) as
    ``pytest.param``, each with the id of its values joined by ``-`` (a value's
    ``str``, or its label in ``ids``): the full product under ``ci-random``, otherwise the
    pairwise subset and the ``keep`` cases (named by id)."""
    labels = ids or {}
    values = list(axes.values())
    names = [list(labels.get(name, [str(v) for v in axis])) for name, axis in axes.items()]
    for name, axis in zip(axes, names, strict=True):
        if len(axis) != len(axes[name]) or len(set(axis)) != len(axis):
            raise ValueError(f"the labels of {name!r} are not one a value")

    def case_id(case: tuple[Any, ...]) -> str:
        return "-".join(names[i][list(map(id, values[i])).index(id(v))] for i, v in enumerate(case))

    product = list(itertools.product(*values))
    all_ids = [case_id(case) for case in product]
    for name in keep:
        if name not in all_ids:
            raise ValueError(f"kept case {name!r} is not in the grid {list(axes)}")
    chosen = product if full_products() else pairwise(values)
    chosen_ids = {case_id(case) for case in chosen} | set(keep)
    joint = [", " in name for name in axes]
    return [
        pytest.param(
            *(x for v, j in zip(case, joint, strict=True) for x in (v if j else (v,))), id=name
        )
        for case, name in zip(product, all_ids, strict=True)
        if name in chosen_ids
    ]
