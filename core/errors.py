"""Errors raised by the dosing core (docs/architecture.md#errors).

Every error is a :class:`DosingError`, and a rejected command leaves the state exactly as it was
(REQ-CORE-002), so a caller may keep using the state it passed in. Each error carries
:attr:`DosingError.safe_action`, what the caller must do about delivery. Faults a drive reported
(:class:`DriveFault`) are apart from errors the caller caused.
"""

from __future__ import annotations

import enum


class SafeAction(enum.Enum):
    """What the caller must do about delivery when it receives the error."""

    NONE = "none"
    """Nothing changed; delivery (if any) may continue as before."""
    STOP = "stop"
    """Stop the drive now."""
    ALARM = "alarm"
    """Stop the drive now and annunciate a high-priority alarm."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class DosingError(Exception):
    """Base of every error raised by :mod:`itdose.core`.

    ``field`` names the input or state field concerned, ``value`` the offending value and ``limit``
    the bound or rule it broke (human text); ``message`` says it in a sentence.
    """

    safe_action: SafeAction = SafeAction.NONE

    def __init__(
        self, field: str, message: str, *, value: object = None, limit: str | None = None
    ) -> None:
        self.field = field
        self.value = value
        self.limit = limit
        self.message = message
        text = f"{field}: {message}"
        if value is not None:
            text += f" (value {_show(value)})"
        if limit is not None:
            text += f" [limit: {limit}]"
        super().__init__(text)


class InvalidInput(DosingError, ValueError):
    """Input that is malformed: wrong type, wrong unit, out of physical range, not exact."""


class LibraryError(InvalidInput):
    """A drug or pump library file that does not validate; names the file, entry and field."""

    def __init__(
        self, file: str, entry: str, field: str, message: str, *, value: object = None
    ) -> None:
        self.file = file
        self.entry = entry
        super().__init__(f"{file}: {entry}: {field}", message, value=value)


class RejectedCommand(DosingError):
    """A well-formed command that is not allowed now (state, role, guard or missing data)."""


class LimitViolation(DosingError):
    """A command that would break a dosing limit.

    ``limit_id`` is the library or rule identifier; ``level`` is ``"hard"`` (never yields) or
    ``"soft"`` (yields to a clinician override with a reason).
    """

    def __init__(
        self,
        field: str,
        message: str,
        *,
        limit_id: str,
        level: str,
        value: object = None,
        limit: str | None = None,
    ) -> None:
        self.limit_id = limit_id
        self.level = level
        super().__init__(field, message, value=value, limit=limit)


class DriveFault(DosingError):
    """A fault reported by a drive (not caused by the caller): stop and raise the alarm."""

    safe_action = SafeAction.ALARM
