"""Domain errors: services raise these; the API and the portal turn them into responses."""

from typing import Any


class DomainError(Exception):
    """A refused operation with a stable machine-readable ``code``."""

    status_code = 400
    code = "invalid"
    retry_after_seconds: int | None = None
    """When set, the API says when to send the same request again (``Retry-After``)."""

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``details`` maps field names to lists of messages."""

    status_code = 400
    code = "invalid"

    @classmethod
    def on_field(cls, field: str, message: str) -> "ValidationFailed":
        return cls(str(message), details={field: [str(message)]})


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status_code = 403
    code = "permission_denied"


class Conflict(DomainError):
    """The request is valid but the current state refuses it (state machine, races)."""

    status_code = 409
    code = "conflict"


class Unavailable(DomainError):
    """A store the operation needs cannot take it now (the file store of attachments): nothing
    was changed, and the same request may be sent again later (``Retry-After``)."""

    status_code = 503
    code = "unavailable"
    retry_after_seconds = 30
