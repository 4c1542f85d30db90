"""The local key-file provider: created 0600, refused when too open, missing or corrupt,
rotated atomically under a lock, and never showing key material."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cardshield.crypto import DecryptionError, KeyFileError, KMSError
from cardshield.crypto.kms import init_kms, init_local_key, open_kms
from cardshield.crypto.kms.local import LocalKMS
from cardshield.errors import ConfigError

KEY = b"\x07" * 32


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _secrets_in(path: Path) -> list[str]:
    doc = json.loads(path.read_text())
    return [e["key"] for e in doc["keks"].values()] + [doc["signing_key"]]


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "kek.key"
    init_local_key(path)
    return path


def test_init_creates_a_0600_file_in_a_0700_folder(tmp_path: Path) -> None:
    old = os.umask(0)  # even a careless umask must not widen the mode
    try:
        path = tmp_path / "new" / "kek.key"
        init_local_key(path, now=lambda: datetime(2030, 1, 2, tzinfo=UTC))
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    doc = json.loads(path.read_text())
    assert doc["format"] == "cardshield-local-kek"
    assert list(doc["keks"]) == ["1"]
    assert doc["keks"]["1"]["created"] == "2030-01-02T00:00:00+00:00"
    assert len(base64.b64decode(doc["keks"]["1"]["key"])) == 32
    assert len(base64.b64decode(doc["signing_key"])) == 32
    assert [p.name for p in path.parent.iterdir()] == ["kek.key"]  # no temp file left


def test_init_refuses_to_overwrite(key_path: Path) -> None:
    before = key_path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        init_local_key(key_path)
    with pytest.raises(KeyFileError, match="already exists"):
        init_kms(f"local:{key_path}")
    assert key_path.read_bytes() == before
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["kek.key"]


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_modes_open(key_path: Path, mode: int) -> None:
    key_path.chmod(mode)
    kms = open_kms(f"local:{key_path}")
    assert kms.unwrap(kms.wrap(KEY, context=b"c"), context=b"c") == KEY


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660, 0o620, 0o602, 0o666])
def test_group_or_other_access_is_refused(key_path: Path, mode: int) -> None:
    key_path.chmod(mode)
    with pytest.raises(KeyFileError) as info:
        open_kms(f"local:{key_path}")
    assert f"chmod 600 {key_path}" in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, KMSError)


def test_a_running_provider_stops_when_the_file_becomes_readable(key_path: Path) -> None:
    kms = open_kms(f"local:{key_path}")
    key_path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        kms.wrap(KEY, context=b"c")
    with pytest.raises(KeyFileError, match="chmod 600"):
        kms.check()


def test_missing_file_says_run_keys_init(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"not found: run `cardshield keys init`"):
        open_kms(f"local:{tmp_path / 'nope.key'}")


def test_a_folder_is_not_a_key_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    folder.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        open_kms(f"local:{folder}")


def _corruptions(good: bytes) -> list[bytes]:
    doc = json.loads(good)
    short = json.loads(good)
    short["keks"]["1"]["key"] = base64.b64encode(b"x" * 16).decode()
    bad_b64 = json.loads(good)
    bad_b64["keks"]["1"]["key"] = "!!!not base64!!!"
    no_keks = dict(doc, keks={})
    other = dict(doc, format="something-else")
    bad_version = dict(doc, keks={"v1": doc["keks"]["1"]})
    no_sign = {k: v for k, v in doc.items() if k != "signing_key"}
    both = dict(doc, retired=[1])
    return [
        b"",
        b"\x00\xff" * 40,
        good[: len(good) // 2],
        b"[]",
        b'"text"',
        *(json.dumps(d).encode() for d in (short, bad_b64, no_keks, other, bad_version)),
        *(json.dumps(d).encode() for d in (no_sign, both)),
    ]


def test_corrupt_files_are_refused_without_echoing_content(key_path: Path) -> None:
    good = key_path.read_bytes()
    secrets = _secrets_in(key_path)
    for n, content in enumerate(_corruptions(good)):
        key_path.write_bytes(content)
        with pytest.raises(KeyFileError) as info:
            open_kms(f"local:{key_path}")
        message = str(info.value)
        assert "corrupt" in message, n
        assert "restore it from a backup" in message
        for s in secrets:
            assert s not in message
            assert s[:12] not in message


def test_rotation_keeps_old_versions_and_mode(key_path: Path) -> None:
    kms = open_kms(f"local:{key_path}")
    w1 = kms.wrap(KEY, context=b"m_1")
    assert kms.rotate() == 2
    assert kms.rotate() == 3
    assert _mode(key_path) == 0o600
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["kek.key", "kek.key.lock"]
    assert _mode(key_path.parent / "kek.key.lock") == 0o600
    w3 = kms.wrap(KEY, context=b"m_1")
    assert (w1.kek_version, w3.kek_version) == (1, 3)
    reopened = open_kms(f"local:{key_path}")
    assert reopened.versions() == [1, 2, 3]
    assert reopened.unwrap(w1, context=b"m_1") == KEY
    assert reopened.unwrap(w3, context=b"m_1") == KEY


def test_rotation_records_the_injected_time(key_path: Path) -> None:
    kms = LocalKMS(key_path, now=lambda: datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC))
    kms.rotate()
    doc = json.loads(key_path.read_text())
    assert doc["keks"]["2"]["created"] == "2031-05-06T07:08:09+00:00"


def test_another_process_sees_a_rotation_on_its_next_call(key_path: Path) -> None:
    service = open_kms(f"local:{key_path}")
    cli = open_kms(f"local:{key_path}")
    assert service.current_version() == 1
    cli.rotate()
    assert service.current_version() == 2
    assert service.wrap(KEY, context=b"c").kek_version == 2


def test_concurrent_rotations_from_two_handles_lose_nothing(key_path: Path) -> None:
    # Two handles = two open file descriptions, so only the flock keeps them apart.
    handles = [LocalKMS(key_path), LocalKMS(key_path)]
    got: list[int] = []

    def rotate(kms: LocalKMS) -> None:
        for _ in range(8):
            got.append(kms.rotate())

    threads = [threading.Thread(target=rotate, args=(h,)) for h in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(2, 18))
    assert LocalKMS(key_path).versions() == list(range(1, 18))


def test_failed_write_leaves_the_old_file_whole(
    key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kms = open_kms(f"local:{key_path}")
    before = key_path.read_bytes()

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyFileError, match="cannot write key file"):
        kms.rotate()
    monkeypatch.undo()
    assert key_path.read_bytes() == before
    assert sorted(p.name for p in key_path.parent.iterdir()) == ["kek.key", "kek.key.lock"]
    assert open_kms(f"local:{key_path}").versions() == [1]


def test_retire_destroys_the_version_material(key_path: Path) -> None:
    kms = open_kms(f"local:{key_path}")
    w1 = kms.wrap(KEY, context=b"c")
    v1_key = json.loads(key_path.read_text())["keks"]["1"]["key"]
    kms.rotate()
    with pytest.raises(ValueError, match="current"):
        kms.retire(2)
    kms.retire(1)
    assert v1_key not in key_path.read_text()
    assert kms.versions() == [2]
    with pytest.raises(DecryptionError):
        kms.unwrap(w1, context=b"c")
    assert kms.rotate() == 3  # retired numbers are never reused
    assert json.loads(key_path.read_text())["retired"] == [1]


def test_repr_and_errors_show_no_key_material(key_path: Path) -> None:
    kms = open_kms(f"local:{key_path}")
    kms.rotate()
    text = repr(kms) + str(kms)
    assert str(key_path) in text
    for s in _secrets_in(key_path):
        assert s not in text


def test_url_without_path_is_refused() -> None:
    with pytest.raises(KeyFileError, match="needs a path"):
        open_kms("local:")
