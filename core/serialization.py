"""The device state as JSON text, versioned (REQ-CORE-003).

``to_json`` and ``from_json`` are pure (text in, text out); the shell decides where the text is
stored. A malformed document is rejected with :class:`~itdose.core.errors.InvalidInput` naming the
offending field.
"""

from __future__ import annotations

import json

from itdose.core.codec import decode, encode
from itdose.core.errors import InvalidInput
from itdose.core.state import Device, check_consistent

SCHEMA_VERSION = 1
"""Version of the state document; a document from a newer version is refused."""

_MAX_DOCUMENT = 10_000_000


def to_json(device: Device) -> str:
    """The device as a JSON document ``{"schema": 1, "device": {...}}`` with sorted keys."""
    if not isinstance(device, Device):
        raise InvalidInput("device", f"expected a Device, got {type(device).__name__}")
    return json.dumps({"schema": SCHEMA_VERSION, "device": encode(device)}, sort_keys=True)


def _no_constant(name: str) -> object:
    raise InvalidInput("state", f"{name} is not valid in a state document")


def from_json(text: str) -> Device:
    """The device a document from :func:`to_json` encodes; :class:`InvalidInput` if malformed."""
    if not isinstance(text, str):
        raise InvalidInput("state", f"expected JSON text, got {type(text).__name__}")
    if len(text) > _MAX_DOCUMENT:
        raise InvalidInput("state", "document too large", limit=f"{_MAX_DOCUMENT} characters")
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=_reject_float)
    except json.JSONDecodeError as exc:
        raise InvalidInput("state", f"not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise InvalidInput("state", "document nested too deeply") from None
    if not isinstance(doc, dict):
        raise InvalidInput("state", "expected a JSON object")
    schema = doc.get("schema")
    if schema != SCHEMA_VERSION or isinstance(schema, bool):
        why, supported = "unsupported schema version", str(SCHEMA_VERSION)
        raise InvalidInput("state.schema", why, value=schema, limit=supported)
    extra = sorted(set(doc) - {"schema", "device"})
    if extra:
        raise InvalidInput(f"state.{extra[0]}", "unknown field")
    if "device" not in doc:
        raise InvalidInput("state.device", "missing field")
    device = decode(Device, doc["device"], "state.device")
    check_consistent(device, "state.device")
    return device


def _reject_float(text: str) -> object:
    why = "floating-point numbers are not valid in a state document"
    raise InvalidInput("state", why, value=text)
