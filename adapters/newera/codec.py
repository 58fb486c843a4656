"""Sans-IO codec for the New Era NE-1000 family RS-232 protocol.

The protocol facts it relies on, with their sources: docs/hardware.md#protocol-facts.

No I/O and no threads: callers hand in bytes and get bytes or typed values back.

* Requests: :func:`encode_request` frames ``[address] command`` for Basic mode (``... CR``) or Safe
  mode (``STX len data CRC-hi CRC-lo ETX``, CRC-16/XMODEM over the data only).
* Numbers: :func:`encode_number` (strict: at most 4 digits plus a point, at most 3 decimals),
  :func:`format_volume` / :func:`format_rate` choose the unit that represents an integer quantity
  (nanolitres, nanolitres per hour) with the smallest error, :func:`decode_number` is tolerant
  (``"6000."``, ``"6000"``, ``"14.43"``). Quantities are :class:`decimal.Decimal` or ``int``, never
  ``float``.
* Replies: :class:`ReplyParser` is fed arbitrary chunks (fragmented or merged reads) and yields
  :class:`StatusReply`, :class:`AlarmReply`, :class:`ErrorReply` or :class:`ProtocolError`. It never
  raises on bad input. Replies that arrive while no request is outstanding are marked
  ``solicited=False`` (the Safe-mode Auto-Alarm packets).
* Payloads: ``decode_*`` helpers turn the data part of a reply into typed values; they raise
  :class:`PayloadError` (a ``ValueError``) on malformed text.
* Pump side (for the emulator): :class:`RequestParser`, :func:`split_address`, :func:`encode_reply`,
  :func:`format_reply_number`.
"""

from __future__ import annotations

import binascii
import enum
import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation

__all__ = [
    "CR",
    "ETX",
    "STX",
    "SYSTEM_ADDRESS",
    "Alarm",
    "AlarmReply",
    "CommandError",
    "Direction",
    "Dispensed",
    "EncodedQuantity",
    "ErrorReply",
    "Event",
    "Framing",
    "PayloadError",
    "Prompt",
    "ProtocolError",
    "ProtocolErrorKind",
    "RateUnit",
    "Reply",
    "ReplyParser",
    "Request",
    "RequestError",
    "RequestParser",
    "StatusReply",
    "Version",
    "VolumeUnit",
    "crc16_xmodem",
    "decode_diameter_um",
    "decode_direction",
    "decode_dispensed",
    "decode_int",
    "decode_number",
    "decode_rate",
    "decode_version",
    "decode_volume",
    "encode_number",
    "encode_reply",
    "encode_request",
    "format_rate",
    "format_reply_number",
    "format_volume",
    "normalize_command",
    "parse_body",
    "parse_sent_number",
    "split_address",
]

STX = 0x02
ETX = 0x03
CR = 0x0D
SYSTEM_ADDRESS = "*"
"""Marker returned by :func:`split_address` for a ``*`` system command."""

MAX_ADDRESS = 99
MAX_FRAME = 96
"""Longest reply frame the parser buffers before declaring the input garbage (replies are short)."""


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no final XOR), the manual's "CCITT"."""
    return binascii.crc_hqx(data, 0)


class Framing(enum.Enum):
    BASIC = "basic"
    SAFE = "safe"


# --------------------------------------------------------------------------------------------
# Requests


def _check_address(address: int | None) -> str:
    if address is None:
        return ""
    if not 0 <= address <= MAX_ADDRESS:
        raise ValueError(f"address {address} outside 0-{MAX_ADDRESS}")
    return str(address)


def _safe_frame(data: bytes) -> bytes:
    if len(data) + 4 > 255:
        raise ValueError("safe-mode packet longer than 255 bytes")
    crc = crc16_xmodem(data)
    return bytes([STX, len(data) + 4, *data, crc >> 8, crc & 0xFF, ETX])


def encode_request(command: str, *, address: int | None = 0, framing: Framing) -> bytes:
    """Frame ``[address]command`` for the wire.

    ``address=None`` sends no prefix (use it for ``*`` system commands such as ``"*RESET"``).
    ``command`` must be printable ASCII without STX/ETX/CR; it is sent as given (the pump itself
    strips spaces and upper-cases).
    """
    data = (_check_address(address) + command).encode("ascii")
    if any(b < 0x20 or b > 0x7E for b in data):
        raise ValueError(f"non-printable byte in command {command!r}")
    if framing is Framing.BASIC:
        return data + bytes([CR])
    return _safe_frame(data)


# --------------------------------------------------------------------------------------------
# Numbers and units

_NUMBER_RE = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


def decode_number(text: str) -> Decimal:
    """Parse a protocol number tolerantly: ``6000.``, ``6000``, ``14.43``, ``.5``; never a float."""
    if not _NUMBER_RE.fullmatch(text):
        raise PayloadError(f"not a protocol number: {text!r}")
    return Decimal(text)


def encode_number(value: Decimal | int) -> str:
    """Encode a non-negative value exactly in the protocol's ``<float>`` grammar.

    At most 4 digits plus one decimal point and at most 3 decimals. The representation is fixed
    width (``1.000``, ``12.50``, ``100.0``, ``1234``) so the receiver sees the precision. Raises
    ``ValueError`` when ``value`` cannot be represented exactly (use :func:`format_volume` /
    :func:`format_rate` to choose units and round).
    """
    d = Decimal(value)
    if not d.is_finite() or d < 0:
        raise ValueError(f"cannot encode {value!r}")
    int_digits = len(str(int(d)))
    if int_digits > 4:
        raise ValueError(f"{value} has more than 4 integer digits")
    decimals = min(3, 4 - int_digits)
    q = d.quantize(Decimal(1).scaleb(-decimals)) if decimals else d.quantize(Decimal(1))
    if q != d:
        raise ValueError(f"{value} needs more than {decimals} decimals")
    return f"{q:.{decimals}f}"


def format_reply_number(value: Decimal | int, *, trailing_point: bool = True) -> str:
    """Pump-side reply form: 4 significant digits and a point (``6000.``) or bare (``6000``).

    The value is truncated (not rounded) to the available decimals, like a display would.
    """
    d = Decimal(value)
    int_digits = len(str(int(d)))
    if d < 0 or int_digits > 4:
        raise ValueError(f"cannot format {value!r}")
    decimals = min(3, 4 - int_digits)
    q = d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
    text = f"{q:.{decimals}f}"
    if decimals == 0 and trailing_point:
        text += "."
    return text


class VolumeUnit(enum.Enum):
    UL = "UL"
    ML = "ML"

    @property
    def nl(self) -> int:
        """Nanolitres per one unit."""
        return 1_000 if self is VolumeUnit.UL else 1_000_000


class RateUnit(enum.Enum):
    UM = "UM"
    MM = "MM"
    UH = "UH"
    MH = "MH"

    @property
    def nl_per_h(self) -> int:
        """Nanolitres per hour for one unit."""
        return {"UM": 60_000, "MM": 60_000_000, "UH": 1_000, "MH": 1_000_000}[self.value]


@dataclass(frozen=True)
class EncodedQuantity:
    """A quantity as sent: ``text`` + ``unit`` represent exactly ``value`` base units."""

    text: str
    unit: str
    value: int
    """Represented value in the base unit (nl or nl/h); may differ from the request if inexact."""
    exact: bool

    @property
    def wire(self) -> str:
        return self.text + self.unit


def _best(value: int, units: list[tuple[str, int]], rounding: str) -> EncodedQuantity:
    if value <= 0:
        raise ValueError(f"quantity must be positive, got {value}")
    best: EncodedQuantity | None = None
    for name, scale in units:
        d = Decimal(value) / Decimal(scale)
        int_digits = len(str(int(d)))
        if int_digits > 4:
            continue
        decimals = min(3, 4 - int_digits)
        q = d.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)
        if len(str(int(q))) > 4 or q == 0:
            continue
        represented = q * scale
        if represented != represented.to_integral_value():  # pragma: no cover - scales >= 1000
            continue
        cand = EncodedQuantity(encode_number(q), name, int(represented), int(represented) == value)
        if best is None or abs(cand.value - value) < abs(best.value - value):
            best = cand
    if best is None:
        raise ValueError(f"{value} cannot be represented in any unit")
    return best


def format_volume(nl: int, *, rounding: str = ROUND_DOWN) -> EncodedQuantity:
    """Choose ``UL``/``ML`` and digits for a volume in integer nanolitres (smallest error wins;
    ties go to the finer unit). Rounds toward zero by default so the pump never gets more than
    asked; check ``exact`` / ``value``."""
    return _best(nl, [(u.value, u.nl) for u in (VolumeUnit.UL, VolumeUnit.ML)], rounding)


def format_rate(nl_per_h: int, *, rounding: str = ROUND_DOWN) -> EncodedQuantity:
    """Choose ``UH``/``UM``/``MH``/``MM`` and digits for a rate in integer nl/h (smallest error
    wins; ties go to the finer unit)."""
    order = (RateUnit.UH, RateUnit.UM, RateUnit.MH, RateUnit.MM)
    return _best(nl_per_h, [(u.value, u.nl_per_h) for u in order], rounding)


# --------------------------------------------------------------------------------------------
# Payload decoders


class PayloadError(ValueError):
    """The data part of a reply does not have the expected shape."""


def _to_base(number: Decimal, scale: int, text: str) -> int:
    v = number * scale
    if v != v.to_integral_value():
        raise PayloadError(f"{text!r} is not a whole number of base units")
    return int(v)


_QTY_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([A-Z]{2})", re.ASCII)


def decode_volume(data: str) -> tuple[int, VolumeUnit]:
    """``VOL`` query data (``5.000UL``) -> (nanolitres, unit)."""
    m = _QTY_RE.fullmatch(data)
    if m is None or m[2] not in VolumeUnit.__members__:
        raise PayloadError(f"not a volume: {data!r}")
    unit = VolumeUnit(m[2])
    return _to_base(Decimal(m[1]), unit.nl, data), unit


def decode_rate(data: str) -> tuple[int, RateUnit]:
    """``RAT`` query data (``6000.UH``) -> (nanolitres per hour, unit)."""
    m = _QTY_RE.fullmatch(data)
    if m is None or m[2] not in RateUnit.__members__:
        raise PayloadError(f"not a rate: {data!r}")
    unit = RateUnit(m[2])
    return _to_base(Decimal(m[1]), unit.nl_per_h, data), unit


@dataclass(frozen=True)
class Dispensed:
    infused_nl: int
    withdrawn_nl: int
    unit: VolumeUnit


_DIS_RE = re.compile(r"I(\d+(?:\.\d*)?|\.\d+)W(\d+(?:\.\d*)?|\.\d+)(UL|ML)", re.ASCII)


def decode_dispensed(data: str) -> Dispensed:
    """``DIS`` query data (``I0.050W0.000ML``) -> :class:`Dispensed` in nanolitres."""
    m = _DIS_RE.fullmatch(data)
    if m is None:
        raise PayloadError(f"not a DIS payload: {data!r}")
    unit = VolumeUnit(m[3])
    return Dispensed(
        _to_base(Decimal(m[1]), unit.nl, data), _to_base(Decimal(m[2]), unit.nl, data), unit
    )


def decode_diameter_um(data: str) -> int:
    """``DIA`` query data in mm (``14.43``) -> integer micrometres."""
    return _to_base(decode_number(data), 1000, data)


def decode_int(data: str) -> int:
    """Integer settings (``SAF``, ``PF``, ``AL``, ``PHN``); a trailing point is tolerated."""
    n = decode_number(data)
    if n != n.to_integral_value():
        raise PayloadError(f"not an integer: {data!r}")
    return int(n)


class Direction(enum.Enum):
    INFUSE = "INF"
    WITHDRAW = "WDR"


def decode_direction(data: str) -> Direction:
    try:
        return Direction(data)
    except ValueError:
        raise PayloadError(f"not a direction: {data!r}") from None


@dataclass(frozen=True)
class Version:
    model: int
    major: int
    minor: int
    upgrade: int
    """0 when the firmware has no ``X`` upgrade marker."""


_VER_RE = re.compile(r"NE(\d+)(?:X(\d*))?V(\d+)\.(\d+)", re.ASCII)


def decode_version(data: str) -> Version:
    """``VER`` data (``NE1000V3.928``, ``NE1002X2V3.928``) -> :class:`Version`."""
    m = _VER_RE.fullmatch(data)
    if m is None:
        raise PayloadError(f"not a version: {data!r}")
    upgrade = 0 if m[2] is None else (int(m[2]) if m[2] else 1)
    return Version(int(m[1]), int(m[3]), int(m[4]), upgrade)


# --------------------------------------------------------------------------------------------
# Replies


class Prompt(enum.Enum):
    INFUSING = "I"
    WITHDRAWING = "W"
    STOPPED = "S"
    PAUSED = "P"
    TIMED_PAUSE = "T"
    USER_WAIT = "U"
    PURGING = "X"

    @property
    def moving(self) -> bool:
        return self in (Prompt.INFUSING, Prompt.WITHDRAWING, Prompt.PURGING)


class Alarm(enum.Enum):
    RESET = "R"
    STALL = "S"
    SAFE_TIMEOUT = "T"
    PROGRAM_ERROR = "E"
    OUT_OF_RANGE = "O"


class CommandError(enum.Enum):
    NOT_RECOGNIZED = ""
    NOT_APPLICABLE = "NA"
    OUT_OF_RANGE = "OOR"
    COMMUNICATION = "COM"
    IGNORED = "IGN"


@dataclass(frozen=True)
class StatusReply:
    """``<addr><prompt>[<data>]``: a set command (empty data) or a query answer."""

    address: int
    prompt: Prompt
    data: str
    raw: bytes
    solicited: bool = True


@dataclass(frozen=True)
class AlarmReply:
    """``<addr>A?<type>``: the command that got this reply was *not* executed."""

    address: int
    alarm: Alarm
    data: str
    raw: bytes
    solicited: bool = True


@dataclass(frozen=True)
class ErrorReply:
    """``<addr><prompt>?<error>``: the command was rejected; ``prompt`` is the pump's state."""

    address: int
    prompt: Prompt
    error: CommandError
    raw: bytes
    solicited: bool = True


class ProtocolErrorKind(enum.Enum):
    GARBAGE = "garbage"
    """Bytes outside any frame."""
    BAD_CRC = "bad_crc"
    BAD_FRAME = "bad_frame"
    """Safe frame whose declared length does not end on ETX, or an impossible length byte."""
    MALFORMED = "malformed"
    """A complete frame whose body is not ``<addr><status>[<data>]``."""
    WRONG_ADDRESS = "wrong_address"
    TRUNCATED = "truncated"
    """A partial frame discarded by :meth:`ReplyParser.flush` (silence) or a new STX."""
    OVERLONG = "overlong"


@dataclass(frozen=True)
class ProtocolError:
    kind: ProtocolErrorKind
    detail: str
    raw: bytes
    reply: StatusReply | AlarmReply | ErrorReply | None = None
    """For ``WRONG_ADDRESS``: the otherwise valid reply."""


Reply = StatusReply | AlarmReply | ErrorReply
Event = StatusReply | AlarmReply | ErrorReply | ProtocolError

_BODY_RE = re.compile(r"(\d{1,2})([IWSPTUX]|A\?)(.*)", re.ASCII | re.DOTALL)


def parse_body(body: bytes, raw: bytes, *, solicited: bool = True) -> Reply | ProtocolError:
    """Parse ``<address><status>[<data>]`` (the frame contents)."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return ProtocolError(ProtocolErrorKind.MALFORMED, "non-ASCII reply", raw)
    if any(not 0x20 <= ord(c) <= 0x7E for c in text):
        return ProtocolError(ProtocolErrorKind.MALFORMED, "control character in reply", raw)
    m = _BODY_RE.fullmatch(text)
    if m is None:
        return ProtocolError(ProtocolErrorKind.MALFORMED, f"unparseable reply {text!r}", raw)
    address, status, rest = int(m[1]), m[2], m[3]
    if status == "A?":
        if not rest:
            return ProtocolError(ProtocolErrorKind.MALFORMED, "alarm without type", raw)
        try:
            alarm = Alarm(rest[0])
        except ValueError:
            return ProtocolError(ProtocolErrorKind.MALFORMED, f"unknown alarm {rest[0]!r}", raw)
        return AlarmReply(address, alarm, rest[1:], raw, solicited)
    prompt = Prompt(status)
    if rest.startswith("?"):
        try:
            error = CommandError(rest[1:])
        except ValueError:
            return ProtocolError(ProtocolErrorKind.MALFORMED, f"unknown error {rest!r}", raw)
        return ErrorReply(address, prompt, error, raw, solicited)
    return StatusReply(address, prompt, rest, raw, solicited)


@dataclass
class ReplyParser:
    """Incremental reply parser (host side). Feed it any chunks; it never raises on bad input.

    ``framing`` must match what the pump sends: set it to ``SAFE`` before sending ``SAF n`` (n > 0)
    and to ``BASIC`` before ``SAF 0``, because the reply to ``SAF`` is framed in the new mode.
    ``expected_address``: replies from another address become ``WRONG_ADDRESS`` errors.
    Call :meth:`note_request` when a request is written; replies beyond the outstanding count are
    ``solicited=False`` (Safe-mode Auto-Alarm). Call :meth:`flush` on a read time-out.
    """

    framing: Framing = Framing.BASIC
    expected_address: int | None = None
    outstanding: int = 0
    _buf: bytearray = field(default_factory=bytearray, repr=False)

    def note_request(self) -> None:
        self.outstanding += 1

    def pending(self) -> bytes:
        """Buffered bytes of an incomplete frame."""
        return bytes(self._buf)

    def flush(self) -> list[Event]:
        """Declare silence: discard a partial frame (``TRUNCATED``) and stop waiting for replies."""
        events: list[Event] = []
        if self._buf:
            kind = ProtocolErrorKind.TRUNCATED if self._buf[0] == STX else ProtocolErrorKind.GARBAGE
            events.append(ProtocolError(kind, "partial frame discarded", bytes(self._buf)))
            self._buf.clear()
        self.outstanding = 0
        return events

    def feed(self, chunk: bytes) -> list[Event]:
        self._buf.extend(chunk)
        events: list[Event] = []
        while self._buf:
            # Anything before STX is garbage.
            start = self._buf.find(STX)
            if start != 0:
                end = len(self._buf) if start < 0 else start
                events.append(
                    ProtocolError(
                        ProtocolErrorKind.GARBAGE, "bytes outside a frame", bytes(self._buf[:end])
                    )
                )
                del self._buf[:end]
                continue
            step = self._basic() if self.framing is Framing.BASIC else self._safe()
            if step is None:
                break
            events.extend(step)
        return events

    def _frame_done(self) -> bool:
        solicited = self.outstanding > 0
        if solicited:
            self.outstanding -= 1
        return solicited

    def _finish(self, body: bytes, raw: bytes) -> Event:
        result = parse_body(body, raw, solicited=self._frame_done())
        if (
            not isinstance(result, ProtocolError)
            and self.expected_address is not None
            and result.address != self.expected_address
        ):
            return ProtocolError(
                ProtocolErrorKind.WRONG_ADDRESS,
                f"reply from address {result.address}, expected {self.expected_address}",
                raw,
                result,
            )
        return result

    def _basic(self) -> list[Event] | None:
        buf = self._buf
        nxt_stx = buf.find(STX, 1)
        etx = buf.find(ETX, 1)
        if nxt_stx > 0 and (etx < 0 or nxt_stx < etx):
            raw = bytes(buf[:nxt_stx])
            del buf[:nxt_stx]
            return [ProtocolError(ProtocolErrorKind.TRUNCATED, "STX inside a frame", raw)]
        if etx < 0:
            if len(buf) > MAX_FRAME:
                raw = bytes(buf)
                buf.clear()
                return [ProtocolError(ProtocolErrorKind.OVERLONG, "no ETX", raw)]
            return None
        raw = bytes(buf[: etx + 1])
        del buf[: etx + 1]
        return [self._finish(raw[1:-1], raw)]

    def _safe(self) -> list[Event] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        length = buf[1]
        if length < 4 or length > MAX_FRAME:
            raw = bytes(buf[:1])
            del buf[:1]
            return [ProtocolError(ProtocolErrorKind.BAD_FRAME, f"length byte {length}", raw)]
        total = length + 1
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        if raw[-1] != ETX:
            # Resynchronise on the next STX after this one.
            del buf[:1]
            return [
                ProtocolError(
                    ProtocolErrorKind.BAD_FRAME, "declared length does not end on ETX", raw[:1]
                )
            ]
        del buf[:total]
        body = raw[2:-3]
        crc = (raw[-3] << 8) | raw[-2]
        if crc != crc16_xmodem(body):
            self._frame_done()
            return [
                ProtocolError(
                    ProtocolErrorKind.BAD_CRC, f"CRC {crc:04X} != {crc16_xmodem(body):04X}", raw
                )
            ]
        return [self._finish(body, raw)]


# --------------------------------------------------------------------------------------------
# Pump side: requests in, replies out (used by the emulator)


@dataclass(frozen=True)
class Request:
    framing: Framing
    data: str
    """Command data as received (address included, not normalised)."""
    raw: bytes


@dataclass(frozen=True)
class RequestError:
    """Safe packet with a bad CRC/length/ETX (the pump answers ``?COM``), or a packet dropped by
    the 0.5 s inter-byte time-out (``timeout=True``, the pump stays silent)."""

    detail: str
    raw: bytes
    timeout: bool = False


class RequestParser:
    """Pump-side parser: Basic requests end at CR, Safe requests start with STX and a length.

    Basic bytes are accumulated until CR; an STX at the start of a request begins a Safe packet.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def partial(self) -> bool:
        return bool(self._buf)

    def expire(self) -> list[Request | RequestError]:
        """Inter-byte time-out: discard a partial Safe packet (Basic input is kept)."""
        if self._buf and self._buf[0] == STX:
            raw = bytes(self._buf)
            self._buf.clear()
            return [RequestError("inter-byte time-out", raw, timeout=True)]
        return []

    def feed(self, chunk: bytes) -> list[Request | RequestError]:
        self._buf.extend(chunk)
        out: list[Request | RequestError] = []
        while self._buf:
            buf = self._buf
            if buf[0] == STX:
                if len(buf) < 2:
                    break
                length = buf[1]
                if length < 4:
                    out.append(RequestError(f"length byte {length}", bytes(buf[:2])))
                    del buf[:2]
                    continue
                if len(buf) < length + 1:
                    break
                raw = bytes(buf[: length + 1])
                del buf[: length + 1]
                body = raw[2:-3]
                crc = (raw[-3] << 8) | raw[-2]
                if raw[-1] != ETX:
                    out.append(RequestError("no ETX at declared length", raw))
                elif crc != crc16_xmodem(body):
                    out.append(RequestError("bad CRC", raw))
                else:
                    out.append(Request(Framing.SAFE, body.decode("latin-1"), raw))
                continue
            cr = buf.find(CR)
            stx = buf.find(STX)
            if stx >= 0 and (cr < 0 or stx < cr):
                # A Basic fragment interrupted by a Safe packet: drop the fragment.
                del buf[:stx]
                continue
            if cr < 0:
                if len(buf) > 256:
                    buf.clear()
                break
            raw = bytes(buf[: cr + 1])
            del buf[: cr + 1]
            out.append(Request(Framing.BASIC, raw[:-1].decode("latin-1"), raw))
        return out


def normalize_command(data: str) -> str:
    """The pump strips spaces and control characters and upper-cases (``"0 rat 100"`` works)."""
    return "".join(c for c in data if 0x20 < ord(c) < 0x7F).upper()


def split_address(data: str) -> tuple[int | str | None, str]:
    """``"12RAT100"`` -> ``(12, "RAT100")``; ``"*RESET"`` -> ``("*", "RESET")``; no prefix -> None.

    ``data`` should be normalised first.
    """
    if data.startswith(SYSTEM_ADDRESS):
        return SYSTEM_ADDRESS, data[1:]
    m = re.match(r"\d{1,2}", data)
    if m is None:
        return None, data
    return int(m[0]), data[m.end() :]


def encode_reply(address: int, body: str, framing: Framing) -> bytes:
    """Pump reply: ``STX <2-digit address><body> ETX`` or the Safe frame of the same data."""
    data = f"{address:02d}{body}".encode("ascii")
    if framing is Framing.BASIC:
        return bytes([STX]) + data + bytes([ETX])
    return _safe_frame(data)


_STRICT_RE = re.compile(r"(\d{1,4})(?:\.(\d{0,3}))?|\.(\d{1,3})", re.ASCII)


def parse_sent_number(text: str) -> Decimal | None:
    """Pump side, strict: at most 4 digits plus one point, at most 3 decimals; else None."""
    m = _STRICT_RE.fullmatch(text)
    if m is None:
        return None
    digits = sum(1 for c in text if c.isdigit())
    if digits == 0 or digits > 4:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None
