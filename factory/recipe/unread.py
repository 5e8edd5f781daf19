"""Settings a recipe kind does not read are errors, each named with its path and why.

A section of one kind family (`train` of the pair kinds) given in a recipe of another
(`distill`) would load and be written into the certificate while nothing reads it. Models
that mix in `RejectsUnread` name such keys in `unread_reasons`; validation then reports
`train: not read by kind distill (its training settings are lm_train)` together with every
other problem of the recipe (the rest is validated without the unread keys).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

UNREAD = "unread_field"
"""Error type of a setting the recipe's kind does not read."""


def _carried(error: Any) -> InitErrorDetails:
    """A pydantic error of the rest of the recipe, carried over with its type, place and message."""
    kind = PydanticCustomError(error["type"], "{message}", {"message": error["msg"]})
    return InitErrorDetails(type=kind, loc=tuple(error["loc"]), input=error.get("input"))


class RejectsUnread(BaseModel):
    """Mixin of recipe models whose parent schema allows keys that this model's kinds do not read."""

    UNREAD: ClassVar[dict[str, str]] = {}
    """Key -> why it is not read (`not read by kind distill (...)`), for keys no field of this class takes."""

    @classmethod
    def unread_reasons(cls, data: dict[str, Any]) -> dict[str, str]:
        """Keys of `data` this model does not read, each with its one-line reason."""
        return {key: why for key, why in cls.UNREAD.items() if key in data and key not in cls.model_fields}

    @model_validator(mode="wrap")
    @classmethod
    def _reject_unread(cls, data: Any, handler: Any) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        unread = cls.unread_reasons(data)
        if not unread:
            return handler(data)
        errors = [InitErrorDetails(type=PydanticCustomError(UNREAD, "{reason}", {"reason": why}), loc=(key,),
                                   input=data[key]) for key, why in unread.items()]
        try:
            handler({key: value for key, value in data.items() if key not in unread})
        except ValidationError as exc:
            errors += [_carried(error) for error in exc.errors()]
        raise ValidationError.from_exception_data(cls.__name__, errors)
