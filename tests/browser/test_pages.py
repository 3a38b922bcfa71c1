"""The pages in a real browser, with every request that would leave the machine blocked."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.browser.conftest import SCREENSHOTS, sign_in


def test_a_page_reaching_for_the_internet_is_caught(page, outbound):
    """The harness itself: a request to anywhere but the live server is aborted and recorded."""
    page.goto("/sign-in")
    page.evaluate("fetch('https://unpkg.com/leaflet@1.9.4/dist/leaflet.js').catch(() => null)")
    page.wait_for_timeout(200)
    assert outbound.urls == ["https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"]
    outbound.urls.clear()  # seen; the fixture's own check at teardown must pass


def test_the_sign_in_page_and_the_overview_in_both_languages(page, outbound):
    """Chinese by default, English through the header's switch, back again; a wrong password is announced."""
    page.goto("/sign-in")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.fill("#username", "supervisor")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto("/sign-in")
    page.screenshot(path=SCREENSHOTS / "sign-in.png")

    sign_in(page, "supervisor", lands_on="/map")
    page.goto("/")
    assert page.locator("main .cards .card").count() == 9
    assert page.locator("h2").first.text_content() == "全县概况"
    page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)
    page.click("header a[hreflang=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h2").first.text_content() == "The county at a glance"
    assert urlsplit(page.url).path == "/"
    page.click("header a[hreflang=zh-CN]")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert outbound.urls == []
