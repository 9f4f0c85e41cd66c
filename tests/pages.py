"""Reading pages in tests: the text a person sees, and the errors next to a field."""

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from django.http import HttpResponse

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


@dataclass(frozen=True)
class PostedForm:
    action: str  # where the form posts ("" posts to the page itself)
    fields: tuple[str, ...]  # the names of its inputs, selects and text areas


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[PostedForm] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form" and (named.get("method") or "").lower() == "post":
            self._open = (html.unescape(named.get("action") or ""), [])
        elif (
            self._open is not None
            and tag in ("input", "select", "textarea")
            and named.get("name")
            and named.get("type") not in ("submit", "button")
        ):
            self._open[1].append(str(named["name"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._open is not None:
            action, fields = self._open
            self.forms.append(PostedForm(action, tuple(dict.fromkeys(fields))))
            self._open = None


def posted_forms(response: HttpResponse) -> list[PostedForm]:
    """The forms of an HTML page that post, with the names of their fields."""
    parser = _Forms()
    parser.feed(response.content.decode())
    return parser.forms
