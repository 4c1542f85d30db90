"""The shop's products and its cart (kept in a cookie as ``sku:qty,sku:qty``)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    blurb: str
    price: int  # minor units


PRODUCTS: dict[str, Product] = {
    p.sku: p
    for p in (
        Product("notebook", "Field notebook", "48 pages, dot grid, fits a pocket.", 1200),
        Product("pen", "Fountain pen", "Steel nib, refillable converter.", 4500),
        Product("ink", "Bottle of ink", "50 ml, blue-black, permanent.", 900),
    )
}

MAX_QUANTITY = 20
_ITEM = re.compile(r"([a-z]{1,20}):([0-9]{1,2})")


@dataclass(frozen=True)
class Line:
    product: Product
    quantity: int

    @property
    def total(self) -> int:
        return self.product.price * self.quantity


def parse_cart(cookie: str | None) -> dict[str, int]:
    """The cart in the cookie; anything malformed or unknown is dropped, not trusted."""
    cart: dict[str, int] = {}
    for item in (cookie or "").split(",")[:20]:
        match = _ITEM.fullmatch(item.strip())
        if match and match[1] in PRODUCTS and 0 < int(match[2]) <= MAX_QUANTITY:
            cart[match[1]] = int(match[2])
    return cart


def format_cart(cart: dict[str, int]) -> str:
    return ",".join(f"{sku}:{qty}" for sku, qty in cart.items() if qty > 0)


def lines(cart: dict[str, int]) -> list[Line]:
    return [Line(PRODUCTS[sku], qty) for sku, qty in cart.items() if sku in PRODUCTS]


def money(amount: int, currency: str) -> str:
    return f"{amount // 100}.{amount % 100:02d} {currency.upper()}"
