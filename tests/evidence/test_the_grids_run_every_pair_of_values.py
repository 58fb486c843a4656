"""The covering subset the large grids run by default (tests/covering_grid.py) holds every pair of
values of any two parameters, is smaller than the product, and keeps the cases named to be kept;
the full product under ``ci-random``."""

from __future__ import annotations

import itertools

import pytest
from covering_grid import cases, pairwise

AXES = {
    "mode": ["a", "b", "c", "d"],
    "change": list(range(6)),
    "resets": list(range(6)),
    "x": [0, 1],
}


def test_every_pair_of_values_is_in_the_subset() -> None:
    chosen = pairwise(list(AXES.values()))
    product = list(itertools.product(*AXES.values()))
    assert set(chosen) <= set(product)
    assert len(chosen) < len(product) // 4
    for i, j in itertools.combinations(range(len(AXES)), 2):
        wanted = {(a, b) for a in list(AXES.values())[i] for b in list(AXES.values())[j]}
        assert {(case[i], case[j]) for case in chosen} == wanted


def test_the_kept_cases_run_and_an_unknown_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    ids = [p.id for p in cases(AXES)]
    missing = next(
        "-".join(map(str, case))
        for case in itertools.product(*AXES.values())
        if "-".join(map(str, case)) not in ids
    )
    assert missing in [p.id for p in cases(AXES, keep=[missing])]
    with pytest.raises(ValueError, match="not in the grid"):
        cases(AXES, keep=["e-0-0-0"])


def test_the_full_product_runs_under_ci_random(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci-random")
    assert len(cases(AXES)) == 4 * 6 * 6 * 2
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    assert len(cases(AXES)) < 4 * 6 * 6 * 2
