"""The merchant side of the browser tests: pages served from another origin than cardshield.

``/checkout`` (query: ``postal=1``, ``key=pk_...``) is a shop's checkout page as a merchant
writes it: cardshield.js pinned with its SRI hash, the fields mounted, a pay button. It also
records, for the tests, every message the page receives and every event the SDK emits.
``/sibling`` runs on a third origin inside the checkout page and forges messages in both
directions. ``/framing`` is a page on an origin the publishable key does not allow, trying to
embed the fields.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from string import Template
from urllib.parse import parse_qs, urlsplit

CHECKOUT = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test shop: checkout</title>
<script>
  // Everything any window posts to this page, as the page's own scripts could see it.
  window.__received = [];
  window.addEventListener('message', function (e) {
    window.__received.push({ origin: e.origin, data: e.data });
  });
</script>
<script src="$cardshield/elements/v1/cardshield.js" integrity="$integrity"
        crossorigin="anonymous"></script>
</head>
<body>
<h1>Checkout</h1>
<form id="pay" style="max-width: 420px">
  <div id="card"></div>
  <button id="pay-button" type="submit">Pay 12.00 EUR</button>
</form>
<pre id="out"></pre>
<script>
  window.__events = [];
  const cs = Cardshield('$key');
  const card = cs.fields({
    style: {
      base: { fontSize: '17px', color: '#1d2a44', '::placeholder': { color: '#8899aa' } },
      invalid: { color: '#b0103a' }
    },
    postalCode: $postal
  });
  for (const type of ['ready', 'change', 'focus', 'blur', 'error']) {
    card.on(type, function (e) { window.__events.push({ type: type, event: e }); });
  }
  card.mount('#card');
  document.getElementById('pay').addEventListener('submit', async function (e) {
    e.preventDefault();
    window.__result = await card.tokenize();
    document.getElementById('out').textContent = JSON.stringify(window.__result);
  });
  window.addSibling = function (src) {
    const f = document.createElement('iframe');
    f.src = src;
    document.body.appendChild(f);
  };
</script>
</body></html>
"""
)

# Loaded from another origin inside the checkout page: tries to drive the card frame and to
# feed the SDK false state. Both must be ignored.
SIBLING = """<!doctype html>
<html><head><meta charset="utf-8"><title>sibling</title></head><body>
<script>
  parent.frames[0].postMessage({ cardshield: 1, type: 'tokenize', id: 'forged' }, '*');
  parent.postMessage({ cardshield: 1, type: 'change', complete: true, empty: false,
                       brand: 'forged' }, '*');
  parent.postMessage({ cardshield: 1, type: 'ready' }, '*');
</script>
</body></html>
"""

FRAMING = Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not an allowed shop</title>
<script src="$cardshield/elements/v1/cardshield.js"></script>
</head>
<body>
<div id="card"></div>
<iframe id="forged" src="$forged_src"></iframe>
<script>
  window.__events = [];
  const card = Cardshield('$key').fields({});
  for (const type of ['ready', 'change']) {
    card.on(type, function (e) { window.__events.push({ type: type, event: e }); });
  }
  card.mount('#card');
</script>
</body></html>
"""
)


class ShopPages:
    """What the pages need to know: cardshield's origin, the key and the SRI hash."""

    def __init__(self, cardshield: str, key: str, integrity: str, allowed_origin: str) -> None:
        self.cardshield = cardshield
        self.key = key
        self.integrity = integrity
        self.allowed_origin = allowed_origin

    def page(self, target: str) -> str | None:
        url = urlsplit(target)
        path, query = url.path, parse_qs(url.query)
        key = query.get("key", [self.key])[0]
        if not re.fullmatch(r"pk_live_[0-9A-Za-z]+", key):
            return None
        common = {"cardshield": self.cardshield, "key": key}
        if path == "/checkout":
            postal = "true" if query.get("postal") == ["1"] else "false"
            return CHECKOUT.substitute(common, integrity=self.integrity, postal=postal)
        if path == "/sibling":
            return SIBLING
        if path == "/framing":
            # An iframe that lies about its parent: the server renders it for the allowed
            # origin, and CSP frame-ancestors keeps the browser from showing it here.
            forged = (
                f"{self.cardshield}/elements/v1/frame?key={self.key}"
                f"&parent={self.allowed_origin}&postal=0&style=%7B%7D"
            )
            return FRAMING.substitute(common, forged_src=forged)
        return None


@contextmanager
def serve_shop(pages: ShopPages | None = None) -> Iterator[tuple[ThreadingHTTPServer, int]]:
    """Serve ``pages`` on 127.0.0.1 (port chosen by the OS) in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = server.pages.page(self.path) if server.pages else None  # type: ignore[attr-defined]
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.pages = pages  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
