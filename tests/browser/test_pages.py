"""The pages in a real browser, with every request that would leave the machine blocked."""

from __future__ import annotations


def test_a_page_reaching_for_the_internet_is_caught(page, outbound):
    """The harness itself: a request to anywhere but the live server is aborted and recorded."""
    page.goto("/sign-in")
    page.evaluate("fetch('https://unpkg.com/leaflet@1.9.4/dist/leaflet.js').catch(() => null)")
    page.wait_for_timeout(200)
    assert outbound.urls == ["https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"]
    outbound.urls.clear()  # seen; the fixture's own check at teardown must pass
