"""The base of the core's plain immutable values (commands, effects, library entries, programs)."""

from __future__ import annotations

import dataclasses
from typing import NoReturn, dataclass_transform


@dataclass_transform(frozen_default=True)
class Value:
    """An immutable value: every subclass is made a frozen dataclass where it is defined, exactly as
    if it carried ``@dataclass(frozen=True)`` (fields in order, equality and hash by field). A
    subclass that does carry the decorator (code outside the core) is processed again, unchanged:
    the refusal to assign a field is this base's, not one written into each subclass."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True)(cls)
        del cls.__setattr__, cls.__delattr__

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
