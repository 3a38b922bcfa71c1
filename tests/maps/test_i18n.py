"""The pages' one translation mechanism: every message has its Chinese, no page text escapes the
catalogs, and the language switch works and cannot be turned into an open redirect."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient

from gridgov.config import REPO_ROOT
from gridgov.main import create_app
from gridgov.maps.i18n import COOKIE, CatalogError, catalog, js_messages
from tests.conftest import app_url

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
SOURCES = [  # (glob under the repository, Babel extractor, keywords)
    ("web/templates/**.html", "jinja2", {"_": None}),
    ("web/static/**.js", "javascript", {"t": None}),
    ("gridgov/**.py", "python", {"N_": None}),
]


def _page_scripts():
    return [p for p in (REPO_ROOT / "web" / "static").rglob("*.js") if "vendor" not in p.parts]


def _messages() -> dict[str, list[str]]:
    """Every message id the pages use, with where it is used (Babel's extractors, as a translator's tool
    would find them); the vendored libraries are not ours to translate."""
    found: dict[str, list[str]] = {}
    for pattern, method, keywords in SOURCES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
                REPO_ROOT, method_map=[(pattern, method)], keywords=keywords):
            if "/vendor/" in filename.replace("\\", "/"):
                continue
            for text in message if isinstance(message, tuple) else (message,):
                found.setdefault(text, []).append(f"{filename}:{lineno}")
    return found


def test_every_message_has_its_chinese():
    messages = _messages()
    assert len(messages) > 50, "the extractors found almost nothing: are the patterns right?"
    missing = {m: where for m, where in messages.items() if m not in catalog("zh-CN")}
    assert missing == {}, "messages without a zh_CN translation (add them to web/i18n/zh_CN/<area>.po)"


def test_every_translation_is_used():
    unused = sorted(set(catalog("zh-CN")) - set(_messages()))
    assert unused == [], "translations no page uses any more"


def test_no_page_text_bypasses_the_catalogs():
    """Chinese written straight into a template or a page script would never switch to English."""
    offenders = []
    for path in [*(REPO_ROOT / "web" / "templates").rglob("*.html"), *_page_scripts()]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if HAN.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_two_catalogs_translating_one_message_differently_are_refused(tmp_path, monkeypatch):
    import gridgov.maps.i18n as i18n

    (tmp_path / "zh_CN").mkdir()
    for area, text in (("a", "地图"), ("b", "图")):
        (tmp_path / "zh_CN" / f"{area}.po").write_text(f'msgid "Map"\nmsgstr "{text}"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "CATALOGS", tmp_path)
    i18n.catalog.cache_clear()
    try:
        with pytest.raises(CatalogError, match="'Map' is translated differently"):
            catalog("zh-CN")
    finally:
        monkeypatch.undo()
        i18n.catalog.cache_clear()


def test_scripts_get_their_area_only_and_cannot_break_out_of_the_element():
    element = str(js_messages("zh-CN", "common"))
    assert element.startswith('<script type="application/json" id="i18n" data-lang="zh-CN">')
    assert element.count("</script>") == 1 and '"Sign out":"退出"' in element
    assert str(js_messages("en", "common")).endswith(">{}</script>")
    with pytest.raises(CatalogError):
        js_messages("zh-CN", "no-such-area")


@pytest.fixture
def pages(demo_db):
    with TestClient(create_app(app_url(demo_db)), base_url="https://testserver") as client:
        yield client


def test_pages_are_chinese_by_default_and_english_on_request(pages):
    assert '<html lang="zh-CN">' in pages.get("/sign-in").text
    assert "登录" in pages.get("/sign-in").text
    switched = pages.get("/language", params={"set": "en", "next": "/sign-in?x=1"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/sign-in?x=1"
    assert switched.cookies.get(COOKIE) == "en"
    english = pages.get("/sign-in")
    assert '<html lang="en">' in english.text and "登录" not in english.text and "Sign in" in english.text
    assert pages.get("/sign-in", params={"lang": "zh-CN"}).text.count("登录") >= 2


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil"])
def test_the_switch_only_goes_back_to_this_site(pages, target):
    response = pages.get("/language", params={"set": "en", "next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_an_unknown_language_is_a_clear_400(pages):
    response = pages.get("/language", params={"set": "fr"})
    assert response.status_code == 400
    assert "zh-CN" in response.text and "fr" in response.text
