"""The sans-IO New Era codec: framing, CRC, numbers, reply parsing, payload decoders."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itdose.adapters.newera.codec import (
    CR,
    ETX,
    STX,
    Alarm,
    AlarmReply,
    CommandError,
    Direction,
    ErrorReply,
    Event,
    Framing,
    PayloadError,
    Prompt,
    ProtocolError,
    ProtocolErrorKind,
    RateUnit,
    Request,
    RequestError,
    RequestParser,
    StatusReply,
    VolumeUnit,
    crc16_xmodem,
    decode_diameter_um,
    decode_direction,
    decode_dispensed,
    decode_int,
    decode_number,
    decode_rate,
    decode_version,
    decode_volume,
    encode_number,
    encode_reply,
    encode_request,
    format_rate,
    format_reply_number,
    format_volume,
    normalize_command,
    parse_sent_number,
    split_address,
)


def bitwise_crc16_xmodem(data: bytes) -> int:
    """Independent reference: poly 0x1021, init 0, MSB first, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


# ------------------------------------------------------------------ CRC and framing


def test_manual_safe_mode_example_packet_byte_for_byte() -> None:
    # NE-1000 manual: (0x2)(0x8) SAF0 (0x55)(0x43)(0x3)
    assert encode_request("SAF0", address=None, framing=Framing.SAFE) == bytes(
        [0x02, 0x08, *b"SAF0", 0x55, 0x43, 0x03]
    )


def test_crc_check_value_and_worked_packets() -> None:
    assert crc16_xmodem(b"123456789") == 0x31C3  # the catalogued CRC-16/XMODEM check value
    assert encode_request("", address=0, framing=Framing.SAFE) == bytes.fromhex("020530365303")
    assert encode_reply(0, "S", Framing.SAFE) == bytes.fromhex("02073030 53AAA603".replace(" ", ""))


@given(st.binary(max_size=64))
def test_crc_matches_bitwise_reference(data: bytes) -> None:
    assert crc16_xmodem(data) == bitwise_crc16_xmodem(data)


def test_basic_framing_and_address_checks() -> None:
    assert encode_request("RAT12.50UH", address=3, framing=Framing.BASIC) == b"3RAT12.50UH\r"
    assert encode_request("*RESET", address=None, framing=Framing.BASIC) == b"*RESET\r"
    assert encode_reply(7, "SNE1000V3.928", Framing.BASIC) == b"\x0207SNE1000V3.928\x03"
    with pytest.raises(ValueError):
        encode_request("VER", address=100, framing=Framing.BASIC)
    with pytest.raises(ValueError):
        encode_request("VER", address=-1, framing=Framing.SAFE)
    with pytest.raises(ValueError):
        encode_request("V\rER", address=0, framing=Framing.BASIC)


@given(
    st.integers(0, 99),
    st.from_regex(r"(?:[A-Za-z][A-Za-z0-9. ]{0,19})?", fullmatch=True),
)
def test_safe_request_round_trip(address: int, command: str) -> None:
    frame = encode_request(command, address=address, framing=Framing.SAFE)
    assert frame[0] == STX and frame[-1] == ETX and frame[1] == len(frame) - 1
    (req,) = RequestParser().feed(frame)
    assert isinstance(req, Request) and req.framing is Framing.SAFE
    addr, cmd = split_address(normalize_command(req.data))
    assert req.data == f"{address}{command}"
    assert (addr, cmd) == (address, normalize_command(command))


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.001"), "0.001"),
        (Decimal("12.5"), "12.50"),
        (Decimal("100"), "100.0"),
        (Decimal("9999"), "9999"),
        (Decimal("1.25"), "1.250"),
        (14, "14.00"),
    ],
)
def test_encode_number_fixed_width(value: Decimal | int, text: str) -> None:
    assert encode_number(value) == text
    assert decode_number(text) == Decimal(value)


@pytest.mark.parametrize("value", [Decimal("10000"), Decimal("0.0001"), Decimal("12.345"), -1])
def test_encode_number_rejects_what_the_grammar_cannot_carry(value: Decimal | int) -> None:
    with pytest.raises(ValueError):
        encode_number(value)


@given(st.integers(1, 9_999_000))
def test_encode_number_respects_grammar(thousandths: int) -> None:
    value = Decimal(thousandths) / 1000
    try:
        text = encode_number(value)
    except ValueError:
        # Only values that need more decimals than the integer part allows are refused.
        int_digits = len(str(int(value)))
        assert value.as_tuple().exponent < -min(3, 4 - int_digits)  # type: ignore[operator]
        return
    assert sum(c.isdigit() for c in text) <= 4 and text.count(".") <= 1
    assert decode_number(text) == value
    assert parse_sent_number(text) == value


def test_decode_number_is_tolerant_about_the_point() -> None:
    assert decode_number("6000.") == decode_number("6000") == Decimal(6000)
    assert decode_number(".5") == Decimal("0.5")
    for bad in ["", ".", "1e3", "-1", "1.2.3", " 1", "NaN", "١"]:
        with pytest.raises(PayloadError):
            decode_number(bad)


def test_parse_sent_number_is_strict() -> None:
    assert parse_sent_number("12.50") == Decimal("12.5")
    assert parse_sent_number("9999") == Decimal(9999)
    for bad in ["12345", "1.2345", "12.345", "", ".", "1.2.3", "a"]:
        assert parse_sent_number(bad) is None


def test_format_reply_number_styles() -> None:
    assert format_reply_number(Decimal(6000)) == "6000."
    assert format_reply_number(Decimal(6000), trailing_point=False) == "6000"
    assert format_reply_number(Decimal("14.4339")) == "14.43"  # truncated, not rounded
    assert format_reply_number(Decimal("0.05")) == "0.050"
    assert format_reply_number(Decimal("100")) == "100.0"


def test_format_quantity_examples() -> None:
    q = format_rate(12_500)  # 12.5 µL/h
    assert (q.wire, q.value, q.exact) == ("12.50UH", 12_500, True)
    q = format_rate(12_345_678)  # 12.345678 mL/h: µL/min keeps more digits than mL/h
    assert q.unit == "UM" and q.text == "205.7" and q.value == 12_342_000 and not q.exact
    q = format_volume(5_000)
    assert q.wire == "5.000UL" and q.exact
    q = format_volume(1_234_567_800)  # 1234.5678 mL
    assert (q.wire, q.value) == ("1234ML", 1_234_000_000)
    assert format_rate(1_999, rounding=ROUND_HALF_EVEN).text == "1.999"
    with pytest.raises(ValueError):
        format_volume(0)
    with pytest.raises(ValueError):
        format_volume(10**16)


VOLUME_SCALES = {u.value: u.nl for u in VolumeUnit}
RATE_SCALES = {u.value: u.nl_per_h for u in RateUnit}


@given(st.integers(1, 9_999_000_000), st.booleans())
def test_format_chooses_best_unit_and_never_rounds_up(value: int, is_rate: bool) -> None:
    scales = RATE_SCALES if is_rate else VOLUME_SCALES
    q = format_rate(value) if is_rate else format_volume(value)
    assert q.value == decode_number(q.text) * scales[q.unit]
    assert 0 < q.value <= value and q.exact == (q.value == value)
    assert (value - q.value) * 1000 < value  # 4 significant digits: relative error < 0.1 %
    # No other unit could carry a value closer to the request.
    for unit, scale in scales.items():
        d = Decimal(value) / scale
        if len(str(int(d))) > 4:
            continue
        text = format_reply_number(d, trailing_point=False)
        alt = decode_number(text) * scale
        if unit != q.unit and alt > 0:
            assert value - alt >= value - q.value


# ------------------------------------------------------------------ replies


def frames(bodies: list[str], framing: Framing, address: int = 0) -> bytes:
    return b"".join(encode_reply(address, b, framing) for b in bodies)


def parse_all(data: bytes, framing: Framing, **kw: int) -> list[Event]:
    from itdose.adapters.newera.codec import ReplyParser

    parser = ReplyParser(framing=framing, expected_address=kw.get("expected"))
    for _ in range(kw.get("requests", 100)):
        parser.note_request()
    return parser.feed(data)


@pytest.mark.parametrize("framing", list(Framing))
@pytest.mark.parametrize("prompt", list(Prompt))
def test_every_prompt(framing: Framing, prompt: Prompt) -> None:
    (ev,) = parse_all(frames([prompt.value + "12.50UH"], framing, 42), framing)
    assert isinstance(ev, StatusReply)
    assert (ev.address, ev.prompt, ev.data) == (42, prompt, "12.50UH")


@pytest.mark.parametrize("framing", list(Framing))
@pytest.mark.parametrize("alarm", list(Alarm))
def test_every_alarm(framing: Framing, alarm: Alarm) -> None:
    (ev,) = parse_all(frames(["A?" + alarm.value], framing, 5), framing)
    assert isinstance(ev, AlarmReply) and ev.alarm is alarm and ev.address == 5
    assert {a.value for a in Alarm} == set("RSTEO")


@pytest.mark.parametrize("framing", list(Framing))
@pytest.mark.parametrize("error", list(CommandError))
def test_every_error_reply(framing: Framing, error: CommandError) -> None:
    (ev,) = parse_all(frames(["I?" + error.value], framing), framing)
    assert isinstance(ev, ErrorReply) and ev.error is error and ev.prompt is Prompt.INFUSING
    assert {e.value for e in CommandError} == {"", "NA", "OOR", "COM", "IGN"}


def test_one_digit_address_and_malformed_bodies() -> None:
    (ev,) = parse_all(b"\x027S\x03", Framing.BASIC)
    assert isinstance(ev, StatusReply) and ev.address == 7
    for body in [b"", b"00", b"00Q", b"00A?", b"00A?Z", b"00S?XYZ", b"S00", b"00S\x01", b"00\xffS"]:
        (ev,) = parse_all(b"\x02" + body + b"\x03", Framing.BASIC)
        assert isinstance(ev, ProtocolError) and ev.kind is ProtocolErrorKind.MALFORMED, body


REPLY_BODIES = ["S", "INE1000V3.928", "SI0.050W0.000ML", "A?S", "P?NA", "S6000.UH", "X", "A?R"]


@pytest.mark.parametrize("framing", list(Framing))
@given(data=st.data())
def test_fragmented_and_merged_reads_give_the_same_events(
    framing: Framing, data: st.DataObject
) -> None:
    bodies = data.draw(st.lists(st.sampled_from(REPLY_BODIES), min_size=1, max_size=6))
    stream = frames(bodies, framing, 3)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    from itdose.adapters.newera.codec import ReplyParser

    parser = ReplyParser(framing=framing, expected_address=3)
    events: list[Event] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        events.extend(parser.feed(stream[prev:cut]))
        prev = cut
    assert [e.raw for e in events] == [encode_reply(3, b, framing) for b in bodies]
    assert not any(isinstance(e, ProtocolError) for e in events)
    assert parser.pending() == b""


@pytest.mark.parametrize("framing", list(Framing))
@given(st.binary(max_size=80), st.lists(st.integers(1, 8), max_size=20))
def test_parser_never_raises_and_accounts_for_every_byte(
    framing: Framing, junk: bytes, sizes: list[int]
) -> None:
    from itdose.adapters.newera.codec import ReplyParser

    parser = ReplyParser(framing=framing)
    stream = junk + frames(["S"], framing)
    events: list[Event] = []
    pos = 0
    for size in [*sizes, len(stream)]:
        events.extend(parser.feed(stream[pos : pos + size]))
        pos += size
    consumed = b"".join(e.raw for e in events) + parser.pending()
    assert consumed == stream
    events.extend(parser.flush())
    assert b"".join(e.raw for e in events) == stream
    assert parser.pending() == b""


def test_garbage_crc_and_wrong_address_are_typed_errors() -> None:
    good = encode_reply(0, "S", Framing.SAFE)
    bad = bytearray(good)
    bad[3] ^= 0x01
    evs = parse_all(
        b"\xff\x00" + bytes(bad) + frames(["A?T"], Framing.SAFE, 9) + good, Framing.SAFE, expected=0
    )
    kinds = [e.kind if isinstance(e, ProtocolError) else type(e) for e in evs]
    assert kinds == [
        ProtocolErrorKind.GARBAGE,
        ProtocolErrorKind.BAD_CRC,
        ProtocolErrorKind.WRONG_ADDRESS,
        StatusReply,
    ]
    wrong = evs[2]
    assert isinstance(wrong, ProtocolError) and isinstance(wrong.reply, AlarmReply)
    assert wrong.reply.address == 9


def test_safe_frame_with_wrong_length_resynchronises() -> None:
    good = encode_reply(0, "I", Framing.SAFE)
    broken = bytes([STX, 9, *b"00S", 0, 0, ETX])  # declares 9, ETX arrives early
    evs = parse_all(broken + good + bytes([STX, 2]) + good, Framing.SAFE)
    replies = [e for e in evs if isinstance(e, StatusReply)]
    assert [r.prompt for r in replies] == [Prompt.INFUSING, Prompt.INFUSING]
    assert any(isinstance(e, ProtocolError) and e.kind is ProtocolErrorKind.BAD_FRAME for e in evs)


def test_basic_stx_inside_frame_and_overlong_and_flush() -> None:
    from itdose.adapters.newera.codec import ReplyParser

    p = ReplyParser()
    evs = p.feed(b"\x0200S12\x0200I\x03")
    assert [type(e) for e in evs] == [ProtocolError, StatusReply]
    assert isinstance(evs[0], ProtocolError) and evs[0].kind is ProtocolErrorKind.TRUNCATED
    assert p.feed(b"\x0200S") == [] and p.pending() == b"\x0200S"
    (ev,) = p.flush()
    assert isinstance(ev, ProtocolError) and ev.kind is ProtocolErrorKind.TRUNCATED
    (ev,) = p.feed(b"\x02" + b"0" * 200)
    assert isinstance(ev, ProtocolError) and ev.kind is ProtocolErrorKind.OVERLONG


def test_unsolicited_alarm_frames_are_demultiplexed() -> None:
    from itdose.adapters.newera.codec import ReplyParser

    p = ReplyParser(framing=Framing.SAFE, expected_address=0)
    (auto,) = p.feed(encode_reply(0, "A?T", Framing.SAFE))
    assert isinstance(auto, AlarmReply) and not auto.solicited
    p.note_request()
    (reply,) = p.feed(encode_reply(0, "A?T", Framing.SAFE))
    assert isinstance(reply, AlarmReply) and reply.solicited
    (late,) = p.feed(encode_reply(0, "S", Framing.SAFE))
    assert isinstance(late, StatusReply) and not late.solicited


# ------------------------------------------------------------------ payloads


def test_payload_decoders() -> None:
    assert decode_volume("5.000UL") == (5_000, VolumeUnit.UL)
    assert decode_volume("1.5ML") == (1_500_000, VolumeUnit.ML)
    assert decode_rate("6000.UH") == decode_rate("6000UH") == (6_000_000, RateUnit.UH)
    assert decode_rate("100.0UM") == (6_000_000, RateUnit.UM)
    assert decode_rate("1.000MM") == (60_000_000, RateUnit.MM)
    assert decode_rate("0.500MH") == (500_000, RateUnit.MH)
    dis = decode_dispensed("I0.050W0.001ML")
    assert (dis.infused_nl, dis.withdrawn_nl, dis.unit) == (50_000, 1_000, VolumeUnit.ML)
    assert decode_dispensed("I6000.W0UL").infused_nl == 6_000_000
    assert decode_diameter_um("14.43") == 14_430
    assert decode_int("2") == decode_int("2.") == 2
    assert decode_direction("WDR") is Direction.WITHDRAW
    v = decode_version("NE1000V3.928")
    assert (v.model, v.major, v.minor, v.upgrade) == (1000, 3, 928, 0)
    assert decode_version("NE1002X2V3.928").upgrade == 2
    assert decode_version("NE1002XV3.928").upgrade == 1
    for fn, bad in [
        (decode_volume, "5.000UH"),
        (decode_volume, "0.0001UL"),
        (decode_rate, "100.0"),
        (decode_dispensed, "I1W2"),
        (decode_int, "2.5"),
        (decode_direction, "UP"),
        (decode_version, "NE1000"),
        (decode_diameter_um, "1.2345"),
    ]:
        with pytest.raises(PayloadError):
            fn(bad)


# ------------------------------------------------------------------ pump side


def test_request_parser_basic_safe_errors_and_expiry() -> None:
    p = RequestParser()
    safe = encode_request("VER", address=1, framing=Framing.SAFE)
    bad = bytearray(safe)
    bad[-2] ^= 0xFF
    out = p.feed(b"0 rat 1" + safe + b"0VER\r" + bytes(bad))
    assert [type(o) for o in out] == [Request, Request, RequestError]
    assert out[0].raw == safe and isinstance(out[1], Request) and out[1].data == "0VER"
    assert p.feed(safe[:3]) == [] and p.partial
    (expired,) = p.expire()
    assert isinstance(expired, RequestError) and expired.timeout
    assert p.feed(b"0DI") == [] and p.expire() == []  # Basic input has no time-out
    (req,) = p.feed(bytes([CR]))
    assert isinstance(req, Request) and req.data == "0DI"


def test_normalize_and_split_address() -> None:
    assert normalize_command("0 rat 100\t") == "0RAT100"
    assert split_address("12RAT100") == (12, "RAT100")
    assert split_address("*RESET") == ("*", "RESET")
    assert split_address("VER") == (None, "VER")
    assert split_address("0") == (0, "")
