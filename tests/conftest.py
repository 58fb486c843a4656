"""Shared fixtures."""

from __future__ import annotations

import pytest

from itdose.core import Library
from itdose.specs import load_library


@pytest.fixture(scope="session")
def library() -> Library:
    """The shipped drug and pump library."""
    return load_library()
