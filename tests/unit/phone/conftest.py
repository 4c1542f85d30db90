"""Fixtures for the phone audio tests: external tools and the shared talk-off corpus."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from cardshield.phone.dsp import talkoff
from cardshield.phone.dsp.resample import resample


def require_tool(name: str) -> str:
    """Path of ``name``; skips when missing locally, fails under CI where it must be there."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is required under CI (make system-deps installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def multimon_hears(multimon: str, audio: NDArray[np.float64], rate: int = 8000) -> str:
    """What multimon-ng's DTMF decoder prints for ``audio`` (it wants 22.05 kHz raw samples)."""
    raw = np.clip(np.rint(resample(audio, rate, 22050)), -32768, 32767).astype("<i2")
    run = subprocess.run(
        [multimon, "-q", "-a", "DTMF", "-t", "raw", "-"],
        input=raw.tobytes(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    return run.stdout.decode()


@pytest.fixture(scope="session")
def sox() -> str:
    return require_tool("sox")


@pytest.fixture(scope="session")
def speech_corpus(tmp_path_factory: pytest.TempPathFactory) -> list[NDArray[np.int16]]:
    """About six minutes of espeak-ng speech in 20 voices, made once per session."""
    require_tool("espeak-ng")
    require_tool("sox")
    workdir: Path = tmp_path_factory.mktemp("speech")
    return list(talkoff.speech_clips(workdir, count=64, seed=11))
