"""The KPI dashboard in a real browser: its cards say what the KPI API says, and its rows drill down."""

from __future__ import annotations

from tests.browser.conftest import SCREENSHOTS, sign_in

PERIOD = "since=2026-09-01&until=2026-11-20"
# The page's inclusive last day, 20 November, is the API's exclusive bound: 21 November 00:00 Beijing time.
API_PERIOD = "since=2026-09-01T00:00:00%2B08:00&until=2026-11-21T00:00:00%2B08:00"


def _api(page, query: str) -> list[dict]:
    """Rows of GET /api/v1/kpis fetched inside the page, so the session cookie signs the request in."""
    return page.evaluate("q => fetch('/api/v1/kpis?' + q).then(r => r.json()).then(d => d.rows)", query)


def _cards(page) -> dict[str, str]:
    return page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-kpi]')]"
                         ".map(e => [e.dataset.kpi, e.dataset.value]))")


def _same(shown: str, expected) -> bool:
    if expected is None:
        return shown == ""
    return shown != "" and float(shown) == float(expected)


def _codes(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('#rows tbody tr[data-code]')].map(r => r.dataset.code)")


def test_the_dashboard_cards_equal_the_kpi_api_and_rows_drill_down(page, outbound):
    sign_in(page, "supervisor")
    page.goto(f"/dashboard?{PERIOD}")
    cards = _cards(page)
    [county] = _api(page, f"{API_PERIOD}&group_by=county")
    assert county["registered"] > 100, county
    expected = {"registered", "closed", "completion_rate", "on_time_rate", "on_time", "verified",
                "accept_hours_median", "resolve_hours_median", "overdue_now", "escalations", "patrol_compliance",
                "compliant_grids", "grids"}
    assert set(cards) == expected
    wrong = {name: (shown, county[name]) for name, shown in cards.items() if not _same(shown, county[name])}
    assert not wrong, wrong
    completion = page.locator("[data-kpi=completion_rate]").locator("..").inner_text()
    assert f"({county['closed']:,} / {county['registered']:,})" in completion

    towns = _api(page, f"{API_PERIOD}&group_by=town")
    assert sorted(_codes(page)) == sorted(t["town_code"] for t in towns)
    csv = page.get_attribute("a[download]", "href")
    assert "group_by=town" in csv and "f=csv" in csv and "2026-11-21T00%3A00%3A00%2B08%3A00" in csv
    assert page.request.get(csv).text().splitlines()[0].startswith("town_code,registered,closed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)

    town = towns[0]["town_code"]
    with page.expect_navigation():
        page.click(f"#rows tr[data-code='{town}'] a")
    assert f"unit={town}" in page.url and "since=2026-09-01" in page.url
    villages = _api(page, f"{API_PERIOD}&group_by=town,village")
    mine = sorted(v["village_code"] for v in villages if v["town_code"] == town)
    assert mine and sorted(_codes(page)) == mine
    [town_row] = [t for t in towns if t["town_code"] == town]
    assert _same(_cards(page)["registered"], town_row["registered"])
    assert outbound.urls == []


def test_an_anonymous_visitor_is_sent_from_the_dashboard_to_sign_in(page, outbound):
    page.goto("/dashboard")
    assert page.url.endswith("/sign-in")
    assert outbound.urls == []
