"""Sign in as each role through the form and see the right page: the role's landing page, its heading, and
exactly the navigation links the role is promised."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gridgov.maps.i18n import DEFAULT_LANGUAGE, gettext
from gridgov.maps.templating import navigation
from gridgov.people.auth import resolve_principal
from gridgov.people.models import User
from gridgov.storage.db import get_engine, transaction
from tests.browser.conftest import sign_in

HEADINGS = {"/": "GridGov", "/field": "Field patrol", "/map": "Supervisor map", "/planner": "Grids and officers"}
"""The English start of each landing page's heading; the page shows it in the default language."""

ROLES = [
    # (demo username, what it is, where signing in lands: officer → /field, supervisor and chief → /map,
    # planner → /planner, anyone else → the overview)
    ("supervisor", "county supervisor", "/map"),
    ("town.supervisor", "town supervisor", "/map"),
    ("planner", "planner", "/planner"),
    ("admin", "administrator", "/"),
    ("w4309210001", "grid officer", "/field"),
    ("zh430921100201", "village river chief", "/map"),
    ("zl430921100", "town forest chief", "/map"),
    ("zt430921100201", "village field chief", "/map"),
    ("zt430921100", "town field chief", "/map"),
]


def _promised_links(database_url: str, username: str) -> list[tuple[str, str]]:
    """(path, label in the default language) of the links ``navigation`` promises this user."""
    with transaction(get_engine(database_url)) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        principal = resolve_principal(session=session, user=user)
    return [(path, gettext(DEFAULT_LANGUAGE, label)) for path, label in navigation(principal)]


@pytest.mark.parametrize(("username", "role", "landing"), ROLES, ids=[role for _, role, _ in ROLES])
def test_signing_in_lands_on_the_roles_page(page, outbound, live_server, username, role, landing):
    sign_in(page, username, lands_on=landing)
    assert page.inner_text("header h1").startswith(gettext(DEFAULT_LANGUAGE, HEADINGS[landing])), role
    links = page.evaluate("[...document.querySelectorAll('header nav a')]"
                          ".map(a => [a.getAttribute('href'), a.textContent.trim()])")
    assert [tuple(link) for link in links] == _promised_links(live_server.database_url, username), role
    assert page.evaluate("document.querySelector('header nav a[aria-current=page]')?.getAttribute('href')") == landing
    assert outbound.urls == []
