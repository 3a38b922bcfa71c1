"""Sign-in routes: the OAuth2 token for the API, ``/me``, and the web pages' sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm

from gridgov.config import get_settings
from gridgov.maps.templating import landing_page, templates
from gridgov.people.auth import (
    SESSION_COOKIE,
    TooManyRequests,
    Unauthorized,
    UserDep,
    account_of,
    authenticate,
    issue_token,
    resolve_principal,
)
from gridgov.people.schemas import MeRead, TokenRead
from gridgov.people.security import TokenKind
from gridgov.storage.session import SessionDep

router = APIRouter(tags=["auth"])


@router.post("/api/v1/auth/token", response_model=TokenRead)
def sign_in_for_token(session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenRead:
    """Exchange a username and password (OAuth2 password form) for a short-lived bearer token."""
    user = authenticate(session=session, username=form.username, password=form.password)
    token, seconds = issue_token(user=user, kind=TokenKind.ACCESS)
    return TokenRead(access_token=token, expires_in=seconds)


@router.get("/api/v1/me", response_model=MeRead)
def me(session: SessionDep, user: UserDep) -> MeRead:
    """Who you are: your roles, what you answer for, and the area you may see."""
    duties, jurisdiction = account_of(session=session, user=user)
    return MeRead.of(user, duties, jurisdiction)


def _page(request: Request, *, status_code: int = 200, error: str | None = None, username: str = "",
          headers: dict | None = None) -> HTMLResponse:
    context = {"error": error, "username": username, "demo": get_settings().demo}
    return templates.TemplateResponse(request, "sign_in.html", context, status_code=status_code, headers=headers)


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_page(request: Request) -> HTMLResponse:
    """The sign-in form of the web pages."""
    return _page(request)


@router.post("/sign-in", include_in_schema=False)
def sign_in(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Check the form; on success set the session cookie and go to the page of the user's role (an officer's
    field page, a chief's or supervisor's map, a planner's view), else show the form again."""
    try:
        user = authenticate(session=session, username=username, password=password)
    except (Unauthorized, TooManyRequests) as error:
        return _page(request, status_code=error.status, error=error.message, username=username,
                     headers=error.headers)
    token, seconds = issue_token(user=user, kind=TokenKind.SESSION)
    response = RedirectResponse(landing_page(resolve_principal(session=session, user=user)), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=seconds, path="/", httponly=True, samesite="lax",
        secure=get_settings().session_cookie_secure,
    )
    return response


@router.post("/sign-out", include_in_schema=False)
def sign_out() -> Response:
    """Drop the session cookie and go back to the sign-in form."""
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=get_settings().session_cookie_secure
    )
    return response
