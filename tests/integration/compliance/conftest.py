"""A demo deployment (SQLite file and local key file in a temp data folder) to report on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cardshield.commands.demo import _origins, provision
from cardshield.config import Settings


@pytest.fixture
def deployment(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", allow_http_loopback_webhooks=True)
    provision(settings, _origins("127.0.0.1", 8750, 8751), datetime.now(UTC))
    return settings
