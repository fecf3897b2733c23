#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol (standard library only) for the serve tests.

    watch_page.py URL OUT.json [--screenshot PNG] [--then CMD ARG...]

Loads URL, waits until the leaderboard has rows, records what a person sees (JSON: the
leaderboard's configurations, the state badge, the banner, the number of drawn chart lines), marks
the window, takes a screenshot if asked, then runs CMD (e.g. a concurrent sweep that finishes new
trials), and waits until the page's leaderboard shows a different set of rows without a reload
(the mark survives), and records it again. Every wait is bounded (a hang fails, nothing is timed).
"""
import base64, json, os, socket, struct, subprocess, sys, tempfile, time, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class CDP:
    def __init__(self, ws_url):
        rest = ws_url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk: raise RuntimeError("websocket handshake failed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]: raise RuntimeError(head.decode(errors="replace"))
        self.next_id = 0

    def _recv_exact(self, n):
        b = b""
        while len(b) < n:
            chunk = self.sock.recv(n - len(b))
            if not chunk: raise RuntimeError("websocket closed")
            b += chunk
        return b

    def _recv(self):
        data = b""
        while True:
            h = self._recv_exact(2)
            fin, op, n = h[0] & 0x80, h[0] & 0x0F, h[1] & 0x7F
            if n == 126: n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127: n = struct.unpack(">Q", self._recv_exact(8))[0]
            data += self._recv_exact(n)
            if fin: return data if op in (0, 1, 2) else None

    def call(self, method, **params):
        self.next_id += 1
        msg = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        header = bytes([0x81])
        n = len(msg)
        header += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
        while True:
            raw = self._recv()
            if raw is None: continue
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply: raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r: raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

SEEN = """(() => ({
  rows: Array.from(document.querySelectorAll('table.leaderboard tbody tr')).map(r => r.children[1].textContent),
  state: (document.getElementById('state') || {}).textContent || '',
  banner: (document.getElementById('banner') || {hidden: true}).hidden ? '' : document.getElementById('banner').textContent,
  status_line: (document.getElementById('status-line') || {}).textContent || '',
  chart_lines: document.querySelectorAll('#frag-schedules svg polyline, #frag-schedules svg path').length,
  error_lines: document.querySelectorAll('#frag-errors svg polyline, #frag-errors svg path').length,
  running_rows: document.querySelectorAll('table.running tbody tr').length,
  marked: window.__sgdrMark === 1
}))()"""

def wait(cdp, condition, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cdp.js(condition): return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}: {json.dumps(cdp.js(SEEN))}")

def main():
    args = sys.argv[1:]
    url, out = args[0], args[1]
    shot = None
    then = []
    rest = args[2:]
    if rest[:1] == ["--screenshot"]: shot, rest = rest[1], rest[2:]
    if rest[:1] == ["--then"]: then = rest[1:]
    port = free_port()
    profile = tempfile.mkdtemp(prefix="serve-chromium-")
    browser = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--disable-extensions", "--hide-scrollbars", "--window-size=1280,1600",
                                f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {}
    try:
        end = time.monotonic() + 60
        ws = None
        while ws is None:
            try:
                pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5))
                ws = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
            except Exception:
                if time.monotonic() > end or browser.poll() is not None: raise RuntimeError("chromium did not start")
                time.sleep(0.1)
        cdp = CDP(ws)
        cdp.call("Page.enable")
        cdp.call("Page.navigate", url=url)
        wait(cdp, "document.readyState === 'complete' && document.querySelectorAll('table.leaderboard tbody tr').length > 0", 60, "leaderboard rows")
        cdp.js("window.__sgdrMark = 1")
        # The first poll has come back (the status line is the script's).
        wait(cdp, "document.getElementById('status-line').textContent.length > 0", 60, "the status line")
        result["before"] = cdp.js(SEEN)
        if shot:
            png = cdp.call("Page.captureScreenshot", format="png", clip={"x": 0, "y": 0, "width": 1280, "height": 1500, "scale": 0.6})
            with open(shot, "wb") as f: f.write(base64.b64decode(png["data"]))
        if then:
            before = json.dumps(result["before"]["rows"], separators=(",", ":"))
            done = subprocess.run(then, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
            result["then_status"] = done.returncode
            result["then_stderr"] = done.stderr.decode(errors="replace")[-2000:]
            wait(cdp, f"JSON.stringify(Array.from(document.querySelectorAll('table.leaderboard tbody tr')).map(r => r.children[1].textContent)) !== {json.dumps(before)}"
                      " && document.getElementById('state').textContent === 'Sweep finished'", 120, "the leaderboard to change")
            result["after"] = cdp.js(SEEN)
    finally:
        browser.terminate()
        try: browser.wait(timeout=20)
        except subprocess.TimeoutExpired: browser.kill(); browser.wait()
        with open(out, "w") as f: json.dump(result, f)

if __name__ == "__main__":
    main()
