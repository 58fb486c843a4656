"""itdose.core: the pure dosing core (standard library only, integers only, no I/O)."""

from itdose.core.errors import (
    DosingError,
    DriveFault,
    InvalidInput,
    LibraryError,
    LimitViolation,
    RejectedCommand,
    SafeAction,
)

__all__ = [
    "DosingError",
    "DriveFault",
    "InvalidInput",
    "LibraryError",
    "LimitViolation",
    "RejectedCommand",
    "SafeAction",
]
