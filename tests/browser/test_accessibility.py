"""Every page, audited in the browser: axe-core finds no serious or critical WCAG 2 A/AA violation,
nothing shifts while a phone loads the page, and the keyboard reaches every control."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in

AXE = __import__("pathlib").Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
PAGES = [  # (who signs in, the page, what tells it is ready)
    (None, "/sign-in", "#username"),
    ("supervisor", "/", "main .cards"),
    ("supervisor", "/dashboard", "[data-kpi=registered]"),
    ("supervisor", "/map", "body[data-grids-drawn]"),
    ("planner", "/planner", "body[data-grids-drawn]"),
    ("w4309210001", "/field", "body[data-grids-drawn]"),
]
CONTROLS = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea, [tabindex='0']"
CLS_JS = """() => new Promise(resolve => {
  let total = 0;
  new PerformanceObserver(list => {
    for (const entry of list.getEntries()) { if (!entry.hadRecentInput) { total += entry.value; } }
  }).observe({type: "layout-shift", buffered: true});
  setTimeout(() => resolve(total), 500);
})"""


def _open(page, who, path, ready):
    if who is not None:
        sign_in(page, who)
    page.goto(path)
    page.wait_for_selector(ready, state="attached", timeout=30_000)


@pytest.mark.parametrize(("who", "path", "ready"), PAGES, ids=[p[1] for p in PAGES])
def test_no_serious_accessibility_violations(page, who, path, ready):
    _open(page, who, path, ready)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]},
                                                      resultTypes: ["violations"]})""")
    serious = [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"],
         "where": [n["target"] for n in v["nodes"][:5]]}
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious


@pytest.mark.parametrize(("who", "path", "ready"), PAGES, ids=[p[1] for p in PAGES])
def test_nothing_shifts_while_a_phone_loads_the_page(page, who, path, ready):
    page.set_viewport_size(PHONE)
    _open(page, who, path, ready)
    page.wait_for_load_state("networkidle")
    shift = page.evaluate(CLS_JS)
    assert shift < 0.1, f"cumulative layout shift {shift:.3f} on {path} (Core Web Vitals: good is < 0.1)"


@pytest.mark.parametrize(("who", "path", "ready"), PAGES, ids=[p[1] for p in PAGES])
def test_the_keyboard_reaches_every_control(page, who, path, ready):
    _open(page, who, path, ready)
    # Each visible control is tagged with its number; a radio group shares one (it is one Tab stop: the arrow
    # keys move inside it). Tab is pressed until every number has had the focus, or far more often than needed.
    controls = page.evaluate("""selector => {
        const groups = {};
        const found = [...document.querySelectorAll(selector)]
            .filter(e => e.offsetParent !== null && getComputedStyle(e).visibility !== "hidden");
        const names = [];
        found.forEach(e => {
            const group = e.type === "radio" && e.name ? "radio " + e.name : null;
            if (group && group in groups) { e.dataset.a11y = groups[group]; return; }
            e.dataset.a11y = String(names.length);
            if (group) { groups[group] = e.dataset.a11y; }
            names.push(e.outerHTML.slice(0, 160));
        });
        return names;
    }""", CONTROLS)
    reached = set()
    page.locator("body").focus()
    for _ in range(3 * len(controls) + 20):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement && document.activeElement.dataset.a11y"))
        if len(reached - {None}) == len(controls):
            break
    missing = [name for i, name in enumerate(controls) if str(i) not in reached]
    assert missing == [], f"{len(missing)} of {len(controls)} visible controls cannot be reached with Tab"
    unnamed = page.evaluate("""() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")
                     && !e.getAttribute("aria-labelledby") && !e.title)
        .map(e => e.outerHTML.slice(0, 120))""")
    assert unnamed == [], "inputs without a label"
