"""Shared fixtures and the hypothesis profiles.

Profiles are chosen by ``HYPOTHESIS_PROFILE``: ``dev`` (fast, the default), ``ci`` (thorough,
derandomized: a fixed seed, so every CI run tries the same examples; no deadline) or
``ci-random`` (the same budget, unseeded: fresh examples on each run, for a scheduled or manual
CI job, e.g. ``HYPOTHESIS_PROFILE=ci-random python -m pytest tests/properties``). Both ``ci``
profiles print a ``@reproduce_failure`` blob to replay a failure. Hypothesis would load its own
built-in ``ci`` profile when the ``CI`` environment variable is set; ours is registered and
loaded explicitly so the choice is deliberate.
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
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def library() -> Library:
    """The shipped drug and pump library."""
    return load_library()
