"""Reading pages in tests: the text a person sees, and the errors next to a field."""

import html
import re

from django.http import HttpResponse

from booking.admission.route_sweep import PostedForm
from booking.admission.route_sweep import posted_forms as forms_of_page

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def page_text(response: HttpResponse) -> str:
    """The visible text of an HTML response: tags dropped, entities decoded, spaces collapsed."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", body))).strip()


def field_errors(response: HttpResponse, field: str) -> list[str]:
    """The messages shown next to ``field`` (Django renders them with id ``id_<field>_error``)."""
    match = re.search(
        rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', response.content.decode(), re.S
    )
    if match is None:
        return []
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def form_errors(response: HttpResponse) -> list[str]:
    """The messages shown above a form (non-field errors)."""
    match = re.search(r'<ul class="errorlist nonfield">(.*?)</ul>', response.content.decode(), re.S)
    if match is None:
        return []
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def error_is_linked_to_input(response: HttpResponse, field: str) -> bool:
    """The input of ``field`` is marked invalid and points at its error list."""
    body = response.content.decode()
    tag = re.search(rf'<(?:input|select|textarea)\b[^>]*\bname="{field}"[^>]*>', body)
    return bool(
        tag
        and 'aria-invalid="true"' in tag.group(0)
        and re.search(rf'aria-describedby="[^"]*\bid_{field}_error\b', tag.group(0))
    )


def posted_forms(response: HttpResponse) -> list[PostedForm]:
    """The forms of an HTML page that post, with the names of their fields."""
    return forms_of_page(response.content.decode())
