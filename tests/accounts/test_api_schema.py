"""OpenAPI 3 schema at /api/schema/ and Swagger UI at /api/docs/, served without any CDN."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.utils import translation
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from stargate_portal.api.schema import ERROR_SCHEMA, SchemaView

ERROR_REF = {"$ref": "#/components/schemas/Error"}
API_PATHS = {
    "/api/v1/me/",
    "/api/v1/organisations/",
    "/api/v1/organisations/{id}/",
    "/api/v1/organisations/{organisation_pk}/members/",
    "/api/v1/organisations/{organisation_pk}/members/{id}/",
    "/api/v1/organisations/{organisation_pk}/join-requests/",
    "/api/v1/directory/",
    "/api/v1/join-requests/",
    "/api/v1/join-requests/{id}/approve/",
    "/api/v1/join-requests/{id}/deny/",
    "/api/v1/tokens/",
    "/api/v1/tokens/{public_id}/",
    "/api/v1/staff/organisations/",
    "/api/v1/staff/organisations/{id}/",
    "/api/v1/staff/organisations/{id}/verification/",
}


@pytest.fixture
def schema(db: None) -> dict[str, Any]:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    validate_schema(schema)

    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Stargate Portal API"


def test_the_schema_documents_every_accounts_endpoint(schema: dict[str, Any]) -> None:
    assert set(schema["paths"]) >= API_PATHS


def test_every_operation_documents_its_errors_with_the_error_component(
    schema: dict[str, Any],
) -> None:
    assert schema["components"]["schemas"]["Error"] == ERROR_SCHEMA

    for path, method, operation in operations(schema):
        for status in ("400", "401", "403", "404", "409", "429", "500", "503"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == ERROR_REF, (path, method, status)


def test_list_operations_document_pagination_and_filters(schema: dict[str, Any]) -> None:
    parameters = {
        path: {p["name"] for p in item["get"].get("parameters", [])}
        for path, item in schema["paths"].items()
        if "get" in item
    }

    assert {"page", "page_size", "verification_state", "country", "name"} <= parameters[
        "/api/v1/organisations/"
    ]
    assert {"page", "page_size", "search"} <= parameters["/api/v1/directory/"]
    assert {"page", "role", "email"} <= parameters[
        "/api/v1/organisations/{organisation_pk}/members/"
    ]
    assert {"page", "state"} <= parameters["/api/v1/join-requests/"]
    assert {"page", "state"} <= parameters["/api/v1/organisations/{organisation_pk}/join-requests/"]
    assert {"page", "name"} <= parameters["/api/v1/tokens/"]


def test_token_authentication_is_documented(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]

    assert any(
        s.get("type") == "apiKey" and s.get("name") == "Authorization" for s in schemes.values()
    )


def test_the_schema_generates_without_a_single_warning(tmp_path: Path) -> None:
    reset_generator_stats()

    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    assert (
        "/api/v1/organisations/{organisation_pk}/members/{id}/"
        in (tmp_path / "schema.yaml").read_text()
    )


def test_swagger_ui_is_served_from_local_static_files(db: None) -> None:
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    # Swagger UI's start-up script is a file too (no inline script: Content-Security-Policy)
    script = APIClient().get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


@pytest.fixture
def generations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The language of each schema generation, from an empty cache."""
    SchemaView.forget()
    seen: list[str | None] = []
    original = SchemaGenerator.get_schema

    def counted(self: SchemaGenerator, *args: Any, **kwargs: Any) -> Any:
        seen.append(translation.get_language())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    yield seen
    SchemaView.forget()


def test_the_schema_is_generated_once_per_language_and_format(
    db: None, generations: list[str | None]
) -> None:
    client = APIClient()
    first_json = client.get("/api/schema/?format=json")
    again_json = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    yaml_text = client.get("/api/schema/")
    again_yaml = client.get("/api/schema/")
    norwegian = client.get("/api/schema/?format=json&lang=nb")

    assert generations == ["en", "en", "nb"]
    assert again_json.content == first_json.content
    assert again_json["Content-Type"] == "application/vnd.oai.openapi+json"
    assert again_yaml.content == yaml_text.content
    assert again_yaml["Content-Type"].startswith("application/vnd.oai.openapi;")
    assert again_yaml["Content-Disposition"] == 'inline; filename="Stargate Portal API.yaml"'
    assert yaml.safe_load(again_yaml.content) == first_json.json()
    assert norwegian.json()["paths"].keys() == first_json.json()["paths"].keys()
    assert norwegian.content != first_json.content  # translated descriptions


def test_no_query_string_makes_the_schema_cache_grow_or_the_version_change(
    db: None, generations: list[str | None]
) -> None:
    client = APIClient()
    bodies = [
        client.get(f"/api/schema/?format=json&lang=x{n}&version=v{n}").json() for n in range(5)
    ]

    assert generations == ["en"]
    assert {body["info"]["version"] for body in bodies} == {"1.0.0"}
