#!/usr/bin/python3
"""Drives the uni dashboard in headless Chromium for dashboard_browser_test.

Loads the page, prints READY once it has rendered, then watches it while the
test runs tasks: the completed counter and the tasks/s chart must move, and
the failure the test causes must appear in "Recent failures". Takes a
screenshot. Prints one JSON object of what it saw on stdout; the C++ test
makes the assertions. Chromium is started through chromedriver (Debian's
chromium-driver) and always quit; the test also kills this process group.
"""
import argparse
import hashlib
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--profile", required=True, help="Chromium's user data dir")
    ap.add_argument("--failure", required=True, help="text of the error to wait for")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # Root in a container: no sandbox; /dev/shm may be small.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000", "--user-data-dir=" + args.profile,
                 "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    seen = {}
    try:
        driver.set_page_load_timeout(args.timeout)
        driver.get(args.url + "/")
        js = driver.execute_script

        def wait(cond, what):
            deadline = time.time() + args.timeout
            while time.time() < deadline:
                value = cond()
                if value:
                    return value
                time.sleep(0.2)
            seen.setdefault("timeouts", []).append(what)
            return cond()

        def state():
            return js("""
              const c = document.getElementById('chart');
              return {
                updates: Number(document.body.dataset.updates || 0),
                workers_text: document.getElementById('workers-count').textContent,
                worker_rows: document.querySelectorAll('#workers tbody tr.worker').length,
                completed: Number(document.getElementById('completed').textContent) || 0,
                rate_text: document.getElementById('rate').textContent,
                chart_total: Number(c.dataset.total || 0),
                chart_points: Number(c.dataset.points || 0),
                chart_image: c.toDataURL(),
                failures_text: document.getElementById('failures').innerText,
                failure_items: document.querySelectorAll('#failures li.failure').length,
                unreachable: !document.getElementById('connection').hidden,
              };""")

        wait(lambda: state()["updates"] >= 1, "first render")
        first = state()
        print("READY", flush=True)
        later = wait(lambda: (lambda s: s if s["completed"] > first["completed"]
                              and s["chart_total"] > first["chart_total"] else None)(state()),
                     "completed counter and chart moving") or state()
        failed = wait(lambda: (lambda s: s if args.failure in s["failures_text"] else None)(state()),
                      "the failure in recent failures") or state()
        final = state()
        driver.save_screenshot(args.screenshot)
        for name, s in (("first", first), ("later", later), ("failed", failed), ("final", final)):
            image = s.pop("chart_image")
            s["chart_hash"] = hashlib.sha256(image.encode()).hexdigest()[:16]
            seen[name] = s
        seen["title"] = driver.title
    finally:
        driver.quit()
    print(json.dumps(seen), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
