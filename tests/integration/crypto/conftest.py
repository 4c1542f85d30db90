"""Real key services for the KMS provider tests: a SoftHSM2 token initialised in a temporary
folder, and moto's KMS running as a server on loopback. Under CI (CI=true) a missing tool fails
the test instead of skipping it."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def missing(what: str, how: str) -> NoReturn:
    """Skip on a developer machine, fail under CI: CI must run every provider."""
    message = f"{what} is not available ({how})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; required under CI", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class SoftHSM:
    conf: Path
    token: str
    pin: str
    so_pin: str
    module: str = SOFTHSM_MODULE

    def credentials(self) -> list[str]:
        return ["--pin", self.pin, "--so-pin", self.so_pin]

    def url(self, prefix: str, *, pin: str | None = None, extra: str = "") -> str:
        """A pkcs11: URL for this token; keys labelled ``prefix-*``."""
        return (
            f"pkcs11:{self.token}?module={self.module}&prefix={prefix}"
            f"&pin={self.pin if pin is None else pin}{extra}"
        )


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    """One token per test process: SoftHSM2 reads its configuration once per process, so
    tests share the token and keep apart by key label prefix (see ``hsm_prefix``)."""
    util = shutil.which("softhsm2-util")
    if util is None or not Path(SOFTHSM_MODULE).exists():
        missing("SoftHSM2", "apt-get install softhsm2")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    hsm = SoftHSM(conf=conf, token="cardshield-test", pin="4321", so_pin="87654321")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            [util, "--init-token", "--free", "--label", hsm.token, *hsm.credentials()],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield hsm


@pytest.fixture
def hsm_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class MotoKMS:
    endpoint: str
    region: str = "eu-west-1"

    def url(self, alias: str) -> str:
        return f"aws:{alias}?region={self.region}&endpoint_url={self.endpoint}"


@pytest.fixture(scope="session")
def moto_kms() -> Iterator[MotoKMS]:
    """moto's AWS server on a free loopback port, with dummy credentials only for it."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        missing("moto server", "pip install 'moto[server]'")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as mp:
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            mp.delenv(var, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield MotoKMS(endpoint=f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def aws_alias() -> str:
    return f"alias/cardshield-test/{uuid.uuid4().hex[:12]}"
