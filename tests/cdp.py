"""A headless Chromium driven through the DevTools protocol over a pipe: no driver, no extra package.

Chromium started with ``--remote-debugging-pipe`` reads protocol messages
(JSON, each ended by a NUL byte) from file descriptor 3 and answers on 4.
This is enough to open a page, run JavaScript in it, click, type, and
collect every console error and uncaught exception::

    with Browser() as browser:
        page = browser.open("file:///tmp/site/index.html")
        page.evaluate("document.title")
        assert not page.errors
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class ProtocolError(RuntimeError):
    pass


class Browser:
    """One headless Chromium; :meth:`open` gives a :class:`Page`."""

    def __init__(self, executable: str | None = None, timeout: float = 60.0):
        self.executable = executable or chromium()
        if self.executable is None:
            raise RuntimeError("Chromium is not installed")
        self.timeout = timeout
        self._next = 0
        self._buffer = b""
        self._events: list[dict] = []

    def __enter__(self) -> "Browser":
        self.profile = tempfile.mkdtemp(prefix="gs-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # The child needs them as 3 and 4: move them out of the way first, so no dup2 clobbers another.
        high_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 100)
        high_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 100)
        os.close(to_child_r)
        os.close(from_child_w)

        def plumb():  # runs in the child, before exec
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        argv = [self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                "--window-size=1400,1000", "about:blank"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=plumb)
        os.close(high_r)
        os.close(high_w)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        shutil.rmtree(self.profile, ignore_errors=True)

    # ------------------------------------------------------------------ the protocol
    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for reply in self._read(deadline):
                if reply.get("id") == self._next:
                    if "error" in reply:
                        raise ProtocolError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self._events.append(reply)

    def _read(self, deadline: float):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("Chromium did not answer in time")
        ready, _, _ = select.select([self._from_child], [], [], left)
        if not ready:
            raise TimeoutError("Chromium did not answer in time")
        chunk = os.read(self._from_child, 1 << 20)
        if not chunk:
            raise ProtocolError("Chromium closed the pipe")
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        return [json.loads(m) for m in messages if m]

    def pump(self, seconds: float) -> None:
        """Collect events for a while."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._events.extend(self._read(deadline))
            except TimeoutError:
                return

    def open(self, url: str) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        page.goto(url)
        return page


class Page:
    """One tab: JavaScript, clicks and the errors it printed."""

    def __init__(self, browser: Browser, session: str):
        self.browser = browser
        self.session = session

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, session=self.session)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str, await_promise: bool = True):
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": await_promise,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            raise ProtocolError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:g} s for {expression}")
            time.sleep(0.05)

    def click(self, selector: str, double: bool = False) -> None:
        """A real mouse click (pressed and released) at the middle of the first element matching ``selector``."""
        box = self.evaluate(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: "center", inline: "center"}});
            const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        if box is None:
            raise ProtocolError(f"nothing matches {selector}")
        x, y = box
        for count in ((1, 2) if double else (1,)):
            for kind in ("mousePressed", "mouseReleased"):
                self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                       "clickCount": count})

    def type(self, selector: str, text: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text})

    def press(self, key: str) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                 "windowsVirtualKeyCode": 13 if key == "Enter" else 0})

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far in this tab."""
        self.browser.pump(0.2)
        out = []
        for event in self.browser._events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(f"exception: {params['exceptionDetails'].get('text')} "
                           f"{params['exceptionDetails'].get('exception', {}).get('description', '')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return out

    @property
    def dialogs(self) -> list[str]:
        self.browser.pump(0.1)
        return [e["params"].get("message", "") for e in self.browser._events
                if e.get("sessionId") == self.session and e.get("method") == "Page.javascriptDialogOpening"]
