"""The detector's public API: streaming contract, resampling, determinism, no digit in repr."""

from __future__ import annotations

import numpy as np
import pytest

from cardshield.phone.dsp import DTMFDetector, DTMFEvent, detect, generate, resample
from tests.unit.phone.dsp.q24 import digits_of, line


def test_events_do_not_depend_on_frame_size() -> None:
    sig = generate("147*2580369#ABCD", on_ms=45, off_ms=45, level_dbm0=-20, noise_snr_db=20)
    x = line(sig)
    whole = detect(x)
    det = DTMFDetector()
    one_by_one = [e for s in x for e in det.feed([s])] + det.flush()
    assert digits_of(whole) == "147*2580369#ABCD"
    assert one_by_one == whole


def test_events_arrive_while_streaming_in_order() -> None:
    sig = generate("123", on_ms=60, off_ms=200, lead_ms=100, tail_ms=10)
    det = DTMFDetector()
    seen: list[tuple[int, str]] = []
    for i in range(0, len(sig.samples), 160):
        seen += [(i, e.digit) for e in det.feed(sig.pcm16()[i : i + 160])]
    assert [d for _, d in seen] == ["1", "2"]  # "3" is still timed when the stream stops
    first_end = sig.spans[0].end
    assert first_end < seen[0][0] < first_end + 80 * 8  # reported soon after the tone
    assert digits_of(det.flush()) == "3"
    assert det.flush() == []  # flush starts afresh


@pytest.mark.parametrize("rate", [16000, 44100, 11025])
def test_detect_resamples_other_rates(rate: int) -> None:
    sig = generate("5#0", sample_rate=rate, level_dbm0=-15, seed=2)
    events = detect(sig.samples, sample_rate=rate)
    assert digits_of(events) == "5#0"
    assert [e.start_ms for e in events] == pytest.approx(
        [s.start * 1000 / rate for s in sig.spans], abs=3
    )


def test_streaming_detector_is_8khz_only() -> None:
    with pytest.raises(ValueError, match="8000"):
        DTMFDetector(sample_rate=16000)


def test_event_repr_hides_the_digit() -> None:
    event = DTMFEvent("7", 120, 180)
    assert "7" not in repr(event).replace("120", "").replace("180", "")
    assert event.digit == "7"
    assert str(event) == repr(event)


def test_silence_and_full_scale_noise_yield_nothing() -> None:
    rng = np.random.default_rng(1)
    assert detect(np.zeros(8000)) == []
    assert detect(np.clip(rng.normal(0, 12000, 80000), -32768, 32767)) == []
    assert detect(resample(rng.normal(0, 3000, 44100), 44100, 8000)) == []
