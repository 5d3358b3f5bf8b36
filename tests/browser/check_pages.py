#!/usr/bin/python3
"""Opens tinylm's HTML pages in headless Chromium (Debian's chromium + chromium-driver, through
python3-selenium) and checks that they work the way a person uses them:

  report.html  the results table with a verdict per row, the learning curves of every seed of
               both arms against tokens and FLOPs drawn as SVG, the spec diff, and nothing
               fetched over the network;
  index.html   one row per ablation; clicking a column's header sorts the rows by it (read back
               from the page, both directions, numbers as numbers, missing values last); the
               text and verdict filters hide the rows that do not match.

Each page is screenshotted into --screenshots. Exit status 0 when every check passes; each
failure is printed. Usage:
  check_pages.py --report DIR/NAME/report.html --runs-per-arm N --index DIR/index.html \
                 --ablations M --screenshots OUT_DIR
"""
import argparse
import math
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,2400"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def page_errors(driver):
    """Console errors and failed loads: a self-contained page has none."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def fetched_resources(driver):
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });")


def check_report(driver, path, runs_per_arm, screenshots):
    driver.get("file://" + os.path.abspath(path))
    check(driver.find_element(By.TAG_NAME, "h1").text.strip() != "", "report: has a title")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.results tbody tr")
    check(len(rows) >= 6, "report: the results table has its metric rows (%d)" % len(rows))
    metrics = [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows]
    check("val bits/byte" in metrics, "report: a val bits/byte row")
    bpb = rows[metrics.index("val bits/byte")].find_elements(By.TAG_NAME, "td") if "val bits/byte" in metrics else []
    check(len(bpb) == 5 and "±" in bpb[1].text and "[" in bpb[3].text and bpb[4].text != "",
          "report: bits/byte has mean ± sd per arm, an interval and a verdict: %s" % [c.text for c in bpb])
    verdicts = driver.find_elements(By.CSS_SELECTOR, "table.results td.verdict")
    check(len(verdicts) >= 4, "report: verdict cells marked (%d)" % len(verdicts))
    for figure in ("curves-tokens", "curves-flops"):
        svg = driver.find_elements(By.CSS_SELECTOR, "#%s svg" % figure)
        check(len(svg) == 1 and svg[0].size["width"] > 300 and svg[0].size["height"] > 200,
              "report: %s drawn as an SVG of real size" % figure)
        if not svg:
            continue
        lines = svg[0].find_elements(By.TAG_NAME, "polyline")
        # Every seed of both arms: a training and a validation curve each.
        check(len(lines) == 2 * 2 * runs_per_arm, "report: %s has %d curves (expected %d)" % (figure, len(lines), 4 * runs_per_arm))
        points = [len(l.get_attribute("points").split()) for l in lines]
        check(min(points) >= 2, "report: every curve of %s has points (%s)" % (figure, points))
    check(len(driver.find_elements(By.CSS_SELECTOR, "#spec-diff .add")) > 0 and
          len(driver.find_elements(By.CSS_SELECTOR, "#spec-diff .del")) > 0, "report: the spec diff shows removed and added lines")
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.speed tbody tr")) > 0, "report: the speed table")
    check(len(driver.find_elements(By.TAG_NAME, "blockquote")) > 0, "report: generated samples")
    check(fetched_resources(driver) == [], "report: nothing fetched (%s)" % fetched_resources(driver))
    check(page_errors(driver) == [], "report: no console errors (%s)" % page_errors(driver))
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(os.path.join(screenshots, "report.png"))


def column(driver, name):
    """The sort keys of one column, top to bottom, as the page shows them now."""
    headers = [h.text.strip() for h in driver.find_elements(By.CSS_SELECTOR, "#leaderboard thead th")]
    i = headers.index(name)
    values = []
    for row in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr"):
        cell = row.find_elements(By.TAG_NAME, "td")[i]
        v = cell.get_attribute("data-v")
        values.append(cell.text if v is None else (math.nan if v == "" else float(v)))
    return values


def click_header(driver, name):
    for h in driver.find_elements(By.CSS_SELECTOR, "#leaderboard thead th"):
        if h.text.strip() == name:
            h.click()
            return h.get_attribute("aria-sort")
    raise KeyError(name)


def sorted_with_missing_last(values, descending):
    present = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    key = (lambda v: v.lower()) if present and isinstance(present[0], str) else None
    return sorted(present, key=key, reverse=descending) + [v for v in values if v not in present]


def check_index(driver, path, ablations, screenshots):
    driver.set_window_size(1600, 900)
    driver.get("file://" + os.path.abspath(path))
    rows = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr")
    check(len(rows) == ablations, "index: one row per ablation (%d, expected %d)" % (len(rows), ablations))
    links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody a")]
    check(all(l.endswith("/report.html") and os.path.exists(l[len("file://"):]) for l in links),
          "index: every row links to its existing report.html")
    for name in ("params (variant)", "bits/byte variant", "ablation", "tokens/s variant"):
        for expected in ("ascending", "descending"):
            state = click_header(driver, name)
            values = column(driver, name)
            want = sorted_with_missing_last(values, expected == "descending")
            same = all((isinstance(a, float) and math.isnan(a) and isinstance(b, float) and math.isnan(b)) or a == b
                       for a, b in zip(values, want))
            check(state == expected and same, "index: a click on '%s' sorts %s: %s" % (name, expected, values))
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(os.path.join(screenshots, "index.png"))
    first = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr td")[0].text
    box = driver.find_element(By.ID, "filter")
    box.send_keys(first)
    visible = [r for r in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr") if r.is_displayed()]
    check(1 <= len(visible) < ablations and all(first in r.text for r in visible),
          "index: filtering by '%s' shows only its rows (%d of %d)" % (first, len(visible), ablations))
    box.clear()
    box.send_keys("no such ablation anywhere")
    visible = [r for r in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr") if r.is_displayed()]
    check(len(visible) == 0 and driver.find_element(By.ID, "shown").text == "0 of %d shown" % ablations,
          "index: a filter matching nothing hides every row and says so")
    for _ in range(len(box.get_attribute("value"))):
        box.send_keys("\b")
    verdicts = [c.get_attribute("class") for c in driver.find_elements(By.CSS_SELECTOR, "#leaderboard td.verdict")]
    for choice in ("better", "worse", "undecided"):
        Select(driver.find_element(By.ID, "verdict")).select_by_value(choice)
        visible = [r for r in driver.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr") if r.is_displayed()]
        expected = sum(1 for v in verdicts if choice in v.split())
        check(len(visible) == expected, "index: the verdict filter '%s' shows %d rows (expected %d)" % (choice, len(visible), expected))
    check(fetched_resources(driver) == [], "index: nothing fetched")
    check(page_errors(driver) == [], "index: no console errors (%s)" % page_errors(driver))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--runs-per-arm", type=int, required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--ablations", type=int, required=True)
    ap.add_argument("--screenshots", required=True)
    a = ap.parse_args()
    os.makedirs(a.screenshots, exist_ok=True)
    driver = browser()
    try:
        check_report(driver, a.report, a.runs_per_arm, a.screenshots)
        check_index(driver, a.index, a.ablations, a.screenshots)
    finally:
        driver.quit()
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
