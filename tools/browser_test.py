#!/usr/bin/env python3
"""The DPO console in a real browser: headless Chromium driven over the DevTools protocol.

Starts `sluse demo`, sends an absence notice for Emma (so the trail has records, one of them a
statutory disclosure), then in headless Chromium: signs in as the DPO by pasting the demo's DPO
token, searches the disclosures, opens a record, looks at the review queue and the chain page, and
saves a screenshot. Fails (exit 1) if a page does not render what it should. Standard library
only; Chromium is driven through --remote-debugging-pipe (NUL-separated JSON on fds 3 and 4), so
no websocket client is needed.

    tools/browser_test.py [--sluse target/debug/sluse] [--chromium chromium] [--out DIR]

Exit 0: passed; 1: a check failed; 77: no Chromium here (skipped).
"""

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, chromium, profile):
        # Chromium reads commands from fd 3 and writes answers to fd 4.
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # Through fresh (close-on-exec) copies, so neither end can clobber the other.
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            preexec_fn=child_fds,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        self.call("Page.enable", session=True)

    def call(self, method, params=None, session=False, timeout=30):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._id:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer.get("result", {})
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buf += chunk
        raise RuntimeError(f"{method}: no answer in {timeout} s")

    def evaluate(self, expression):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, path_prefix, timeout=20):
        """Waits until the page at a URL whose path starts with `path_prefix` has loaded."""
        deadline = time.time() + timeout
        state = None
        while time.time() < deadline:
            # One evaluation for the URL, the state and the page: a navigation that starts between
            # two evaluations would leave no document to read. One made mid-navigation may fail.
            # The page must be a new one (no mark of `act`/`goto`), not the one navigated from.
            try:
                state = self.evaluate(
                    "[location.pathname + location.search, document.readyState,"
                    " document.documentElement ? document.documentElement.outerHTML : null,"
                    " typeof window.__sluseOld === 'undefined']"
                )
            except RuntimeError:
                state = None
            if (
                state
                and state[0].startswith(path_prefix)
                and state[1] == "complete"
                and state[2] is not None
                and state[3]
            ):
                return state[2]
            time.sleep(0.1)
        raise RuntimeError(f"no page at {path_prefix} (now at {state[:2] if state else None})")

    def act(self, expression):
        """Runs `expression`, which navigates; marks the current page first so that `wait_for`
        waits for the next one."""
        self.evaluate("window.__sluseOld = true")
        self.evaluate(expression)

    def goto(self, url, path_prefix):
        self.evaluate("window.__sluseOld = true")
        self.call("Page.navigate", {"url": url}, session=True)
        return self.wait_for(path_prefix)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def expect(html, *texts, page):
    for text in texts:
        if text not in html:
            print(f"browser test: `{text}` missing on {page}", file=sys.stderr)
            print(html[:3000], file=sys.stderr)
            sys.exit(1)
    print(f"browser test: {page} ok")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sluse", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "sluse"))
    parser.add_argument("--chromium", default=None)
    parser.add_argument("--out", default=None, help="where to save the screenshots")
    args = parser.parse_args()
    chromium = args.chromium or next(
        (c for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None)
    if not chromium:
        print("browser test: no Chromium here; skipped")
        return 77

    work = tempfile.mkdtemp(prefix="sluse-browser-")
    out_dir = args.out or work
    os.makedirs(out_dir, exist_ok=True)
    port = free_port()
    log_path = os.path.join(work, "demo.out")
    log = open(log_path, "w")
    demo = subprocess.Popen([args.sluse, "demo", "--data-dir", os.path.join(work, "demo"),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    browser = None
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        else:
            print("browser test: the demo did not start", file=sys.stderr)
            return 1
        text = open(log_path).read()
        tokens = dict(re.findall(r"^export (TOKEN_\w+)='([^']+)'", text, re.M))
        emma = re.search(r"^\s+Emma\s+(\d{6}-\d{4})", text, re.M).group(1)

        # Records for the trail: Emma's absence notice (statutory to social services).
        body = json.dumps({"kind": "absence", "subject": emma, "data": {
            "period": {"from": "2026-08-10", "to": "2026-10-31"},
            "unlawful_absence_pct": 18, "absence_band": ">=15", "parent_contacts": 2,
            "actions_taken": "meeting with the parents"}}).encode()
        request = urllib.request.Request(base + "/v1/notices", data=body, method="POST", headers={
            "Authorization": "Bearer " + tokens["TOKEN_NORDSKOLEN_SYSTEM"],
            "Content-Type": "application/json", "Idempotency-Key": "browser-test-1"})
        answer = json.load(urllib.request.urlopen(request, timeout=10))
        if not answer.get("deliveries"):
            print(f"browser test: the notice delivered nothing: {answer}", file=sys.stderr)
            return 1

        browser = Browser(chromium, os.path.join(work, "profile"))
        html = browser.goto(base + "/dpo/login", "/dpo/login")
        expect(html, "Access token", page="sign-in form")

        # Sign in: paste the DPO's token into the form and submit it, as a person would.
        browser.act(
            "(() => { const f = document.querySelector('form');"
            " f.querySelector('[name=token]').value = %s; f.submit(); })()"
            % json.dumps(tokens["TOKEN_DORTE_DPO"]))
        html = browser.wait_for("/dpo/")
        expect(html, "Disclosures and refusals", "Signed in as dorte.dpo", page="search page")

        # Search: the disclosures to social services.
        browser.act(
            "(() => { const f = document.querySelector('form.filters');"
            " f.querySelector('[name=department]').value = 'social-services'; f.submit(); })()")
        html = browser.wait_for("/dpo/?")
        expect(html, "social-services", "delivered", 'href="/dpo/records/', page="search results")
        browser.screenshot(os.path.join(out_dir, "dpo-search.png"))

        # Open the first record of the results.
        browser.act("document.querySelector('a[href^=\"/dpo/records/\"]').click()")
        html = browser.wait_for("/dpo/records/")
        expect(html, "Disclosure id", "Previous hash", "school.absence", "nordskolen",
               page="record page")
        shot = os.path.join(out_dir, "dpo-record.png")
        browser.screenshot(shot)

        html = browser.goto(base + "/dpo/review", "/dpo/review")
        expect(html, "Statutory disclosures under review", "Mark reviewed", page="review queue")
        html = browser.goto(base + "/dpo/chain", "/dpo/chain")
        expect(html, "Chain status", "Head hash", page="chain page")

        if os.path.getsize(shot) < 1000:
            print("browser test: the screenshot is empty", file=sys.stderr)
            return 1
        print(f"browser test: passed; screenshots in {out_dir}")
        return 0
    finally:
        if browser:
            browser.close()
        demo.terminate()
        try:
            demo.wait(timeout=15)
        except subprocess.TimeoutExpired:
            demo.kill()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
