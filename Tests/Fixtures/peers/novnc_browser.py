#!/usr/bin/env python3
"""Drives Debian's noVNC in headless Chromium (Selenium + Debian's chromedriver) for the Sockify browser test.

Usage: novnc_browser.py --url http://127.0.0.1:PORT/vnc.html?autoconnect=1&path=... --sample X,Y [--sample X,Y ...]
       --expect-rgb RRGGBB [--focus X,Y --type TEXT --typed-file PATH] [--screenshot PATH] [--timeout S]

Steps, each bounded by --timeout as a whole:
  1. open the URL and wait until noVNC's UI marks the page connected (class `noVNC_connected` on <html>), or
     fail at once when it shows an error status (a refused token, a closed WebSocket);
  2. wait until every --sample point of the remote screen (framebuffer coordinates) reads --expect-rgb on noVNC's
     canvas through getImageData, and report the last pixels read;
  3. with --type: move the pointer to --focus (framebuffer coordinates) and click there through WebDriver input
     actions, so the X server's pointer-root focus lands on the window there; then send TEXT plus Enter to the
     canvas with send_keys and wait until --typed-file contains TEXT (a program on the VNC desktop writes it);
  4. with --screenshot: save a PNG of the page.

Prints exactly one JSON object on stdout, including {"error": "..."} on failure, and exits 0 so the caller always
gets a result to assert on. Nothing is downloaded: the driver and browser paths are explicit and Selenium Manager
is switched off; Chromium gets a dead loopback proxy so that any request to a non-loopback host fails locally.
"""
import argparse
import json
import os
import signal
import time

os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never reach the network (set before selenium loads)

try:  # after SE_OFFLINE on purpose
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError as missing:  # a missing peer tool is a loud failure, reported in the one JSON line
    print(json.dumps({"error": f"{missing}: run tools/setup-deps.sh (pip package selenium)"}), flush=True)
    raise SystemExit(0)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Headless, root-safe, and quiet on the network: no background services, no component updates, and every
# non-loopback request sent to a proxy at 127.0.0.1:9 that is not there (loopback bypasses proxies implicitly).
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-extensions",
    "--metrics-recording-only",
    "--proxy-server=http://127.0.0.1:9",
]

# "connected" once noVNC's UI marks the page connected, "error" once it shows an error status, else null.
CONNECTION_STATE = """
if (document.documentElement.classList.contains('noVNC_connected')) { return 'connected'; }
const status = document.getElementById('noVNC_status');
return status && status.classList.contains('noVNC_status_error') ? 'error' : null;
"""

# Reads one framebuffer pixel per [x, y] from noVNC's visible canvas; returns [[r, g, b, a], ...].
READ_PIXELS = """
const canvas = document.querySelector('#noVNC_container canvas');
if (!canvas || canvas.width === 0) { return null; }
const ctx = canvas.getContext('2d');
return arguments[0].map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data));
"""


def point(text):
    x, y = text.split(",")
    return [int(x), int(y)]


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def poll(self, what, probe, interval=0.1):
        """Calls probe() until it returns a truthy value or the deadline passes (then raises TimeoutError)."""
        while True:
            value = probe()
            if value:
                return value
            if self.left() <= 0:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(interval)  # bounded poll of another process (browser, X client), not synchronisation


def status_text(driver):
    try:
        return driver.execute_script(
            "const s = document.getElementById('noVNC_status'); return s ? s.textContent : null;"
        )
    except Exception:  # noqa: BLE001 - diagnostics only
        return None


def descendants(pid):
    """Every live descendant PID of pid (Chromium's processes under chromedriver), from /proc/<pid>/task/*/children."""
    found, frontier = [], [pid]
    while frontier and len(found) < 1000:
        parent = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found += children
            frontier += children
    return found


def alive(pid):
    """Whether pid still runs (a zombie waiting for init to reap it has already exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def reap(pids):
    """After driver.quit(): gives the browser's processes 5 s to exit, then SIGKILLs each survivor by PID."""
    deadline = Deadline(5)
    try:
        deadline.poll("the browser to exit", lambda: not any(alive(p) for p in pids))
    except TimeoutError:
        for pid in pids:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # exited between the check and the kill


def run(args, out, deadline):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    if args.ignore_certificate_errors:
        # The https test's certificate is self-signed and made for the test.
        options.add_argument("--ignore-certificate-errors")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    out["browser"] = driver.capabilities.get("browserVersion")
    try:
        driver.set_page_load_timeout(max(1, deadline.left()))
        driver.set_script_timeout(10)
        driver.get(args.url)
        try:
            state = deadline.poll("noVNC to connect", lambda: driver.execute_script(CONNECTION_STATE))
        finally:
            out["status"] = status_text(driver)
        if state != "connected":
            raise RuntimeError(f"noVNC reported an error: {out['status']}")
        out["connected"] = True
        out["title"] = driver.title

        canvas = driver.find_element(By.CSS_SELECTOR, "#noVNC_container canvas")
        out["canvas_width"] = int(canvas.get_property("width"))
        out["canvas_height"] = int(canvas.get_property("height"))
        expected = [int(args.expect_rgb[i : i + 2], 16) for i in (0, 2, 4)]

        def screen_matches():
            pixels = driver.execute_script(READ_PIXELS, args.sample)
            out["pixels"] = [p[:3] for p in pixels] if pixels else None
            return pixels and all(p[:3] == expected for p in pixels)

        try:
            deadline.poll(f"the canvas to show #{args.expect_rgb} at {args.sample}", screen_matches)
        except TimeoutError:
            pass  # the caller asserts on the pixels it gets back
        else:
            out["screen_matches"] = True

        if args.type is not None:
            type_text(driver, canvas, args, out, deadline)

        if args.screenshot:
            out["screenshot"] = driver.save_screenshot(args.screenshot)
    finally:
        try:
            out["console"] = [entry["message"] for entry in driver.get_log("browser")][-20:]
        except Exception:  # noqa: BLE001 - diagnostics only
            pass
        browser = descendants(driver.service.process.pid)
        driver.quit()
        reap(browser)


def type_text(driver, canvas, args, out, deadline):
    # WebDriver offsets are from the element's centre, in CSS pixels; the canvas may be scaled from the framebuffer.
    rect = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON();", canvas)
    scale_x = rect["width"] / out["canvas_width"]
    scale_y = rect["height"] / out["canvas_height"]
    dx = round((args.focus[0] + 0.5) * scale_x - rect["width"] / 2)
    dy = round((args.focus[1] + 0.5) * scale_y - rect["height"] / 2)
    ActionChains(driver).move_to_element_with_offset(canvas, dx, dy).click().perform()
    canvas.send_keys(args.type + Keys.ENTER)
    out["typed"] = args.type

    def typed_file():
        try:
            with open(args.typed_file, encoding="utf-8", errors="replace") as f:
                out["typed_file"] = f.read()
        except FileNotFoundError:
            out["typed_file"] = None
        return out["typed_file"] is not None and args.type in out["typed_file"]

    try:
        deadline.poll(f"{args.typed_file} to contain the typed text", typed_file)
    except TimeoutError:
        pass  # the caller asserts on typed_file


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--sample", type=point, action="append", required=True, help="framebuffer X,Y (repeatable)")
    p.add_argument("--expect-rgb", required=True, help="RRGGBB the samples must show")
    p.add_argument("--focus", type=point, default=[0, 0], help="framebuffer X,Y to click before typing")
    p.add_argument("--type", help="text to send to the canvas (Enter is appended)")
    p.add_argument("--typed-file", help="file a program on the VNC desktop writes the typed text to")
    p.add_argument("--screenshot", help="PNG path for a screenshot of the connected page")
    p.add_argument("--timeout", type=float, default=45, help="whole-run bound in seconds")
    p.add_argument("--ignore-certificate-errors", action="store_true", help="accept the page's self-signed cert")
    args = p.parse_args()
    if args.type is not None and not args.typed_file:
        p.error("--type needs --typed-file")
    out = {"error": None, "connected": False, "screen_matches": False}
    started = time.monotonic()
    try:
        run(args, out, Deadline(args.timeout))
    except Exception as e:  # noqa: BLE001 - reported to the Swift test, which fails with this text
        out["error"] = f"{type(e).__name__}: {e}"
    out["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
