"""G.711: bit-exact with sox over every 16-bit input and every code, both laws."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from cardshield.phone.dsp import g711, levels


def _sox_raw(sox: str, src: Path, dst: Path, src_enc: list[str], dst_enc: list[str]) -> None:
    subprocess.run(
        [
            sox,
            "-D",
            "-t",
            "raw",
            "-r",
            "8000",
            "-c",
            "1",
            *src_enc,
            str(src),
            "-t",
            "raw",
            *dst_enc,
            str(dst),
        ],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(("codec", "sox_name"), [("mulaw", "mu-law"), ("alaw", "a-law")])
def test_encode_matches_sox_for_every_16_bit_value(
    sox: str, tmp_path: Path, codec: g711.Codec, sox_name: str
) -> None:
    pcm = np.arange(-32768, 32768, dtype="<i2")
    (tmp_path / "in.raw").write_bytes(pcm.tobytes())
    _sox_raw(
        sox,
        tmp_path / "in.raw",
        tmp_path / "out.raw",
        ["-e", "signed", "-b", "16"],
        ["-e", sox_name, "-b", "8"],
    )
    expected = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype=np.uint8)
    assert np.array_equal(g711.encode(pcm, codec), expected)


@pytest.mark.parametrize(("codec", "sox_name"), [("mulaw", "mu-law"), ("alaw", "a-law")])
def test_decode_matches_sox_for_every_code(
    sox: str, tmp_path: Path, codec: g711.Codec, sox_name: str
) -> None:
    (tmp_path / "in.raw").write_bytes(bytes(range(256)))
    _sox_raw(
        sox,
        tmp_path / "in.raw",
        tmp_path / "out.raw",
        ["-e", sox_name, "-b", "8"],
        ["-e", "signed", "-b", "16"],
    )
    expected = np.frombuffer((tmp_path / "out.raw").read_bytes(), dtype="<i2")
    assert np.array_equal(g711.decode(np.arange(256), codec), expected)


@pytest.mark.parametrize("codec", ["mulaw", "alaw"])
def test_codes_survive_a_round_trip(codec: g711.Codec) -> None:
    codes = np.arange(256, dtype=np.uint8)
    again = g711.encode(g711.decode(codes, codec), codec)
    if codec == "mulaw":
        # Mu-law has two zeros (0x7F is -0); both decode to 0, which encodes as 0xFF.
        codes = np.where(codes == 0x7F, 0xFF, codes).astype(np.uint8)
    assert np.array_equal(again, codes)
    assert g711.encode([0], codec)[0] == g711.SILENCE[codec]


def test_decode_accepts_bytes_and_float_decode_agrees() -> None:
    raw = bytes([0x00, 0x7F, 0x80, 0xFF, 0x1E])
    assert g711.decode(raw, "mulaw").tolist() == [-32124, 0, 32124, 0, -8828]
    assert np.array_equal(g711.decode_float(raw, "alaw"), g711.decode(raw, "alaw"))


def test_encode_rounds_and_clips_floats() -> None:
    assert g711.to_int16([1.6, -1.6, 1e9, -1e9]).tolist() == [2, -2, 32767, -32768]


def test_digital_milliwatt_is_zero_dbm0() -> None:
    # G.711's digital milliwatt: the mu-law sequence for a 1 kHz sine at 0 dBm0. Its power
    # ties the level scale of levels.py to the standard.
    dmw = bytes([0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E])
    power = float(np.mean(g711.decode(dmw, "mulaw").astype(float) ** 2))
    assert abs(levels.dbm0_of_power(power)) < 0.1
