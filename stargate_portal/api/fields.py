"""Serializer fields the API modules share: input checked as strictly in keys as in values."""

from typing import Any

from rest_framework import serializers

from stargate_portal.input_limits import ID_MAX

DICT_MAX_ITEMS = 100


class TextKeyDictField(serializers.DictField):
    """A JSON object whose keys are text checked like a value: not blank, no NUL character
    (PostgreSQL refuses it), at most ``key_max_length`` characters, at most ``max_items``
    entries. Messages never repeat a refused key."""

    default_error_messages = {
        "invalid_key": "Each key must be text of 1 to {key_max_length} characters, without NUL.",
        "too_many": "At most {max_items} entries.",
    }

    def __init__(
        self, *, key_max_length: int, max_items: int = DICT_MAX_ITEMS, **kwargs: Any
    ) -> None:
        self.key_max_length = key_max_length
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            if len(data) > self.max_items:
                self.fail("too_many", max_items=self.max_items)
            for key in data:
                if not self._key_ok(key):
                    self.fail("invalid_key", key_max_length=self.key_max_length)
        return super().to_internal_value(data)

    def _key_ok(self, key: Any) -> bool:
        return isinstance(key, str) and 0 < len(key) <= self.key_max_length and "\x00" not in key


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """The id of an object: a positive integer no larger than a bigint."""
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, **kwargs)
