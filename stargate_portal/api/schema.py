"""The OpenAPI schema: the one error shape on every operation, served from a cache."""

from typing import Any, ClassVar

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import translation
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.settings import api_settings

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
    "503": (
        "The database could not serve the request just now (`code: database_unavailable`), "
        "or the file store could not take an attachment (`code: storage_unavailable`); "
        "nothing was changed: retry after `Retry-After` seconds; a job submit retried with "
        "its Idempotency-Key is queued once."
    ),
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


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated and rendered once per process, language and format.

    It changes only with the code, and generating it and rendering it as YAML cost about half
    a second of CPU each time (measured in ``docs/benchmarks.md``), on a public URL. ``lang``
    picks one of ``LANGUAGES`` (anything else: the request's language); ``version`` is
    ignored unless ``ALLOWED_VERSIONS`` is set (the API has one version, in its URLs), so no
    query string can make the cache grow or the schema claim another version.
    """

    _rendered: ClassVar[dict[tuple[str, str | None, str], tuple[bytes, str, str]]] = {}

    @extend_schema(exclude=not spectacular_settings.SERVE_INCLUDE_SCHEMA)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        language = _supported_language(request.GET.get("lang") or translation.get_language())
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (language, version, str(request.accepted_media_type))
        cached = self._rendered.get(key)
        if cached is not None:
            content, content_type, disposition = cached
            return HttpResponse(
                content, content_type=content_type, headers={"Content-Disposition": disposition}
            )
        with translation.override(language):
            response = self.finalize_response(request, self._get_schema_response(request))
            response.render()
        self._rendered[key] = (
            response.content,
            response["Content-Type"],
            response["Content-Disposition"],
        )
        return response

    @classmethod
    def forget(cls) -> None:
        """Drop the rendered schemas (the next request generates them again)."""
        cls._rendered.clear()

    def _get_version_parameter(self, request: Request) -> str | None:
        version = request.GET.get("version")
        allowed = api_settings.ALLOWED_VERSIONS or ()
        return version if version is not None and version in allowed else None


def _supported_language(code: str | None) -> str:
    try:
        return translation.get_supported_language_variant(code or settings.LANGUAGE_CODE)
    except LookupError:
        return str(settings.LANGUAGE_CODE)


@receiver(setting_changed)
def _forget_rendered_schemas(**_: Any) -> None:
    SchemaView.forget()
