"""The base of the core's plain immutable values (commands, effects, library entries, programs)."""

from __future__ import annotations

import dataclasses
from typing import dataclass_transform


@dataclass_transform(frozen_default=True)
class Value:
    """An immutable value: every subclass is made a frozen dataclass where it is defined, exactly as
    if it carried ``@dataclass(frozen=True)`` (fields in order, equality and hash by field)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True)(cls)
