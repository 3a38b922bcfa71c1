"""The pages' one translation mechanism: English message ids, catalogs per language, chosen per request.

Every user-facing string of a page goes through ``_("English text")`` in a template or ``t("English
text")`` in the page's script. The catalogs are gettext ``.po`` files under ``web/i18n/<locale>/``, one file
per area of the app (``common.po``, ``map.po``, ``field.po`` ...), read with Babel when first needed, so a
translator edits text files and nothing is compiled. Simplified Chinese is the default language; English
needs no catalog because the message ids are English.

Scripts get only their area's messages (``js_messages("map")``), embedded in the page as JSON: the page
still translates with no network, which the officer's offline field page needs.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po
from markupsafe import Markup
from starlette.requests import Request

from gridgov.config import REPO_ROOT

CATALOGS = REPO_ROOT / "web" / "i18n"
LANGUAGES = {"zh-CN": "中文", "en": "English"}
"""Languages a user can choose, by their BCP 47 tag, each named in itself for the switch."""
DEFAULT_LANGUAGE = "zh-CN"
COOKIE = "gridgov_lang"
SOURCE_LANGUAGE = "en"
"""The language of the message ids: it needs no catalog."""


def N_(message: str) -> str:
    """Mark an English message kept in Python (a label chosen at run time) for the catalogs; the template
    translates it where it is shown with ``_(label)``. The i18n test extracts these like template text."""
    return message


class CatalogError(ValueError):
    """A catalog contradicts another (the same message translated two ways) or cannot be read."""


def _locale_dir(language: str) -> Path:
    return CATALOGS / language.replace("-", "_")


@lru_cache
def catalog(language: str, area: str | None = None) -> dict[str, str]:
    """The translations of ``language`` (message id → text), of one area's file or of all of them.

    An untranslated entry (empty msgstr) is left out, so the page shows the English id, never a blank.

    Examples
    --------
    >>> catalog("zh-CN", "common")["Sign out"]
    '退出'
    >>> catalog("en")
    {}
    """
    if language == SOURCE_LANGUAGE:
        return {}
    files = sorted(_locale_dir(language).glob("*.po" if area is None else f"{area}.po"))
    if area is not None and not files:
        raise CatalogError(f"No catalog {area}.po for {language} under {_locale_dir(language)}")
    merged: dict[str, str] = {}
    for path in files:
        with path.open("rb") as f:
            po = read_po(f, locale=language.replace("-", "_"))
        for message in po:
            if not message.id or not message.string or message.fuzzy:
                continue
            if merged.get(message.id, message.string) != message.string:
                raise CatalogError(f"{path.name}: {message.id!r} is translated differently in another catalog")
            merged[message.id] = message.string
    return merged


def gettext(language: str, message: str) -> str:
    """``message`` in ``language``, or the English id when the catalog has no translation.

    Examples
    --------
    >>> gettext("zh-CN", "Sign in"), gettext("en", "Sign in")
    ('登录', 'Sign in')
    """
    return catalog(language).get(message, message)


def language_of(request: Request) -> str:
    """The request's language: ``?lang=`` if given, else the cookie set by the switch, else Chinese."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def js_messages(language: str, area: str) -> Markup:
    """A ``<script type="application/json" id="i18n">`` element with ``area``'s messages for the page's
    scripts (read by ``/static/gridgov/i18n.js``); ``<`` is escaped so no text can close the element."""
    text = json.dumps(catalog(language, area) if language != SOURCE_LANGUAGE else {}, ensure_ascii=False,
                      separators=(",", ":"), sort_keys=True).replace("<", "\\u003c")
    return Markup(f'<script type="application/json" id="i18n" data-lang="{language}">{text}</script>')


def template_context(request: Request) -> dict:
    """What every page template gets: ``_``, the language, the choices, and the script catalog helper."""
    language = language_of(request)
    return {
        "_": lambda message: gettext(language, message),
        "lang": language,
        "languages": LANGUAGES,
        "js_messages": lambda area: js_messages(language, area),
    }
