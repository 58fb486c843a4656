"""Shared fixtures and the hypothesis profiles.

Profiles are chosen by ``HYPOTHESIS_PROFILE``: ``dev`` (fast, the default) or ``ci`` (thorough,
fixed seed, no deadline). Hypothesis would load its own built-in ``ci`` profile when the ``CI``
environment variable is set; ours is registered and loaded explicitly so the choice is deliberate.
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
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def library() -> Library:
    """The shipped drug and pump library."""
    return load_library()
