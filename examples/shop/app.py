"""The shop's web application: products, cart, checkout with the hosted fields, orders,
and the webhook receiver.

Every page is sent with a Content-Security-Policy that allows scripts only from the shop
itself and from cardshield, and frames only from cardshield (PCI DSS 6.4.3 asks that every
script on a payment page be authorized; FAQ 1588 asks the embedding page to resist script
attacks). cardshield.js is pinned with its SRI hash. The page runs no inline script.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from cardshield.client import Cardshield
from examples.shop import catalog, checkout, webhooks
from examples.shop.config import ShopConfig
from examples.shop.store import Order, Store

log = logging.getLogger("shop")

HERE = Path(__file__).parent
CART_COOKIE = "cart"


def content_security_policy(cardshield_origin: str) -> str:
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {cardshield_origin}",
            f"frame-src {cardshield_origin}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        )
    )


class _Integrity:
    """The SRI hash of cardshield.js, read once from cardshield (or given in the config)."""

    def __init__(self, config: ShopConfig) -> None:
        self._config = config
        self._value = config.script_integrity
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            if self._value is None:
                url = self._config.api_url.rstrip("/") + "/elements/v1/sri.json"
                http = self._config.http_client
                response = http.get(url) if http else httpx.get(url, timeout=10)
                response.raise_for_status()
                value = response.json()["cardshield.js"]
                if not isinstance(value, str) or not value.startswith("sha384-"):
                    raise ValueError("cardshield's sri.json has no sha384 hash for cardshield.js")
                self._value = value
            return self._value


def create_shop(config: ShopConfig) -> FastAPI:
    store = Store(config.database)
    client = Cardshield(
        config.secret_key, base_url=config.api_url, http_client=config.http_client, max_retries=2
    )
    integrity = _Integrity(config)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["money"] = catalog.money
    csp = content_security_policy(config.cardshield_origin)

    app = FastAPI(title="Example shop", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        cart = catalog.parse_cart(request.cookies.get(CART_COOKIE))
        context.setdefault("cart_count", sum(cart.values()))
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def order_or_404(request: Request, order_id: str) -> Order | Response:
        order = store.get(order_id) if order_id.startswith("ord_") else None
        if order is None:
            return page(request, "message.html", 404, title="Not found", text="No such order.")
        return order

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> Response:
        return page(request, "index.html", products=list(catalog.PRODUCTS.values()))

    @app.post("/cart")
    def add_to_cart(
        request: Request, sku: Annotated[str, Form()], quantity: Annotated[int, Form()] = 1
    ) -> Response:
        cart = catalog.parse_cart(request.cookies.get(CART_COOKIE))
        if sku in catalog.PRODUCTS and 0 < quantity <= catalog.MAX_QUANTITY:
            cart[sku] = min(cart.get(sku, 0) + quantity, catalog.MAX_QUANTITY)
        response = RedirectResponse("/cart", status_code=303)
        response.set_cookie(CART_COOKIE, catalog.format_cart(cart), httponly=True, samesite="lax")
        return response

    @app.post("/cart/clear")
    def clear_cart() -> Response:
        response = RedirectResponse("/cart", status_code=303)
        response.delete_cookie(CART_COOKIE)
        return response

    @app.get("/cart", response_class=HTMLResponse)
    def cart(request: Request) -> Response:
        lines = catalog.lines(catalog.parse_cart(request.cookies.get(CART_COOKIE)))
        total = sum(line.total for line in lines)
        return page(request, "cart.html", lines=lines, total=total, currency=config.currency)

    @app.post("/checkout")
    def start_checkout(request: Request) -> Response:
        lines = catalog.lines(catalog.parse_cart(request.cookies.get(CART_COOKIE)))
        if not lines:
            return RedirectResponse("/cart", status_code=303)
        items = [
            {"sku": x.product.sku, "name": x.product.name, "qty": x.quantity, "price": x.total}
            for x in lines
        ]
        order = store.create_order(sum(x.total for x in lines), config.currency, items)
        log.info("order created order=%s amount=%s", order.id, order.amount)
        response = RedirectResponse(f"/orders/{order.id}/pay", status_code=303)
        response.delete_cookie(CART_COOKIE)
        return response

    @app.get("/orders", response_class=HTMLResponse)
    def orders(request: Request) -> Response:
        return page(request, "orders.html", orders=store.all())

    @app.get("/orders/{order_id}", response_class=HTMLResponse)
    def order_page(request: Request, order_id: str) -> Response:
        found = order_or_404(request, order_id)
        if not isinstance(found, Order):
            return found
        return page(request, "order.html", order=found, attempts=store.attempts(found.id))

    @app.get("/orders/{order_id}/pay", response_class=HTMLResponse)
    def pay_page(request: Request, order_id: str) -> Response:
        found = order_or_404(request, order_id)
        if not isinstance(found, Order):
            return found
        if not found.payable:
            return RedirectResponse(f"/orders/{found.id}", status_code=303)
        return page(
            request,
            "checkout.html",
            order=found,
            cardshield=config.cardshield_origin,
            integrity=integrity.get(),
            publishable_key=config.publishable_key,
        )

    @app.post("/orders/{order_id}/pay")
    async def pay(request: Request, order_id: str) -> Response:
        order = store.get(order_id) if order_id.startswith("ord_") else None
        if order is None:
            return JSONResponse({"error": "order_missing", "message": "No such order."}, 404)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "json_required", "message": "Send JSON."}, 415)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "invalid_json", "message": "Send JSON."}, 400)
        token = body.get("token") if isinstance(body, dict) else None
        return_url = str(request.url_for("order_return", order_id=order.id))
        outcome = await run_in_threadpool(
            checkout.pay,
            client,
            store,
            order,
            token if isinstance(token, str) else "",
            return_url=return_url,
        )
        return JSONResponse(outcome.body, outcome.status_code)

    @app.get("/orders/{order_id}/return", name="order_return")
    def order_return(request: Request, order_id: str) -> Response:
        found = order_or_404(request, order_id)
        if not isinstance(found, Order):
            return found
        checkout.finish_challenge(client, store, found)
        return RedirectResponse(f"/orders/{found.id}", status_code=303)

    @app.post("/orders/{order_id}/refund")
    def refund(request: Request, order_id: str) -> Response:
        found = order_or_404(request, order_id)
        if not isinstance(found, Order):
            return found
        error = checkout.refund(client, found)
        if error is not None:
            text = f"The refund was not made ({error})."
            return page(request, "message.html", 409, title="Refund", text=text)
        return RedirectResponse(f"/orders/{found.id}", status_code=303)

    @app.post("/webhooks/cardshield")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        status, answer = await run_in_threadpool(
            webhooks.receive,
            store,
            config.webhook_secret,
            body,
            request.headers.get("cardshield-signature"),
        )
        return JSONResponse({"received": answer}, status)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
