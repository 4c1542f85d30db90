"""A test world for Amazon Connect: the API app (tests/apps.py) with a merchant holding an
active Connect key and a signing secret; ciphertexts made with the real AWS Encryption SDK
exactly as Connect makes them; signed posts; and a dump of every database row."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from httpx import Response
from sqlalchemy import Engine, MetaData, func, select

from cardshield.phone.connect import ConnectKey, ConnectKeys
from cardshield.phone.connect.signature import SIGNATURE_HEADER, sign
from cardshield.phone.connect.signing_secrets import create_secret
from cardshield.phone.connect.simulate import connect_encrypt
from cardshield.storage.schema import cards
from tests.apps import NOW, Api

PATH = "/v1/phone/amazon-connect/tokens"
KID = "a5ecd749-4bd8-4a94-bfde-27eefe4f12b1"  # as Connect shows an uploaded key's id
OTHER_KID = "0c3e1f7a-2b4d-4e6f-8a9b-1c2d3e4f5a6b"
INSTANCE_ARN = (
    "arn:aws:connect:eu-west-2:123456789012:instance/5b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
)
OTHER_ARN = "arn:aws:connect:eu-west-2:123456789012:instance/11111111-2222-4333-8444-555555555555"
CONTACT_ID = "9a0f3c52-6d1e-4b7a-8f2c-1e5d7b9a3c40"
EXPIRY = "1230"  # December 2030; the app's clock is November 2026


@dataclass
class World:
    api: Api
    key: ConnectKey
    secret: str
    secret_id: str

    @property
    def merchant(self) -> str:
        return self.api.merchant

    @property
    def engine(self) -> Engine:
        return self.api.runtime.engine

    def encrypt(self, plaintext: str, key_id: str = KID) -> str:
        return connect_encrypt(plaintext, self.key.certificate_pem, key_id)

    def body(self, pan: str, cvv: str | None = None, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "merchant": self.merchant,
            "contact_id": CONTACT_ID,
            "instance_arn": INSTANCE_ARN,
            "card_number": self.encrypt(pan),
            "expiry": self.encrypt(EXPIRY),
        }
        if cvv is not None:
            body["security_code"] = self.encrypt(cvv)
        body.update(changes)
        return body

    def post(
        self,
        body: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        header: str | None = None,
        raw: bytes | None = None,
    ) -> Response:
        content = raw if raw is not None else json.dumps(body).encode()
        t = int(NOW.timestamp()) if timestamp is None else timestamp
        signed = sign(secret or self.secret, content, timestamp=t) if header is None else header
        headers = {"content-type": "application/json"}
        if signed:
            headers[SIGNATURE_HEADER] = signed
        return self.api.client.post(PATH, content=content, headers=headers)

    def card_rows(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(cards)).scalar_one())


def make_world(api: Api) -> World:
    runtime = api.runtime
    keys = ConnectKeys(runtime.vault.keys)
    with runtime.engine.begin() as conn:
        key = keys.create(conn, merchant_id=api.merchant, now=NOW, actor="test")
        key = keys.activate(
            conn,
            merchant_id=api.merchant,
            key_id=key.id,
            connect_key_id=KID,
            now=NOW,
            actor="test",
        )
        created = create_secret(
            conn,
            runtime.vault.keys,
            merchant_id=api.merchant,
            instance_arns=[INSTANCE_ARN],
            now=NOW,
            actor="test",
        )
    return World(api, key, created.secret.reveal(), created.info.id)


def database_text(engine: Engine) -> tuple[str, str]:
    """Every row of every table: (everything, bytes as latin-1 included; text columns only).
    The second is for the security-code check, which random ciphertext bytes could trip."""
    metadata = MetaData()
    metadata.reflect(engine)
    everything: list[str] = []
    text: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        everything.append(bytes(value).decode("latin-1"))
                    else:
                        everything.append(str(value))
                        text.append(str(value))
    return "\n".join(everything), "\n".join(text)
