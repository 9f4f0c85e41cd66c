"""OpenAPI post-processing: document the one error shape on every operation."""

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "string", "example": "invalid"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
}
_ERROR_STATUSES = {
    "400": "Invalid input (`code: invalid`, field errors in `details`).",
    "401": "Not authenticated.",
    "403": "Not allowed.",
    "404": "Not found, or not yours.",
    "409": "Refused by the current state.",
    "429": "Throttled (`details.retry_after_seconds`).",
    "500": "Unexpected error (`code: server_error`, quote `details.correlation_id`).",
}


def add_error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Add the ``Error`` component and reference it from every operation's error statuses."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status_code, description in _ERROR_STATUSES.items():
                responses.setdefault(status_code, {"description": description, "content": ref})
    return result
