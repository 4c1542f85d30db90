"""``cardshield demo``: the vault, the sandbox processor and the example shop in one process.

On the first run it creates ``./.cardshield`` (SQLite database, local key file), a demo
merchant with its API keys, a webhook endpoint for the shop and an admin operator; their
secrets go to ``demo.json`` in the data folder (mode 0600), which later runs reuse. Then it
serves cardshield's API with its background jobs and the webhook delivery worker, and the
shop on its own origin (another port), until Ctrl-C.

The shop lives in ``examples/shop`` of the source tree, not in the installed package: it
is a merchant's application, which only holds tokens.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from cardshield.commands._shared import settings as load_cli_settings
from cardshield.config import Settings
from cardshield.errors import CardshieldError

app = typer.Typer(help="Run cardshield with an example shop.", invoke_without_command=True)

STATE_FILE = "demo.json"
OPERATOR = "demo-admin"
# Published test cards (cardshield.cards.TEST_CARDS) and what the sandbox does with them.
TRY_CARDS = (
    ("4242424242424242", "succeeds"),
    ("4000000000000002", "declined (card_declined)"),
    ("4000000000009995", "declined (insufficient_funds)"),
    ("4000000000003220", "asks for a 3-D Secure check; pass or fail it on the next page"),
)


class DemoError(CardshieldError):
    code = "demo_failed"
    default_message = "The demo could not start."


@dataclass(frozen=True)
class Origins:
    api: str  # where cardshield listens, as browsers and the shop reach it
    shop: str  # the shop's origin (a different port: a different origin)
    shop_aliases: tuple[str, ...]  # the same shop under other loopback names
    webhook_url: str
    # The console under a host name (the same server): security keys need one, not an IP.
    console: str = ""


def _loopback(host: str) -> str:
    """Where a browser reaches a server bound to ``host``: loopback for an all-interfaces bind."""
    try:
        anywhere = not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name
        anywhere = False
    return "127.0.0.1" if anywhere else host


def _origins(host: str, port: int, shop_port: int) -> Origins:
    shop = f"http://localhost:{shop_port}"
    api = f"http://{_loopback(host)}:{port}"
    local = _loopback(host) in ("127.0.0.1", "localhost", "::1")
    return Origins(
        api=api,
        shop=shop,
        shop_aliases=(shop, f"http://127.0.0.1:{shop_port}"),
        webhook_url=f"http://127.0.0.1:{shop_port}/webhooks/cardshield",
        console=f"http://localhost:{port}" if local else api,
    )


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON readable by the owner only (it holds keys and a password)."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    tmp.replace(path)


def _operator(runtime: Any, now: datetime) -> dict[str, Any]:
    """An admin with a generated password and TOTP already enrolled (a demo shortcut)."""
    from cardshield.crypto import Secret
    from cardshield.security import totp
    from cardshield.security.operators import Operators
    from cardshield.security.signin import SignIn

    ops = Operators(runtime.engine, runtime.kms)
    password = "-".join(secrets.token_hex(3) for _ in range(4))
    op = ops.create(
        now=now,
        username=OPERATOR,
        password=Secret(password),
        role="admin",
        display_name="Demo admin",
        actor="demo",
    )
    seed = totp.new_seed()
    _, codes = SignIn(ops).enroll_totp(
        now=now,
        operator_id=op.id,
        wrapped_seed=ops.wrap_seed(op.id, seed),
        code=totp.code_at(seed, totp.step_at(now)),
    )
    return {
        "username": OPERATOR,
        "password": password,
        "totp_secret": totp.seed_base32(seed),
        "otpauth_uri": totp.provisioning_uri(seed, OPERATOR),
        "recovery_codes": [c.reveal() for c in codes],
    }


def provision(settings: Settings, origins: Origins, now: datetime) -> tuple[dict[str, Any], bool]:
    """Create (first run) or bring up to date the demo's data; returns it and ``first``."""
    from cardshield.crypto.kms import init_kms
    from cardshield.payments.webhooks import create_endpoint, disable_endpoint
    from cardshield.runtime import open_runtime
    from cardshield.security.apikeys import SCOPES, create_key, revoke
    from cardshield.storage import make_engine, upgrade

    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    state_path = settings.data_dir / STATE_FILE
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {}
    first = not state
    key_file = Path(settings.effective_kms_url.removeprefix("local:"))
    if not key_file.exists():
        init_kms(settings.effective_kms_url).close()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    runtime = open_runtime(settings)
    try:
        if "merchant" not in state:
            state["merchant"] = runtime.vault.create_merchant("Demo shop", now=now, actor="demo")
        merchant = state["merchant"]
        with runtime.engine.begin() as conn:
            if "secret_key" not in state:
                sk = create_key(
                    conn, now=now, merchant_id=merchant, kind="secret", scopes=sorted(SCOPES)
                )
                state["secret_key"] = sk.key.reveal()
            # The publishable key names the shop's origins; a new port needs a new key.
            if state.get("shop_origins") != list(origins.shop_aliases):
                if "publishable_key_id" in state:
                    revoke(conn, now=now, merchant_id=merchant, key_id=state["publishable_key_id"])
                pk = create_key(
                    conn,
                    now=now,
                    merchant_id=merchant,
                    kind="publishable",
                    scopes=["tokens:create"],
                    allowed_origins=list(origins.shop_aliases),
                    description="demo shop",
                )
                state.update(
                    publishable_key=pk.key.reveal(),
                    publishable_key_id=pk.info.id,
                    shop_origins=list(origins.shop_aliases),
                )
            if state.get("webhook_url") != origins.webhook_url:
                if "webhook_endpoint_id" in state:
                    disable_endpoint(conn, state["webhook_endpoint_id"], now=now, actor="demo")
                endpoint = create_endpoint(
                    conn,
                    merchant_id=merchant,
                    url=origins.webhook_url,
                    enabled_events=["*"],
                    now=now,
                    allow_http_loopback=True,
                    actor="demo",
                )
                state.update(
                    webhook_url=origins.webhook_url,
                    webhook_endpoint_id=endpoint.endpoint.id,
                    webhook_secret=endpoint.secret.reveal(),
                )
        if "operator" not in state:
            state["operator"] = _operator(runtime, now)
    finally:
        runtime.close()
    _write_private(state_path, state)
    return state, first


def _shop_module() -> Any:
    """``examples.shop`` from the source tree this cardshield runs from (or sys.path)."""
    try:
        return importlib.import_module("examples.shop")
    except ImportError:
        root = Path(__file__).resolve().parents[3]
        if not (root / "examples" / "shop" / "__init__.py").exists():
            raise DemoError(
                "the demo shop ships with the source tree (examples/shop): run the demo from "
                "a clone of cardshield"
            ) from None
        sys.path.insert(0, str(root))
        return importlib.import_module("examples.shop")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DemoError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _serves(api: Any, path: str) -> bool:
    """Whether ``api`` has a GET route for ``path`` (the console is optional)."""
    from starlette.routing import Match

    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in api.router.routes)


def _banner(origins: Origins, state: dict[str, Any], data_dir: Path, console: bool) -> str:
    op = state["operator"]
    lines = [
        "",
        "cardshield demo",
        "",
        f"  Shop        {origins.shop}/   (an example merchant on its own origin)",
        f"  cardshield  {origins.api}   (API docs: {origins.api}/docs)",
    ]
    if console:
        lines += [
            f"  Console     {origins.console}/console/login   (security keys work here too)",
            f"    login {op['username']}  password {op['password']}",
            f"    TOTP secret {op['totp_secret']}  (add it to an authenticator app:",
            f"    {op['otpauth_uri']})",
        ]
    lines += [
        f"  Data        {data_dir.resolve()}  (keys and logins in {STATE_FILE}, mode 0600)",
        "",
        "Test cards to try (any future expiry, any 3-digit CVC):",
    ]
    for number, outcome in TRY_CARDS:
        grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        lines.append(f"  {grouped}   {outcome}")
    lines += ["", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)


@app.callback()
def demo(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Listen address of both servers."),
    port: int = typer.Option(8750, min=1, max=65535, help="cardshield's port."),
    shop_port: int = typer.Option(8000, min=1, max=65535, help="The shop's port."),
    data_dir: Path = typer.Option(Path(".cardshield"), help="Database, key file, demo logins."),
    no_banner: bool = typer.Option(False, "--no-banner", help="Print one ready line only."),
) -> None:
    """Start cardshield (SQLite, local key, sandbox processor) and the example shop."""
    if port == shop_port:
        typer.echo("error: --port and --shop-port must differ", err=True)
        raise typer.Exit(2)
    origins = _origins(host, port, shop_port)
    base = load_cli_settings(ctx).model_dump()
    base.update(
        data_dir=data_dir,
        database_url="",
        kms_url="",
        connector="sandbox",
        connector_options={},
        host=host,
        port=port,
        public_url=origins.api,
        console_url=origins.console,
        allow_http_loopback_webhooks=True,
    )
    settings = Settings.model_validate(base)
    shop_module = _shop_module()
    api_sock, shop_sock = _bind(host, port), _bind(host, shop_port)
    state, first = provision(settings, origins, datetime.now(UTC))
    _serve(settings, origins, state, first, shop_module, (api_sock, shop_sock), no_banner)


def _serve(
    settings: Settings,
    origins: Origins,
    state: dict[str, Any],
    first: bool,
    shop_module: Any,
    socks: tuple[socket.socket, socket.socket],
    no_banner: bool,
) -> None:
    import uvicorn

    from cardshield.runtime import open_runtime
    from cardshield.web.app import create_app
    from cardshield.web.background import default_jobs

    runtime = open_runtime(settings)
    api = create_app(runtime, jobs=default_jobs(runtime))
    console = _serves(api, "/console/login")
    shop = shop_module.create_shop(
        shop_module.ShopConfig(
            api_url=origins.api,
            secret_key=state["secret_key"],
            publishable_key=state["publishable_key"],
            webhook_secret=state["webhook_secret"],
            database=settings.data_dir / "shop" / "shop.db",
        )
    )
    common: dict[str, Any] = {"log_config": None, "server_header": False, "access_log": True}
    shop_server = uvicorn.Server(uvicorn.Config(shop, timeout_graceful_shutdown=3, **common))
    # The API writes its own access log line (cardshield.web.middleware); the shop has none.
    api_config = {**common, "access_log": False}
    api_server = uvicorn.Server(uvicorn.Config(api, timeout_graceful_shutdown=5, **api_config))
    # That Config cut the shared uvicorn.access logger off (access_log=False does); the shop's
    # lines still go through it, and the API's server writes none there.
    logging.getLogger("uvicorn.access").propagate = True
    shop_thread = threading.Thread(
        target=shop_server.run, kwargs={"sockets": [socks[1]]}, name="shop", daemon=True
    )
    shop_thread.start()
    if no_banner:
        typer.echo(f"cardshield demo: shop {origins.shop}/ api {origins.api} ready", err=True)
    else:
        typer.echo(_banner(origins, state, settings.data_dir, console))
    typer.echo(f"data {'created' if first else 'reused'} in {settings.data_dir}", err=True)
    # uvicorn handles Ctrl-C/SIGTERM while it runs and raises the signal again when it is
    # done; these handlers take that second delivery so the demo ends with status 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        api_server.run(sockets=[socks[0]])
    finally:
        shop_server.should_exit = True
        shop_thread.join(10)
        for sock in socks:
            sock.close()
    typer.echo("cardshield demo stopped", err=True)
