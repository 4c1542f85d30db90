"""The Python load generator the scale bench drives (asyncio + httpx, one process, each
connection from its own loopback source address so per-address rate limits count apart).

``build_request`` makes the scale bench's requests: healthz, tokenize (a generated Luhn-valid
card and a CVC with a publishable key) and payment (a token of the tokenize run, a secret key
and an ``Idempotency-Key``).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

# -- the load generator (its own process) ------------------------------------------------


def _card(rng: random.Random) -> dict[str, Any]:
    from cardshield.cards import luhn_check_digit

    partial = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    cvc = f"{rng.randrange(1000):03d}"
    return {
        "number": partial + luhn_check_digit(partial),
        "exp_month": 12,
        "exp_year": 2030,
        "cvc": cvc,
    }


async def _client(
    index: int, spec: dict[str, Any], stop_at: float, record_from: float, out: dict[str, Any]
) -> None:
    import httpx

    rng = random.Random(index)
    transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + index % 250}")
    scenario = spec["scenario"]
    keys, tokens = spec["publishable_keys"], out["tokens_in"]
    n = 0
    # Connections spread over the nodes round-robin, as a load balancer would (one node here;
    # the scale bench passes several).
    url = spec["urls"][index % len(spec["urls"])]
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as http:
        while (now := time.perf_counter()) < stop_at:
            n += 1
            request = build_request(http, scenario, rng, keys, tokens, spec, index, n)
            if request is None:
                break  # a payment run used up its tokens
            started = time.perf_counter()
            response = await http.send(request)
            elapsed = time.perf_counter() - started
            ok = response.status_code == 200
            if ok and scenario == "tokenize":
                out["tokens_out"].append(response.json()["id"])
            if ok and scenario == "payment" and response.json().get("status") != "captured":
                ok = False
            if now >= record_from:
                out["latencies"].append(elapsed)
                out["errors"] += 0 if ok else 1
                out["statuses"][response.status_code] = (
                    out["statuses"].get(response.status_code, 0) + 1
                )


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "latencies": [],
        "errors": 0,
        "statuses": {},
        "tokens_out": [],
        "tokens_in": list(spec.get("tokens", [])),
    }
    start = time.perf_counter()
    record_from = start + spec["warmup"]
    stop_at = record_from + spec["duration"]
    await asyncio.gather(
        *(_client(i, spec, stop_at, record_from, out) for i in range(spec["clients"]))
    )
    measured = min(time.perf_counter(), stop_at) - record_from
    lat = sorted(out["latencies"])

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

    return {
        "requests": len(lat),
        "per_s": round(len(lat) / measured, 1) if measured > 0 else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": out["errors"],
        "statuses": out["statuses"],
        "tokens": out["tokens_out"],
        "ran_out_of_tokens": spec["scenario"] == "payment" and not out["tokens_in"],
    }


def build_request(
    http: Any,
    scenario: str,
    rng: random.Random,
    keys: list[str],
    tokens: list[str],
    spec: dict[str, Any],
    index: int,
    n: int,
) -> Any:
    """The next request of ``scenario`` (healthz, tokenize or payment) on client ``index``;
    None once a payment run has no token left. The scale bench sends the same requests."""
    if scenario == "healthz":
        return http.build_request("GET", "/healthz")
    if scenario == "tokenize":
        key = keys[(index * 7919 + n) % len(keys)]  # spread over keys: per-key rate limits
        return http.build_request(
            "POST",
            "/v1/tokens",
            json={"card": _card(rng)},
            headers={"Authorization": f"Bearer {key}"},
        )
    if not tokens:
        return None
    return http.build_request(
        "POST",
        "/v1/payments",
        json={"amount": 1000, "currency": "eur", "token": tokens.pop()},
        headers={
            "Authorization": f"Bearer {spec['secret_key']}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )


def loadgen_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = asyncio.run(_load(spec))
    Path(spec["out"]).write_text(json.dumps(result))
