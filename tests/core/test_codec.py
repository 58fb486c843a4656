"""The state codec (core/codec.py): the exact
encoding of each value kind, the error contract of the decoder and of ``check_fields``
(``field``, ``message``, ``value``, ``limit``), the integer and string bounds, and the unsupported
type errors (REQ-CORE-003, REQ-CORE-004)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable

import pytest

from itdose.core.alarms import AlarmKind
from itdose.core.codec import check_fields, decode, encode
from itdose.core.errors import InvalidInput
from itdose.core.ledger import Ledger
from itdose.core.state import ActiveAlarm, Device, Phase, TrialDose

MAX = 2**63 - 1


class Num(enum.Enum):
    ONE = 1
    TWO = 2


@dataclasses.dataclass(frozen=True)
class Inner:
    n: int
    s: str = "x"


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: Inner
    items: tuple[int, ...] = ()
    maybe: int | None = None
    flag: bool = False
    num: Num = Num.ONE
    led: Ledger = dataclasses.field(default_factory=Ledger)
    derived: int = dataclasses.field(default=7, init=False)


@dataclasses.dataclass(frozen=True)
class Weird:
    pair: tuple[int, int]


@dataclasses.dataclass(frozen=True)
class Either:
    x: int | str


@dataclasses.dataclass(frozen=True)
class Floaty:
    x: float


def _error(fn: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn()
    return exc.value


def _contract(err: InvalidInput) -> tuple[str, str, object, str | None]:
    return (err.field, err.message, err.value, err.limit)


# --- encode --------------------------------------------------------------------------------------


def test_encode_each_value_kind_exactly() -> None:
    """REQ-CORE-003: dataclasses to dicts, enums by value, tuples to lists, plain values as is."""
    value = Outer(Inner(3, "y"), (1, 2), None, True, Num.TWO)
    assert encode(value) == {
        "inner": {"n": 3, "s": "y"},
        "items": [1, 2],
        "maybe": None,
        "flag": True,
        "num": 2,
        "led": encode(Ledger()),
        "derived": 7,
    }
    assert encode(Phase.ACTIVE) == "active"
    assert encode((Phase.TRIAL, (1,))) == ["trial", [1]]
    assert encode(None) is None
    assert encode(True) is True
    assert encode(5) == 5
    assert encode("s") == "s"


def test_encode_refuses_other_types_naming_them() -> None:
    """REQ-CORE-003: a float or a class is not a state value."""
    with pytest.raises(TypeError, match=r"^cannot encode float$"):
        encode(1.5)
    with pytest.raises(TypeError, match=r"^cannot encode type$"):
        encode(Inner)
    with pytest.raises(TypeError, match=r"^cannot encode list$"):
        encode([1])


# --- decode --------------------------------------------------------------------------------------


def test_decode_round_trips_every_field_kind() -> None:
    """REQ-CORE-003: the decoder rebuilds each field kind, defaults for omitted fields."""
    value = Outer(Inner(3, "y"), (1, 2), 4, True, Num.TWO)
    doc = encode(value)
    del doc["derived"]
    assert decode(Outer, doc) == value
    back = decode(Outer, {"inner": {"n": 1}})
    assert back == Outer(Inner(1))
    assert back.led == Ledger()
    assert back.derived == 7
    assert decode(Outer, {"inner": {"n": 1}, "maybe": None}).maybe is None


def test_decode_default_path_is_state() -> None:
    """REQ-CORE-004: without a path the error names ``state``."""
    assert _contract(_error(lambda: decode(int, "x"))) == (
        "state",
        "expected an integer, got str",
        "x",
        None,
    )


def test_decode_null_type() -> None:
    """REQ-CORE-004: a None-typed value must be null."""
    assert decode(type(None), None, "p") is None
    assert _contract(_error(lambda: decode(type(None), 0, "p"))) == ("p", "expected null", 0, None)


def test_decode_optional() -> None:
    """REQ-CORE-004: ``X | None`` takes null or an X, and names the field otherwise."""
    assert decode(int | None, None, "p") is None  # type: ignore[arg-type]
    assert decode(int | None, 5, "p") == 5  # type: ignore[arg-type]
    assert _contract(_error(lambda: decode(int | None, "5", "p"))) == (  # type: ignore[arg-type]
        "p",
        "expected an integer, got str",
        "5",
        None,
    )


def test_decode_refuses_unsupported_unions_and_tuples() -> None:
    """REQ-CORE-003: only ``X | None`` and ``tuple[X, ...]`` are state types."""
    with pytest.raises(TypeError, match=r"^unsupported union "):
        decode(Either, {"x": 1})
    with pytest.raises(TypeError, match=r"^unsupported union "):
        decode(Either, {"x": None})
    with pytest.raises(TypeError, match=r"^unsupported tuple type "):
        decode(Weird, {"pair": [1, 2]})
    with pytest.raises(TypeError, match=r"^unsupported tuple type "):
        decode(tuple[int], [1])
    with pytest.raises(TypeError, match=r"^unsupported type "):
        decode(Floaty, {"x": 1})


def test_decode_tuple_items_name_their_index() -> None:
    """REQ-CORE-004: a list element is named ``path[i]``; a non-list names the type."""
    assert decode(tuple[int, ...], [1, 2, 3], "p") == (1, 2, 3)
    assert decode(tuple[int, ...], [], "p") == ()
    assert _contract(_error(lambda: decode(tuple[int, ...], [1, "a"], "p"))) == (
        "p[1]",
        "expected an integer, got str",
        "a",
        None,
    )
    assert _contract(_error(lambda: decode(tuple[int, ...], (1,), "p"))) == (
        "p",
        "expected a list, got tuple",
        (1,),
        None,
    )


def test_decode_enum_by_value_and_type() -> None:
    """REQ-CORE-004: an enum member by its value of the same type (``true`` is not 1)."""
    assert decode(Num, 1, "p") is Num.ONE
    assert decode(Num, 2, "p") is Num.TWO
    assert decode(Phase, "alarm", "p") is Phase.ALARM
    assert _contract(_error(lambda: decode(Num, True, "p"))) == (
        "p",
        "expected one of 1, 2",
        True,
        None,
    )
    assert _contract(_error(lambda: decode(Num, 3, "p"))) == ("p", "expected one of 1, 2", 3, None)
    err = _error(lambda: decode(Phase, "flying", "p"))
    assert err.message.startswith("expected one of 'screening', 'trial', 'trial_failed', ")


def test_decode_bool() -> None:
    """REQ-CORE-004: a bool must be true or false, not 1."""
    assert decode(bool, True, "p") is True
    assert decode(bool, False, "p") is False
    assert _contract(_error(lambda: decode(bool, 1, "p"))) == (
        "p",
        "expected true or false, got int",
        1,
        None,
    )


def test_decode_int_type_and_bounds() -> None:
    """REQ-CORE-004: an int is not a bool, and |x| < 2**63."""
    assert decode(int, MAX, "p") == MAX
    assert decode(int, -MAX, "p") == -MAX
    assert decode(int, 0, "p") == 0
    for bad in (MAX + 1, -MAX - 1):
        assert _contract(_error(lambda bad=bad: decode(int, bad, "p"))) == (
            "p",
            "integer out of range",
            bad,
            "|x| < 2**63",
        )
    assert _contract(_error(lambda: decode(int, False, "p"))) == (
        "p",
        "expected an integer, got bool",
        False,
        None,
    )
    assert _contract(_error(lambda: decode(int, 1.0, "p"))) == (
        "p",
        "expected an integer, got float",
        1.0,
        None,
    )


def test_decode_str_type_and_length() -> None:
    """REQ-CORE-004: a string of at most 10 000 characters."""
    assert decode(str, "a" * 10_000, "p") == "a" * 10_000
    assert decode(str, "", "p") == ""
    assert _contract(_error(lambda: decode(str, "a" * 10_001, "p"))) == (
        "p",
        "string too long",
        None,
        "10000 characters",
    )
    assert _contract(_error(lambda: decode(str, 1, "p"))) == (
        "p",
        "expected a string, got int",
        1,
        None,
    )


def test_decode_dataclass_errors() -> None:
    """REQ-CORE-004: non-object, unknown field (the first in sorted order) and missing field."""
    assert _contract(_error(lambda: decode(Inner, [1], "p"))) == (
        "p",
        "expected an object, got list",
        [1],
        None,
    )
    assert _contract(_error(lambda: decode(Inner, {"n": 1, "zz": 1, "bb": 2}, "p"))) == (
        "p.bb",
        "unknown field",
        None,
        None,
    )
    # a field that is not an init parameter is not accepted in a document
    assert _contract(_error(lambda: decode(Outer, {"inner": {"n": 1}, "derived": 7}, "p"))) == (
        "p.derived",
        "unknown field",
        None,
        None,
    )
    assert _contract(_error(lambda: decode(Inner, {"s": "a"}, "p"))) == (
        "p.n",
        "missing field",
        None,
        None,
    )
    assert _contract(_error(lambda: decode(Outer, {}, "p"))) == (
        "p.inner",
        "missing field",
        None,
        None,
    )
    assert _contract(_error(lambda: decode(Outer, {"inner": {"n": "1"}}, "p"))) == (
        "p.inner.n",
        "expected an integer, got str",
        "1",
        None,
    )


def test_decode_nested_state_path() -> None:
    """REQ-CORE-004: the path of a nested device field."""
    err = _error(lambda: decode(Device, {"alarms": [{"kind": "drive_fault", "raised_at_s": "x"}]}))
    assert (err.field, err.message) == (
        "state.alarms[0].raised_at_s",
        "expected an integer, got str",
    )


# --- check_fields --------------------------------------------------------------------------------


def test_check_fields_accepts_well_typed_values() -> None:
    """REQ-CORE-004: a well-typed value passes, including the bounds."""
    check_fields(Outer(Inner(MAX, "a" * 10_000), (MAX, -MAX), -MAX, True, Num.TWO), "c")
    check_fields(Outer(Inner(0)), "c")
    check_fields(Device(), "c")


@pytest.mark.parametrize(
    ("value", "contract"),
    [
        (Inner(MAX + 1), ("c.n", "integer out of range", MAX + 1, "|x| < 2**63")),
        (Inner(-MAX - 1), ("c.n", "integer out of range", -MAX - 1, "|x| < 2**63")),
        (Inner(True), ("c.n", "expected an integer, got bool", True, None)),
        (Inner(1.5), ("c.n", "expected an integer, got float", 1.5, None)),  # type: ignore[arg-type]
        (Inner(1, "a" * 10_001), ("c.s", "string too long", None, "10000 characters")),
        (Inner(1, 5), ("c.s", "expected a string, got int", 5, None)),  # type: ignore[arg-type]
        (
            Outer(Inner(1), items=[1]),  # type: ignore[arg-type]
            ("c.items", "expected a tuple, got list", [1], None),
        ),
        (
            Outer(Inner(1), items=(1, 2, "3")),  # type: ignore[arg-type]
            ("c.items[2]", "expected an integer, got str", "3", None),
        ),
        (
            Outer(Inner(1), items=(1, MAX + 1)),
            ("c.items[1]", "integer out of range", MAX + 1, "|x| < 2**63"),
        ),
        (
            Outer(Inner(1), maybe="4"),  # type: ignore[arg-type]
            ("c.maybe", "expected an integer, got str", "4", None),
        ),
        (
            Outer(Inner(1), maybe=MAX + 1),
            ("c.maybe", "integer out of range", MAX + 1, "|x| < 2**63"),
        ),
        (
            Outer(Inner(1), flag=1),  # type: ignore[arg-type]
            ("c.flag", "expected true or false, got int", 1, None),
        ),
        (
            Outer(Inner(1), num=1),  # type: ignore[arg-type]
            ("c.num", "expected a Num, got int", 1, None),
        ),
        (
            Outer(Inner(1, 2)),  # type: ignore[arg-type]
            ("c.inner.s", "expected a string, got int", 2, None),
        ),
        (
            Outer({"n": 1}),  # type: ignore[arg-type]
            ("c.inner", "expected a Inner, got dict", None, None),
        ),
        (
            Device(alarms=(ActiveAlarm("eri", 1),)),  # type: ignore[arg-type]
            ("c.alarms[0].kind", "expected a AlarmKind, got str", "eri", None),
        ),
    ],
)
def test_check_fields_names_the_field(
    value: object, contract: tuple[str, str, object, str | None]
) -> None:
    """REQ-CORE-004: a Python-built value with a wrong field type is rejected naming it."""
    assert _contract(_error(lambda: check_fields(value, "c"))) == contract


def test_check_plain_values_and_none() -> None:
    """REQ-CORE-004: the plain checks of ``_check`` reached directly (type of the top value)."""
    from itdose.core import codec

    codec._check(int, 5, "p")
    codec._check(str, "s", "p")
    codec._check(type(None), None, "p")
    codec._check(int | None, None, "p")
    codec._check(tuple[int, ...], (), "p")
    assert _contract(_error(lambda: codec._check(type(None), 3, "p"))) == (
        "p",
        "expected None, got int",
        3,
        None,
    )
    assert _contract(_error(lambda: codec._check(int, MAX + 1, "p"))) == (
        "p",
        "integer out of range",
        MAX + 1,
        "|x| < 2**63",
    )
    assert _contract(_error(lambda: codec._check(int, -MAX - 1, "p"))) == (
        "p",
        "integer out of range",
        -MAX - 1,
        "|x| < 2**63",
    )
    codec._check(int, MAX, "p")
    codec._check(int, -MAX, "p")
    assert _contract(_error(lambda: codec._check(str, "a" * 10_001, "p"))) == (
        "p",
        "string too long",
        None,
        "10000 characters",
    )
    codec._check(str, "a" * 10_000, "p")
    assert _contract(_error(lambda: codec._check(str, None, "p"))) == (
        "p",
        "expected a string, got NoneType",
        None,
        None,
    )


def test_check_fields_of_a_plain_value_checks_it_against_its_own_type() -> None:
    """REQ-CORE-004: a plain top-level value (not a dataclass) is checked as its own type: in
    range, or refused naming the path; a boolean passes as a boolean."""
    check_fields(True, "c")
    check_fields(MAX, "c")
    check_fields("a" * 10_000, "c")
    assert _contract(_error(lambda: check_fields(MAX + 1, "c"))) == (
        "c",
        "integer out of range",
        MAX + 1,
        "|x| < 2**63",
    )
    assert _contract(_error(lambda: check_fields("a" * 10_001, "c"))) == (
        "c",
        "string too long",
        None,
        "10000 characters",
    )


def test_check_fields_refuses_unsupported_types() -> None:
    """REQ-CORE-003: unions other than ``X | None`` and unknown types are programming errors."""
    with pytest.raises(TypeError, match=r"^unsupported union "):
        check_fields(Either(1), "c")
    with pytest.raises(TypeError, match=r"^unsupported type "):
        check_fields(Floaty(1.5), "c")


def test_check_fields_optional_none_and_nested_dataclass() -> None:
    """REQ-CORE-004: ``None`` in an optional field passes; a nested dataclass is checked."""
    check_fields(Device(alarms=(ActiveAlarm(AlarmKind.ERI, 1),)), "c")
    check_fields(TrialDose(1, MAX), "c")
    assert _contract(_error(lambda: check_fields(TrialDose(1, MAX + 1), "c"))) == (
        "c.amount_ng",
        "integer out of range",
        MAX + 1,
        "|x| < 2**63",
    )
    assert _contract(_error(lambda: check_fields(TrialDose(-MAX - 1, 1), "c"))) == (
        "c.at_s",
        "integer out of range",
        -MAX - 1,
        "|x| < 2**63",
    )


# Equivalent mutants (mutmut 3.8.1 names, itdose.core.codec.*), not killable by any test:
# - x_decode__mutmut_3: typing.cast(T, ...) -> typing.cast(None, ...): cast returns its value
#   unchanged at run time whatever the type argument.
# - x__check__mutmut_4, 6, 7, 8 (the int fast path disabled or narrowed: type(None) is int,
#   +_MAX_INT <= value, < instead of <=) and x__check__mutmut_12, 14 (the str fast path:
#   type(None) is str, len < _MAX_STR): a value the narrowed fast path no longer takes goes the
#   full route (_decode's int / str checks), which accepts and rejects exactly the same values.
# - x__check__mutmut_100, 102, 103, 104: the same narrowing of the int fast path inside the
#   dataclass field loop; the field then goes through _check, with the same outcome.


def test_an_instant_piece_round_trips_and_a_paced_one_is_written_as_before() -> None:
    """REQ-CORE-003, REQ-GOV-005: ``Piece.instant`` is written only when true (documents
    without instants stay as they were) and read back either way; a non-boolean is refused."""
    from itdose.core.ledger import Piece

    paced = Piece(1, 0, 10, 5, 5, 1)
    instant = Piece(2, 10, 10, 7, 7, 1, instant=True)
    ledger = Ledger((paced, instant))
    data = encode(ledger)
    assert data["pieces"][0] == {
        "order_id": 1,
        "start_s": 0,
        "end_s": 10,
        "amount_fg": 5,
        "pace_fg": 5,
        "pace_s": 1,
    }
    assert data["pieces"][1]["instant"] is True
    assert decode(Ledger, data) == ledger
    data["pieces"][1]["instant"] = 1
    with pytest.raises(InvalidInput):
        decode(Ledger, data)
