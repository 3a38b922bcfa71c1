"""The officer's field page on a phone in a real browser: offline and back, the outbox, the service worker.

Each test uses a phone-sized context of its own, with geolocation granted and fixed inside the officer's
grid, and the same blocking of every request off the machine as the ``page`` fixture.
"""

from __future__ import annotations

import hashlib
import io
import uuid

import numpy as np
import pytest
import shapely
from PIL import Image

from tests.browser.conftest import SCREENSHOTS, only_live_server, sign_in

OFFICER = "w4309210001"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}
SYNC_MS = 30_000


def _jpeg() -> bytes:
    """A real small JPEG, as a phone camera would hand the page one."""
    image = Image.new("RGB", (64, 48), (40, 110, 70))
    image.paste((200, 180, 60), (20, 12, 44, 36))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _points_inside(geometry: dict, n: int) -> list[tuple[float, float]]:
    """``n`` points (lon, lat) well inside the grid, nearest its centre first, about 30 m apart."""
    polygon = shapely.geometry.shape(geometry)
    core = polygon.buffer(-0.0005)  # about 50 m in from the edge
    core = polygon if core.is_empty else core
    centre = core.point_on_surface()
    xs, ys = np.meshgrid(np.arange(core.bounds[0], core.bounds[2], 0.0003),
                         np.arange(core.bounds[1], core.bounds[3], 0.0003))
    xs, ys = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(core, xs, ys)
    xs, ys = xs[inside], ys[inside]
    order = np.argsort((xs - centre.x) ** 2 + (ys - centre.y) ** 2)[:n]
    points = [(float(xs[i]), float(ys[i])) for i in order]
    assert len(points) == n, "the grid is too small for the test's points"
    return points


class Phone:
    """A phone-sized browser context signed in as the officer, placed inside their first grid."""

    def __init__(self, browser, live_server, outbound, *, service_workers: str = "block") -> None:
        self.context = browser.new_context(base_url=live_server.url, service_workers=service_workers, **PHONE)
        self.context.route("**/*", only_live_server(live_server, outbound))
        self.page = self.context.new_page()
        sign_in(self.page, OFFICER, lands_on="/field")
        self.grid = self.api("/api/v1/me")["officer_grids"][0]
        self.points = _points_inside(self.api(f"/ogc/collections/grids/items/{self.grid}")["geometry"], 3)
        self.context.grant_permissions(["geolocation"], origin=live_server.url)
        self.move_to(self.points[0])

    def api(self, path: str, **params):
        response = self.page.request.get(path, params=params or None)
        assert response.ok, (path, response.status, response.text())
        return response.json()

    def move_to(self, point: tuple[float, float]) -> None:
        self.context.set_geolocation({"longitude": point[0], "latitude": point[1], "accuracy": 8})

    def open_field_page(self) -> None:
        self.page.goto("/field")
        self.page.wait_for_function("document.body.dataset.ready === '1'")
        # the position has arrived and the categories are in the form
        self.page.wait_for_function("document.getElementById('finding-where').textContent.includes('.')")
        assert self.page.locator("#finding-category option").count() > 1

    def queued(self) -> int:
        return int(self.page.evaluate("document.body.dataset.queued"))

    def wait_until_synced(self) -> None:
        self.page.wait_for_function("document.body.dataset.queued === '0'", timeout=SYNC_MS)


@pytest.fixture
def phone(browser, live_server, outbound):
    made = Phone(browser, live_server, outbound)
    yield made
    made.context.close()
    assert outbound.urls == [], f"requests left the machine: {outbound.urls}"


def _signed_in_api(browser, live_server, outbound, username: str):
    """A context signed in as ``username`` (its request API shares the session cookie)."""
    context = browser.new_context(base_url=live_server.url, service_workers="block")
    context.route("**/*", only_live_server(live_server, outbound))
    page = context.new_page()
    sign_in(page, username)
    return context, page.request


def _river_category(phone: Phone) -> dict:
    return next(c for c in phone.api("/api/v1/findings/categories") if c["domain"] == "river" and c["active"])


def _find_by_description(phone: Phone, text: str) -> list[dict]:
    items = phone.api("/api/v1/findings", grid_code=phone.grid, limit=1000)["items"]
    return [f for f in items if f["description"] == text]


def test_a_finding_filed_offline_reaches_the_supervisors_map_and_the_right_chiefs_inbox(
        phone, browser, live_server, outbound):
    page = phone.page
    phone.open_field_page()
    category = _river_category(phone)
    description = f"offline finding {uuid.uuid4()}"
    photo = _jpeg()

    phone.context.set_offline(True)
    page.wait_for_function("document.getElementById('net').dataset.state === 'offline'")
    page.select_option("#finding-category", category["code"])
    page.fill("#finding-description", description)
    page.set_input_files("#finding-photo", files=[{"name": "finding.jpg", "mimeType": "image/jpeg",
                                                     "buffer": photo}])
    page.click("#finding-submit")
    page.wait_for_function("document.body.dataset.queued === '2'")  # the finding, then its photo
    assert page.locator("#queue-count").text_content() == "2"
    assert "2" in page.locator("#sync-status").text_content()
    assert page.locator("#queue-list li").count() == 2
    assert _find_by_description(phone, description) == []  # nothing has reached the server
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / "field.png")

    phone.context.set_offline(False)
    phone.wait_until_synced()
    assert page.locator("#sync-status").text_content() == "没有待同步的内容"

    [finding] = _find_by_description(phone, description)
    assert finding["category_code"] == category["code"] and finding["grid_code"] == phone.grid
    assert finding["reporter"] == OFFICER
    assert (finding["lon"], finding["lat"]) == pytest.approx(phone.points[0], abs=1e-6)
    [stored] = phone.api(f"/api/v1/findings/{finding['id']}/photos")
    assert stored["media_type"] == "image/jpeg" and stored["sha256"] == hashlib.sha256(photo).hexdigest()

    # the supervisor's map shows it
    context, supervisor = _signed_in_api(browser, live_server, outbound, "supervisor")
    layer = supervisor.get("/map/findings.json", params={"town": finding["town_code"],
                                                         "category": category["code"]}).json()
    assert finding["id"] in [row[layer["columns"].index("id")] for row in layer["rows"]]
    context.close()

    # it was routed to a chief of its domain over its place, and waits in that chief's inbox
    timeline = phone.api(f"/api/v1/findings/{finding['id']}/timeline")
    owner = timeline["finding"]["owner_person"]
    assert owner and owner != finding["reporter"], timeline["finding"]
    assert timeline["finding"]["chiefs"], timeline["finding"]
    context, chief = _signed_in_api(browser, live_server, outbound, owner.lower())
    me = chief.get("/api/v1/me").json()
    assert any(post["domain"] == "river" for post in me["chief_posts"]), me
    assert finding["id"] in [f["id"] for f in chief.get("/api/v1/inbox", params={"limit": 1000}).json()["items"]]
    context.close()


def test_a_patrol_started_offline_queues_its_fixes_and_answers_and_sends_them_in_order(phone):
    page = phone.page
    phone.open_field_page()
    phone.context.set_offline(True)
    page.select_option("#patrol-grid", phone.grid)
    page.click("#patrol-toggle")
    page.wait_for_function("document.getElementById('patrol-toggle').dataset.state === 'running'")
    patrol_id = page.evaluate("JSON.parse(localStorage.getItem('gridgov-field-patrol')).id")
    for point in phone.points[1:]:  # the officer walks: the phone reports new positions
        page.wait_for_timeout(1100)
        phone.move_to(point)
    page.wait_for_function("Number(document.getElementById('patrol').dataset.fixes) >= 2")
    first_item = page.locator(".checklist:not([hidden]) .check").first
    item_code = first_item.get_attribute("data-item")
    first_item.locator("button[data-answer=ok]").click()
    assert first_item.locator("button[data-answer=ok]").get_attribute("aria-pressed") == "true"
    page.click("#patrol-toggle")
    page.wait_for_function("document.getElementById('patrol-toggle').dataset.state === 'idle'")
    labels = page.locator("#queue-list li").all_text_contents()
    assert len(labels) == 4 and phone.queued() == 4, labels  # start, the answer, the fixes, the end
    assert phone.page.request.get(f"/api/v1/patrols/{patrol_id}").status == 404

    phone.context.set_offline(False)
    phone.wait_until_synced()
    patrol = phone.api(f"/api/v1/patrols/{patrol_id}")
    assert patrol["status"] == "ended" and patrol["grid_code"] == phone.grid
    assert patrol["fix_count"] >= 2  # the positions reported while walking
    assert {c["item_code"]: c["answer"] for c in patrol["checklist"]}[item_code] == "ok"


def test_a_reply_lost_on_the_way_back_is_sent_again_and_stored_once(phone):
    """The server stores the finding but the phone never hears so: the outbox sends it again, and the
    phone-made id makes the server answer the stored finding instead of filing a second one."""
    page = phone.page
    phone.open_field_page()
    lost = []

    def lose_the_reply(route):
        if route.request.method == "POST" and not lost:
            route.fetch()  # the server gets it...
            lost.append(route.request.url)
            route.abort()  # ...and the reply is lost
        else:
            route.continue_()

    page.route("**/api/v1/findings", lose_the_reply)
    description = f"reply lost {uuid.uuid4()}"
    page.select_option("#finding-category", _river_category(phone)["code"])
    page.fill("#finding-description", description)
    page.click("#finding-submit")
    for _ in range(100):
        if lost:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # the outbox has seen the failure and stopped
    assert phone.queued() == 1
    assert len(_find_by_description(phone, description)) == 1  # stored, though the phone still waits
    page.evaluate("window.dispatchEvent(new Event('online'))")  # as the retry timer would
    phone.wait_until_synced()
    assert lost and len(_find_by_description(phone, description)) == 1


def test_the_page_opens_offline_from_its_service_worker(browser, live_server, outbound):
    phone = Phone(browser, live_server, outbound, service_workers="allow")
    try:
        page = phone.page
        phone.open_field_page()
        version = page.evaluate("""async () => {
            const registration = await navigator.serviceWorker.ready;
            const keys = await caches.keys();
            return {scope: registration.scope, keys: keys};
        }""")
        assert version["scope"] == live_server.url + "/field"
        [cache] = [k for k in version["keys"] if k.startswith("gridgov-field-")]
        page.wait_for_function(f"caches.open('{cache}').then(c => c.match('/map/grids.topojson')).then(Boolean)")
        grids = int(page.evaluate("document.body.dataset.gridsDrawn"))
        assert grids == len(phone.api("/api/v1/me")["officer_grids"])

        phone.context.set_offline(True)
        [worker] = phone.context.service_workers
        assert worker.evaluate("fetch('/api/v1/me').then(() => 'online', () => 'offline')") == "offline"
        page.reload()
        page.wait_for_function("document.body.dataset.ready === '1'")
        assert page.locator("#net").get_attribute("data-state") == "offline"
        assert int(page.evaluate("document.body.dataset.gridsDrawn")) == grids
        assert page.locator("#finding-category option").count() > 1
        assert page.locator(".checklist").count() >= 1
    finally:
        phone.context.close()
    assert outbound.urls == []


def test_the_inbox_offers_the_steps_the_officer_may_take(phone, browser, live_server, outbound):
    """A finding the officer reported comes back resolved: their inbox lists it with "verify" among the
    steps the timeline allows, and taking the step from the page verifies it."""
    finding_id = str(uuid.uuid4())
    body = {"id": finding_id, "category_code": _river_category(phone)["code"], "lon": phone.points[1][0],
            "lat": phone.points[1][1], "crs": "wgs84", "observed_at": "2026-11-20T09:00:00+08:00",
            "description": "to verify"}
    reported = phone.page.request.post("/api/v1/findings", data=body)
    assert reported.status == 201, reported.text()
    context, chief = _signed_in_api(browser, live_server, outbound, reported.json()["owner_person"].lower())
    for action in ("accept", "start", "resolve"):
        step = chief.post(f"/api/v1/findings/{finding_id}/steps", data={"action": action, "note": "done"})
        assert step.status == 201, step.text()
    context.close()

    page = phone.page
    phone.open_field_page()
    item = page.locator(f"#inbox-list details[data-finding='{finding_id}']")
    item.locator("summary").click()
    select = item.locator("select")
    select.wait_for()
    assert "verify" in [o.get_attribute("value") for o in select.locator("option").all()]
    assert item.locator(f"label[for='{select.get_attribute('id')}']").count() == 1
    select.select_option("verify")
    item.locator("textarea").fill("checked on the spot")
    item.locator("button[type=submit]").click()
    page.wait_for_function("document.getElementById('inbox-status').textContent === '已办理。'")
    timeline = phone.api(f"/api/v1/findings/{finding_id}/timeline")
    assert timeline["finding"]["status"] == "verified"
    assert timeline["events"][-1]["note"] == "checked on the spot"


def test_signing_out_forgets_the_offline_copies_but_not_the_waiting_writes(browser, live_server, outbound):
    """On a shared phone, the next person must not open the officer's page, grids or inbox offline; what the
    officer filed and has not sent yet stays queued for them."""
    phone = Phone(browser, live_server, outbound, service_workers="allow")
    try:
        page = phone.page
        phone.open_field_page()
        page.wait_for_function("caches.keys().then(keys => keys.some(k => k.startsWith('gridgov-field-')))")
        category = _river_category(phone)
        phone.context.set_offline(True)
        page.wait_for_function("document.getElementById('net').dataset.state === 'offline'")
        page.select_option("#finding-category", category["code"])
        page.fill("#finding-description", "waiting while signed out")
        page.click("#finding-submit")
        page.wait_for_function("document.body.dataset.queued === '1'")
        page.route("**/api/v1/findings**", lambda route: route.abort())  # keep it waiting through sign-out
        phone.context.set_offline(False)
        page.click("header form[action='/sign-out'] button[type=submit]")
        page.wait_for_url("**/sign-in")
        page.wait_for_function("document.documentElement.dataset.offlineCopies === 'cleared'")
        assert page.evaluate("caches.keys()") == []
        waiting = page.evaluate("""() => new Promise((resolve, reject) => {
            const open = indexedDB.open("gridgov-field");
            open.onsuccess = () => {
                const all = open.result.transaction("outbox").objectStore("outbox").getAll();
                all.onsuccess = () => resolve(all.result.map(entry => entry.kind));
                all.onerror = () => reject(all.error);
            };
            open.onerror = () => reject(open.error);
        })""")
        assert "finding" in waiting
    finally:
        phone.context.close()
    assert outbound.urls == []
