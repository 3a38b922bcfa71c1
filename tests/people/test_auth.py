"""Sign-in (SQLite and PostGIS): hashing, tokens and their forgeries, throttling, /me, the web cookie."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import insert, select

from gridgov.audit.models import AuditRecord
from gridgov.config import PLACEHOLDER_SECRET, InsecureSettings, Settings, get_settings
from gridgov.main import create_app
from gridgov.people.auth import TooManyRequests, Unauthorized, authenticate, require
from gridgov.people.demo import DEMO_PASSWORD, seed_demo_users
from gridgov.people.models import Role, User
from gridgov.people.security import TokenKind, decode_token, encode_token, hash_password, verify_password
from gridgov.storage.db import get_engine, transaction
from tests.audit_guard import log_setup
from tests.conftest import import_dataset
from tests.databases import app_url, new_database
from tests.factories_geo import COUNTY, GRIDS, TOWNS, VILLAGES

OFFICER = "w4309210001"  # grids GRIDS[0] (village 1) and GRIDS[1] (village 2)
VILLAGE_FIELD_CHIEF = "zt430921100202"


@pytest.fixture(autouse=True)
def signing_secret(monkeypatch) -> str:
    """A random signing secret per test, outside demo mode, as production runs."""
    secret = secrets.token_urlsafe(48)
    monkeypatch.setenv("GRIDGOV_SECRET_KEY", secret)
    monkeypatch.delenv("GRIDGOV_DEMO", raising=False)
    get_settings.cache_clear()
    yield secret
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def county_db(backend, small_county_gpkg, tmp_path_factory) -> str:
    """The small county with its demo accounts, in a database of this module's own (tests add users)."""
    url = new_database(backend, tmp_path_factory.mktemp("auth"), "auth")
    import_dataset(url, small_county_gpkg)
    with transaction(get_engine(url)) as session:
        seed_demo_users(session=session, county_code=COUNTY)
    return url


def app_for(url: str) -> FastAPI:
    return create_app(app_url(url))


@pytest.fixture
def client(county_db) -> TestClient:
    with TestClient(app_for(county_db), base_url="https://testserver") as client:
        yield client


def add_user(url: str, *, password: str = "correct horse battery", **fields) -> str:
    """A new account of its own for a test that changes it; returns the username."""
    username = f"t.{uuid.uuid4().hex[:12]}"
    row = {"county_code": COUNTY, "username": username, "display_name": "Test", "person_code": None,
           "password_hash": hash_password(password), "disabled": False, "token_version": 0,
           "failed_sign_ins": 0, "locked_until": None, "created_at": datetime.now(UTC)} | fields
    with transaction(get_engine(url)) as session:
        session.execute(insert(User), [row])
        log_setup(session, county_code=COUNTY, object_type="user", object_id=username, after=fields)
    return username


def change_user(url: str, username: str, **fields) -> None:
    with transaction(get_engine(url)) as session:
        user = session.get(User, (COUNTY, username))
        for name, value in fields.items():
            setattr(user, name, value)
        log_setup(session, county_code=COUNTY, object_type="user", object_id=username, after=fields)


def get_user(url: str, username: str) -> User:
    with transaction(get_engine(url)) as session:
        return session.get(User, (COUNTY, username))


def token_for(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> str:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    return body["access_token"]


def me(client: TestClient, token: str):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(header: dict, claims: dict, secret: str | None) -> str:
    """A JWT built by hand, signed with HMAC-SHA256 whatever its header claims (or unsigned)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = "" if secret is None else _b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256)
                                                .digest())
    return f"{signing_input}.{signature}"


def valid_claims(username: str = OFFICER, **overrides) -> dict:
    now = int(datetime.now(UTC).timestamp())
    return {"sub": username, "county": COUNTY, "ver": 0, "typ": "access", "iat": now, "exp": now + 600} | overrides


# Passwords and tokens, without a database.

def test_password_hash_is_argon2_and_verifies():
    stored = hash_password("河长 patrol 2024")
    assert stored.startswith("$argon2id$")
    assert "河长" not in stored
    assert verify_password("河长 patrol 2024", stored) == (True, None)
    assert verify_password("河长 patrol 2025", stored)[0] is False


def test_outdated_hash_is_upgraded_on_verify():
    weak = Argon2Hasher(time_cost=1, memory_cost=8 * 1024).hash("pw")
    valid, new_hash = verify_password("pw", weak)
    assert valid and new_hash is not None and new_hash != weak
    assert verify_password("pw", new_hash) == (True, None)


def test_token_round_trip(signing_secret):
    token = encode_token(county_code=COUNTY, username=OFFICER, token_version=3, kind=TokenKind.ACCESS, minutes=5,
                         secret=signing_secret)
    claims = decode_token(token, secret=signing_secret, kind=TokenKind.ACCESS)
    assert (claims.county_code, claims.username, claims.token_version) == (COUNTY, OFFICER, 3)
    with pytest.raises(Exception, match="session"):
        decode_token(token, secret=signing_secret, kind=TokenKind.SESSION)


def test_placeholder_or_short_secret_is_refused_outside_the_demo():
    with pytest.raises(InsecureSettings):
        Settings(secret_key=PLACEHOLDER_SECRET, demo=False).check_production()
    with pytest.raises(InsecureSettings):
        Settings(secret_key="short-but-not-placeholder", demo=False).check_production()
    Settings(secret_key=secrets.token_urlsafe(48), demo=False).check_production()
    demo = Settings(secret_key=PLACEHOLDER_SECRET, demo=True)
    demo.check_production()
    assert demo.secret_key != PLACEHOLDER_SECRET and len(demo.secret_key) >= 32
    assert demo.session_cookie_secure is False
    assert Settings(demo=True, session_cookie_secure=True).session_cookie_secure is True
    assert Settings().session_cookie_secure is True


def test_create_app_refuses_a_placeholder_secret(monkeypatch, empty_db):
    monkeypatch.setenv("GRIDGOV_SECRET_KEY", PLACEHOLDER_SECRET)
    get_settings.cache_clear()
    with pytest.raises(InsecureSettings):
        create_app(empty_db)
    monkeypatch.setenv("GRIDGOV_DEMO", "1")
    get_settings.cache_clear()
    create_app(empty_db)


# Signing in.

def test_sign_in_issues_a_token_that_me_accepts(client):
    response = me(client, token_for(client, OFFICER))
    assert response.status_code == 200
    assert response.json()["username"] == OFFICER


def test_wrong_password_and_unknown_user_answer_the_same_401(client):
    wrong = client.post("/api/v1/auth/token", data={"username": OFFICER, "password": "nope"})
    unknown = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"


def test_unknown_user_still_costs_a_hash_check(county_db, monkeypatch):
    import gridgov.people.auth as auth

    checked = []
    monkeypatch.setattr(auth, "spend_verify_time", checked.append)
    with transaction(get_engine(county_db)) as session, pytest.raises(Unauthorized):
        authenticate(session=session, username="nobody", password="guess")
    assert checked == ["guess"]


def test_disabled_user_cannot_sign_in(client, county_db):
    username = add_user(county_db, disabled=True)
    response = client.post("/api/v1/auth/token", data={"username": username, "password": "correct horse battery"})
    assert response.status_code == 401
    assert "disabled" in response.json()["description"]


def test_repeated_failures_lock_the_account_until_the_lock_expires(client, county_db):
    username = add_user(county_db)
    limit = get_settings().sign_in_max_failures
    for _ in range(limit):
        assert client.post("/api/v1/auth/token", data={"username": username, "password": "x"}).status_code == 401
    locked = client.post("/api/v1/auth/token", data={"username": username, "password": "correct horse battery"})
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "Retry-After" in locked.json()["description"]

    later = datetime.now(UTC) + timedelta(minutes=get_settings().sign_in_lock_minutes, seconds=1)
    with transaction(get_engine(county_db)) as session:
        with pytest.raises(TooManyRequests):
            authenticate(session=session, username=username, password="correct horse battery")
        user = authenticate(session=session, username=username, password="correct horse battery", now=later)
        assert user.username == username
    user = get_user(county_db, username)
    assert (user.failed_sign_ins, user.locked_until) == (0, None)


def test_failures_below_the_limit_do_not_lock_and_success_resets_them(client, county_db):
    username = add_user(county_db)
    for _ in range(get_settings().sign_in_max_failures - 1):
        client.post("/api/v1/auth/token", data={"username": username, "password": "x"})
    assert get_user(county_db, username).failed_sign_ins == get_settings().sign_in_max_failures - 1
    token_for(client, username, "correct horse battery")
    assert get_user(county_db, username).failed_sign_ins == 0


def test_sign_ins_and_failures_are_in_the_audit_log(client, county_db):
    username = add_user(county_db)
    client.post("/api/v1/auth/token", data={"username": username, "password": "wrong"})
    client.post("/api/v1/auth/token", data={"username": "nobody.at.all", "password": "wrong"})
    token_for(client, username, "correct horse battery")
    with transaction(get_engine(county_db)) as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.object_id.in_([username, "nobody.at.all"]))
                               .order_by(AuditRecord.id)).all()
    assert [(r.actor, r.action, r.object_type) for r in rows] == [
        ("test:fixture", "test_setup", "user"), (username, "sign_in_failed", "user"), (username, "sign_in", "user"),
    ]
    assert rows[1].after == {"failed_sign_ins": 1, "locked_until": None}


# Tokens that must not work.

def test_me_without_credentials_is_401_with_a_bearer_challenge(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("case", ["expired", "forged", "alg_none", "rs256_header", "hs512_header", "session_as_bearer",
                                  "wrong_county", "unknown_user", "garbage", "missing_version"])
def test_bad_tokens_are_401(client, signing_secret, case):
    def encoded(**kwargs):
        args = {"county_code": COUNTY, "username": OFFICER, "token_version": 0, "kind": TokenKind.ACCESS,
                "minutes": 5, "secret": signing_secret} | kwargs
        return encode_token(**args)

    token = {
        "expired": lambda: encoded(now=datetime.now(UTC) - timedelta(hours=1)),
        "forged": lambda: encoded(secret=secrets.token_urlsafe(48)),
        "alg_none": lambda: hand_made_token({"alg": "none", "typ": "JWT"}, valid_claims(), None),
        "rs256_header": lambda: hand_made_token({"alg": "RS256", "typ": "JWT"}, valid_claims(), signing_secret),
        "hs512_header": lambda: hand_made_token({"alg": "HS512", "typ": "JWT"}, valid_claims(), signing_secret),
        "session_as_bearer": lambda: encoded(kind=TokenKind.SESSION),
        "wrong_county": lambda: encoded(county_code="430922"),
        "unknown_user": lambda: encoded(username="nobody"),
        "garbage": lambda: "not.a.token",
        "missing_version": lambda: hand_made_token({"alg": "HS256", "typ": "JWT"},
                                                   {k: v for k, v in valid_claims().items() if k != "ver"},
                                                   signing_secret),
    }[case]()
    response = me(client, token)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


def test_hand_made_hs256_token_is_accepted(client, signing_secret):
    # The control for the forgeries above: the same construction with the right header works.
    token = hand_made_token({"alg": "HS256", "typ": "JWT"}, valid_claims(), signing_secret)
    assert me(client, token).status_code == 200


def test_disabling_a_user_revokes_their_tokens(client, county_db):
    username = add_user(county_db)
    token = token_for(client, username, "correct horse battery")
    assert me(client, token).status_code == 200
    change_user(county_db, username, disabled=True)
    assert me(client, token).status_code == 401
    change_user(county_db, username, disabled=False, token_version=1)
    assert me(client, token).status_code == 401
    assert me(client, token_for(client, username, "correct horse battery")).status_code == 200


def test_require_answers_403_to_other_roles(county_db):
    app = app_for(county_db)

    @app.get("/admin-only", dependencies=[Depends(require(Role.ADMIN))])
    def admin_only() -> dict:
        return {"ok": True}

    with TestClient(app) as client:
        officer = client.get("/admin-only", headers={"Authorization": f"Bearer {token_for(client, OFFICER)}"})
        admin = client.get("/admin-only", headers={"Authorization": f"Bearer {token_for(client, 'admin')}"})
        anonymous = client.get("/admin-only")
    assert (officer.status_code, admin.status_code, anonymous.status_code) == (403, 200, 401)


# /me per role.

def test_me_for_an_officer(client):
    body = me(client, token_for(client, OFFICER)).json()
    assert body["roles"] == ["officer"]
    assert body["officer_grids"] == sorted(GRIDS[:2])
    jurisdiction = body["jurisdiction"]
    assert jurisdiction["county_wide"] is False
    assert jurisdiction["units"] == sorted([GRIDS[0], GRIDS[0] + "01", GRIDS[0] + "02", GRIDS[1], GRIDS[1] + "01"])
    assert jurisdiction["resource_villages"] == {kind: sorted(VILLAGES[:2]) for kind in ("farmland", "forest", "river")}


def test_me_for_a_village_chief(client):
    body = me(client, token_for(client, VILLAGE_FIELD_CHIEF)).json()
    assert body["roles"] == ["chief"]
    assert body["chief_posts"] == [{"domain": "field", "level": "village", "unit_code": VILLAGES[1]}]
    assert body["jurisdiction"]["units"] == sorted([VILLAGES[1], GRIDS[1], GRIDS[1] + "01", GRIDS[2], GRIDS[2] + "01"])
    assert body["jurisdiction"]["resource_villages"] == {"farmland": [VILLAGES[1]]}


def test_me_for_a_town_supervisor(client):
    body = me(client, token_for(client, "town.supervisor")).json()
    assert body["roles"] == ["supervisor"]
    assert body["grants"] == [{"role": "supervisor", "unit_code": TOWNS[0]}]
    units = set(body["jurisdiction"]["units"])
    assert {TOWNS[0], *VILLAGES[:2], *GRIDS[:3]} <= units
    assert not units & {TOWNS[1], VILLAGES[2], *GRIDS[3:]}
    assert body["jurisdiction"]["unit_count"] == 10


def test_me_for_a_county_admin_is_county_wide_without_code_lists(client):
    body = me(client, token_for(client, "admin")).json()
    assert body["roles"] == ["admin"]
    assert body["jurisdiction"] == {"county_code": COUNTY, "county_wide": True, "unit_count": 0, "units": [],
                                    "resource_villages": {}}


# The web pages' cookie.

def test_sign_in_page_has_labelled_fields(client):
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    assert 'autocomplete="current-password"' in page.text


def test_cookie_sign_in_flow(client):
    wrong = client.post("/sign-in", data={"username": OFFICER, "password": "nope"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert "用户名或密码错误" in wrong.text and 'role="alert"' in wrong.text
    assert "set-cookie" not in wrong.headers

    signed_in = client.post("/sign-in", data={"username": OFFICER, "password": DEMO_PASSWORD},
                            follow_redirects=False)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/field"  # an officer lands on their field page
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("gridgov_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()

    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["username"] == OFFICER

    signed_out = client.post("/sign-out", follow_redirects=False)
    assert signed_out.status_code == 303
    assert "gridgov_session=" in signed_out.headers["set-cookie"]
    assert client.get("/api/v1/me").status_code == 401


def test_an_access_token_does_not_pass_as_a_session_cookie(client):
    client.cookies.set("gridgov_session", token_for(client, OFFICER))
    assert client.get("/api/v1/me").status_code == 401


def test_demo_cookie_is_not_secure(county_db, monkeypatch):
    monkeypatch.setenv("GRIDGOV_DEMO", "1")
    get_settings.cache_clear()
    with TestClient(app_for(county_db)) as client:
        response = client.post("/sign-in", data={"username": OFFICER, "password": DEMO_PASSWORD},
                               follow_redirects=False)
        assert response.status_code == 303
        assert "secure" not in response.headers["set-cookie"].lower()
        assert client.get("/api/v1/me").status_code == 200
