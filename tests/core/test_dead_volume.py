"""The dead volume (core/dead_volume.py): catheter volume from the library's length and volume
per length, rounded up; pump tubing plus catheter; never guessed when a value is unknown, and a
catheter not listed for the pump is rejected (REQ-PRIME-003, REQ-LIB-001, REQ-CORE-004)."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from itdose.core.dead_volume import catheter_volume_nl, dead_volume_nl
from itdose.core.errors import InvalidInput, RejectedCommand
from itdose.core.library import CatheterModel, Library, SourcedNames, SourcedValue, Tag
from itdose.core.units import Dimension
from itdose.specs import load_library
from itdose.specs.library_schema import library_from_mapping


def _raw(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("itdose.specs").joinpath(name).read_text("utf-8"))


_DRUGS_RAW = _raw("drugs.toml")
_PUMPS_RAW = _raw("pumps.toml")


def _build(drugs: dict[str, Any], pumps: dict[str, Any]) -> Library:
    return library_from_mapping(drugs, pumps, drugs_file="drugs.toml", pumps_file="pumps.toml")


def _error(fn: Callable[[], object], cls: type[Exception] = InvalidInput) -> Any:
    with pytest.raises(cls) as exc:
        fn()
    assert type(exc.value) is cls
    return exc.value


def _contract(err: Any) -> tuple[str, str, object, str | None]:
    return (err.field, err.message, err.value, err.limit)


def _catheter(length: int | None, per_length: int | None) -> CatheterModel:
    def value(v: int | None, dim: Dimension) -> SourcedValue | None:
        return None if v is None else SourcedValue("t", v, dim, "t", Tag.D)

    return CatheterModel(
        id="test",
        name="test",
        manufacturer="test",
        compatible_pumps=SourcedNames("t", ("prometra-ii-20",), "t", Tag.D),
        reference_length=value(length, Dimension.LENGTH),
        volume_per_length=value(per_length, Dimension.VOLUME_PER_LENGTH),
    )


NEVER_GUESSED = (
    "in the library, so its volume cannot be computed (it is never guessed); load a library with "
    "the manufacturer's value"
)


@pytest.mark.parametrize(
    ("length", "per_length", "missing"),
    [
        (None, None, "reference_length and no volume_per_length"),
        (1000, None, "volume_per_length"),
        (None, 2600, "reference_length"),
    ],
)
def test_catheter_volume_without_data_is_rejected(
    length: int | None, per_length: int | None, missing: str
) -> None:
    """REQ-LIB-001: an unknown catheter value is never guessed; the error names what is missing."""
    err = _error(lambda: catheter_volume_nl(_catheter(length, per_length), 0), RejectedCommand)
    assert _contract(err) == (
        "catheter",
        f"catheter test has no {missing} {NEVER_GUESSED}",
        "test",
        None,
    )


def test_catheter_volume_trimmed_length_contract() -> None:
    """REQ-CORE-004: the trimmed length is an int in 0 <= trimmed < reference length."""
    catheter = load_library().catheter("prometra-catheter")
    assert catheter_volume_nl(catheter, 1099) == 260  # 1 mm x 260 000 nl/m
    assert catheter_volume_nl(_catheter(1000, 1), 1) == 1  # 0.999 nl rounds up
    assert catheter_volume_nl(_catheter(1000, 1000), 0) == 1000
    assert catheter_volume_nl(_catheter(1000, 1001), 0) == 1001
    for bad in (True, 1.0, "1"):
        assert _contract(_error(lambda bad=bad: catheter_volume_nl(catheter, bad))) == (
            "trimmed_mm",
            "expected an int number of millimetres",
            bad,
            None,
        )
    for bad in (-1, 1100):
        assert _contract(_error(lambda bad=bad: catheter_volume_nl(catheter, bad))) == (
            "trimmed_mm",
            "must be at least 0 and shorter than the catheter",
            bad,
            "0 <= trimmed < 110 cm",
        )


def test_dead_volume_errors() -> None:
    """REQ-LIB-001: a catheter not listed for the pump, or an unknown tubing volume, is rejected."""
    lib = load_library()
    err = _error(
        lambda: dead_volume_nl(lib.pump("synchromed-ii-20"), lib.catheter("prometra-catheter"), 0),
        RejectedCommand,
    )
    assert _contract(err) == (
        "catheter",
        "catheter prometra-catheter is not listed for pump synchromed-ii-20",
        "prometra-catheter",
        "one of prometra-ii-20, prometra-ii-40",
    )
    no_tubing = _build(copy.deepcopy(_DRUGS_RAW), _pumps_without_tubing())
    err = _error(
        lambda: dead_volume_nl(
            no_tubing.pump("prometra-ii-20"), no_tubing.catheter("prometra-catheter"), 0
        ),
        RejectedCommand,
    )
    assert _contract(err) == (
        "pump",
        "pump prometra-ii-20 has no tubing (internal pathway) volume in the library, so the dead "
        "volume cannot be computed (it is never guessed); load a library with the "
        "manufacturer's value",
        "prometra-ii-20",
        None,
    )
    with_tubing = _build(copy.deepcopy(_DRUGS_RAW), _institution_pumps_with_tubing("0.001 mL"))
    pump = with_tubing.pump("prometra-ii-20")
    assert dead_volume_nl(pump, with_tubing.catheter("prometra-catheter"), 1099) == 1000 + 260


def test_prometra_catheter_volume() -> None:
    """Dead volume (110 cm - trimmed) x 0.0026 mL/cm (REQ-PRIME-003)."""
    catheter = load_library().catheter("prometra-catheter")
    assert catheter_volume_nl(catheter, 200) == 234_000  # docs/dosing-rules.md#example-bridge
    assert catheter_volume_nl(catheter, 0) == 286_000  # 110 cm x 0.0026 mL/cm
    assert catheter_volume_nl(catheter, 25) == 279_500  # 107.5 cm


def test_inexact_catheter_volume_rounds_up() -> None:
    # 1 nl per metre over 1.5 m is 1.5 nl: reported as 2 nl, never 1 (underestimate = hazard).
    assert catheter_volume_nl(_catheter(2000, 1), 500) == 2
    assert catheter_volume_nl(_catheter(2000, 1), 1000) == 1  # exact: not bumped
    assert catheter_volume_nl(_catheter(2000, 3), 1999) == 1  # 0.003 nl -> 1 nl


@pytest.mark.parametrize("trimmed", [-1, 1100, 5000, True, "200", None])
def test_bad_trimmed_length_is_invalid_input(trimmed: object) -> None:
    catheter = load_library().catheter("prometra-catheter")
    with pytest.raises(InvalidInput) as info:
        catheter_volume_nl(catheter, trimmed)  # type: ignore[arg-type]
    assert info.value.field == "trimmed_mm"


@pytest.mark.parametrize(
    "catheter_id",
    ["medtronic-indura-1p-8709sc", "medtronic-8731sc", "medtronic-ascenda-8780"],
)
def test_medtronic_catheter_volume_cannot_be_computed(catheter_id: str) -> None:
    """No catheter data, no dead volume (never a typed number) (REQ-PRIME-003)."""
    catheter = load_library().catheter(catheter_id)
    with pytest.raises(RejectedCommand, match="volume_per_length") as info:
        catheter_volume_nl(catheter, 0)
    assert "never guessed" in info.value.message


def _pumps_without_tubing() -> dict[str, Any]:
    pumps = copy.deepcopy(_PUMPS_RAW)
    for body in pumps["pumps"].values():
        body.pop("tubing_volume", None)
    return pumps


def test_dead_volume_is_rejected_when_the_tubing_volume_is_unknown() -> None:
    lib = _build(copy.deepcopy(_DRUGS_RAW), _pumps_without_tubing())
    with pytest.raises(RejectedCommand, match="tubing") as info:
        dead_volume_nl(lib.pump("prometra-ii-20"), lib.catheter("prometra-catheter"), 200)
    assert info.value.field == "pump"
    assert "never guessed" in info.value.message


def test_shipped_synchromed_dead_volume_cannot_be_computed() -> None:
    lib = load_library()
    pump = lib.pump("synchromed-ii-20")
    for catheter in lib.catheters:
        if pump.id in catheter.compatible_pumps.names:
            with pytest.raises(RejectedCommand):
                dead_volume_nl(pump, catheter, 0)


def test_dead_volume_rejects_a_catheter_not_listed_for_the_pump() -> None:
    lib = load_library()
    with pytest.raises(RejectedCommand) as info:
        dead_volume_nl(lib.pump("synchromed-ii-20"), lib.catheter("prometra-catheter"), 200)
    assert info.value.field == "catheter"


def _institution_pumps_with_tubing(volume: str) -> dict[str, Any]:
    pumps = _pumps_without_tubing()
    pumps["pumps"]["prometra-ii-20"]["tubing_volume"] = {
        "value": volume,
        "source": "institution measurement",
        "tag": "V",
    }
    return pumps


def test_dead_volume_with_an_institution_tubing_volume() -> None:
    lib = _build(copy.deepcopy(_DRUGS_RAW), _institution_pumps_with_tubing("0 mL"))
    pump, catheter = lib.pump("prometra-ii-20"), lib.catheter("prometra-catheter")
    assert dead_volume_nl(pump, catheter, 200) == 234_000  # docs/dosing-rules.md: tubing taken as 0
    lib = _build(copy.deepcopy(_DRUGS_RAW), _institution_pumps_with_tubing("0.1 mL"))
    pump = lib.pump("prometra-ii-20")
    assert dead_volume_nl(pump, catheter, 200) == 334_000
    # the other size still has no tubing volume
    with pytest.raises(RejectedCommand):
        dead_volume_nl(lib.pump("prometra-ii-40"), catheter, 200)
