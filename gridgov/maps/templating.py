"""What every page shares: the Jinja2 templates (with the translation helpers), the signed-in user of a
page, and the pages' navigation by role."""

from __future__ import annotations

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from gridgov.config import REPO_ROOT
from gridgov.maps.i18n import N_, template_context
from gridgov.people.auth import Unauthorized, current_user, resolve_principal, wall_in
from gridgov.people.models import Role
from gridgov.people.principal import Principal

templates = Jinja2Templates(directory=REPO_ROOT / "web" / "templates", context_processors=[template_context])

NAVIGATION: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    # (path, English label, roles that see the link; empty = everyone signed in)
    ("/", N_("Overview"), ()),
    ("/field", N_("Field"), (Role.OFFICER,)),
    ("/map", N_("Map"), (Role.SUPERVISOR, Role.CHIEF, Role.ADMIN, Role.OFFICER)),
    ("/dashboard", N_("Dashboard"), (Role.SUPERVISOR, Role.CHIEF, Role.ADMIN, Role.PLANNER)),
    ("/planner", N_("Planner"), (Role.PLANNER, Role.ADMIN, Role.SUPERVISOR)),
)
ROLE_NAMES = {Role.OFFICER: N_("grid officer"), Role.CHIEF: N_("chief"), Role.SUPERVISOR: N_("supervisor"),
              Role.PLANNER: N_("planner"), Role.ADMIN: N_("administrator")}


def navigation(principal: Principal) -> list[tuple[str, str]]:
    """The page links this user's roles call for, in a fixed order."""
    return [(path, label) for path, label, roles in NAVIGATION if not roles or principal.has(*roles)]


def landing_page(principal: Principal) -> str:
    """Where signing in takes a user: officers to their field page, planners to the planner view, chiefs
    and supervisors to the map; anyone else to the overview."""
    if principal.has(Role.OFFICER) and not principal.has(Role.SUPERVISOR, Role.ADMIN):
        return "/field"
    if principal.has(Role.SUPERVISOR, Role.CHIEF):
        return "/map"
    if principal.has(Role.PLANNER):
        return "/planner"
    return "/"


def page_principal(request: Request, session: Session) -> Principal | None:
    """The signed-in user of a page (session cookie), or None so the page can send them to sign in; the
    database is walled to their jurisdiction, as for an API request (row-level security on PostgreSQL)."""
    try:
        user = current_user(request, session, bearer=None)
    except Unauthorized:
        return None
    return wall_in(session, resolve_principal(session=session, user=user))


templates.env.globals["navigation"] = navigation


def role_names(roles, translate) -> str:
    """The user's roles in words, translated, for the overview's greeting."""
    return ", ".join(sorted(translate(ROLE_NAMES[role]) for role in roles))


templates.env.filters["role_names"] = role_names
