"""Recordings in the formats call recorders export: read, redacted, written back the same way.

* Lossless (WAV 16/24-bit PCM, mu-law, A-law; FLAC 16/24-bit): every stored sample outside
  the cuts is the input's, bit for bit, 24-bit low bits included; inside, the format's zero.
* Lossy (WAV GSM 6.10, Ogg/Opus, Ogg/Vorbis, MP3): redaction runs on the decoded input (D1),
  the output is encoded again and decoded (D2). Inside the cuts D2 is quiet and holds no
  DTMF; outside them D2 stays close to D1, with no time offset between the two. The limits
  sit about 3 dB (SNR) under what these calls measure (docs/recording-redaction.md,
  "Formats").
* The canary card number and code keyed as DTMF in a generated call: gone in every format.
* Damaged, unsupported and mis-named files: a one-line error, never a libsndfile traceback;
  a folder of mixed formats is redacted file by file, each in its own format.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from typer.testing import CliRunner

from cardshield.cli import app
from cardshield.phone.dsp import (
    Audio,
    AudioError,
    UnsupportedAudioFormat,
    detect,
    g711,
    generate,
)
from cardshield.redaction.audio import Redacted, RedactOptions, Segment, redact_audio
from cardshield.redaction.batch import recordings, run_batch
from cardshield.redaction.formats import (
    SUPPORTED_SUFFIXES,
    Recording,
    read_recording,
    write_recording,
)
from cardshield.redaction.speech import SphinxRecognizer
from tests.conftest import CANARY_CVV, assert_no_card_data
from tests.unit.redaction.audio.calls import AGENT, CALLER, Call, Line, make_call
from tests.unit.redaction.audio.conftest import VOICES, card_call

CANARY = "4111111111111111"  # the canary PAN every format is checked with
KEYED = (CANARY + "#", CANARY_CVV + "#")
DTMF_ONLY = RedactOptions(speech=False)
runner = CliRunner()

Case = tuple[str, str, int, int]  # libsndfile format, subtype, rate, channels
LOSSLESS: list[Case] = [
    ("WAV", "PCM_16", 8000, 1),
    ("WAV", "ULAW", 8000, 2),
    ("WAV", "ALAW", 16000, 1),
    ("WAV", "PCM_24", 16000, 2),
    ("WAVEX", "PCM_24", 8000, 1),
    ("FLAC", "PCM_16", 8000, 2),
    ("FLAC", "PCM_24", 22050, 1),
]
LOSSY: list[Case] = [
    ("WAV", "GSM610", 8000, 1),  # libsndfile writes GSM 6.10 mono only
    ("OGG", "OPUS", 8000, 1),
    ("OGG", "OPUS", 16000, 2),
    ("OGG", "VORBIS", 8000, 2),
    ("MP3", "MPEG_LAYER_III", 8000, 1),
    ("MP3", "MPEG_LAYER_III", 16000, 2),
]
#: Outside the cuts, D2 against D1: (SNR dB, correlation) at least. Measured on these calls
#: (libsndfile 1.2.2): GSM 13.8 dB / 0.979; Opus 17.4-21.2 dB / 0.991-0.996; Vorbis
#: 19.2-21.0 dB / 0.994-0.996; MP3 22.0-26.4 dB / 0.997-0.999.
FIDELITY = {
    "GSM610": (11.0, 0.96),
    "OPUS": (14.5, 0.98),
    "VORBIS": (16.0, 0.985),
    "MPEG_LAYER_III": (19.0, 0.99),
}
CUT_RMS_DBFS = -60.0  # a cut as a whole (measured at most -66 dBFS)
CUT_FRAME_DBFS = -50.0  # its loudest 20 ms (measured at most -59 dBFS: codec smear at edges)
KEEP_MARGIN_MS = 50  # codec smear beside a cut is not counted as "outside"
_SUFFIX = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "MP3": ".mp3"}
_ENCODING = {"PCM_16": "pcm16", "ULAW": "mulaw", "ALAW": "alaw"}


def _ids(case: Case) -> str:
    fmt, sub, rate, channels = case
    return f"{fmt}-{sub}-{rate}-{'stereo' if channels == 2 else 'mono'}"


def _suffix(fmt: str, sub: str) -> str:
    return {"OPUS": ".opus", "VORBIS": ".ogg"}.get(sub) or _SUFFIX[fmt]


def _script() -> list[Line]:
    return [
        Line(AGENT, "Thank you for calling, how can I help you today?"),
        Line(CALLER, "Hello, I would like to pay my bill please."),
        Line(AGENT, "Please key the card number in on your phone."),
        Line(CALLER, keyed=KEYED[0], card=True),
        Line(AGENT, "And the security code."),
        Line(CALLER, keyed=KEYED[1], card=True),
        Line(AGENT, "That went through. Anything else?"),
        Line(CALLER, "No, that is all, thank you. Goodbye."),
    ]


def _call(cache: Path, rate: int) -> Call:
    return make_call(_script(), VOICES[0], cache, rate=rate)


def _keyed(rate: int, channels: int, seed: int = 1) -> NDArray[np.int16]:
    """Noise bursts ("talk") on every channel; the canary keyed on the last. No tools needed."""
    rng = np.random.default_rng(seed)
    sig = generate("".join(KEYED), sample_rate=rate, level_dbm0=-9, seed=seed, lead_ms=700)
    n = len(sig.samples)
    talk = (
        rng.normal(0, 300, (n, channels)) * (np.sin(np.arange(n) / rate * 6 * np.pi) > 0)[:, None]
    )
    talk[:, -1] += sig.samples
    return g711.to_int16(talk)


def _layout(samples: NDArray[np.int16], channels: int) -> NDArray[np.int16]:
    if channels == 2:
        return samples
    mixed = np.clip(samples.astype(np.int32).sum(axis=1), -32768, 32767)
    return mixed.astype(np.int16)[:, None]


def _save(path: Path, samples: NDArray[np.int16], rate: int, fmt: str, sub: str) -> Recording:
    """Write ``samples`` as ``fmt``/``sub``; 24-bit files get random low bits below them."""
    if fmt == "WAV" and sub in _ENCODING:
        audio = Audio.from_linear(samples, rate, _ENCODING[sub])  # type: ignore[arg-type]
        rec = Recording(audio, fmt, sub)
    elif sub == "PCM_24":
        low = np.random.default_rng(7).integers(0, 256, samples.shape, dtype=np.int32) << 8
        wide = (samples.astype(np.int32) << 16) | low
        rec = Recording(Audio(samples, rate, "pcm16"), fmt, sub, wide)
    else:
        rec = Recording(Audio(samples, rate, "pcm16"), fmt, sub)
    write_recording(path, rec.audio, rec)
    return rec


def _stored(rec: Recording) -> NDArray[np.generic]:
    return rec.wide if rec.wide is not None else rec.audio.data


def _cut_mask(segments: list[Segment], frames: int, channels: int, rate: int) -> NDArray[np.bool_]:
    mask = np.zeros((frames, channels), dtype=bool)
    for seg in segments:
        mask[seg.start_ms * rate // 1000 : -(-seg.end_ms * rate // 1000), seg.channel] = True
    return mask


def _heard(audio: Audio) -> list[str]:
    """The digits the DTMF detector finds, per channel."""
    linear = audio.linear()
    found = [detect(linear[:, ch], audio.sample_rate) for ch in range(audio.channels)]
    return ["".join(e.digit for e in events) for events in found]


def _redact(src: Path, dst: Path) -> tuple[Recording, Redacted, Recording]:
    rec = read_recording(src)
    result = redact_audio(rec.audio, DTMF_ONLY)
    write_recording(dst, result.audio, like=rec, cuts=result.segments)
    return rec, result, read_recording(dst)


def _redact_call(
    case: Case, speech_cache: Path, tmp_path: Path
) -> tuple[Recording, Redacted, Recording]:
    """The generated call saved in ``case``'s format, redacted (DTMF only) and read back."""
    fmt, sub, rate, channels = case
    call = _call(speech_cache, rate)
    src, dst = tmp_path / f"in{_suffix(fmt, sub)}", tmp_path / f"out{_suffix(fmt, sub)}"
    _save(src, _layout(call.samples, channels), rate, fmt, sub)
    return _redact(src, dst)


def _dbfs(x: NDArray[np.float64]) -> float:
    return float(20 * np.log10(max(float(np.sqrt(np.mean(x**2))), 1e-9) / 32768))


def _lag(a: NDArray[np.float64], b: NDArray[np.float64], most: int) -> int:
    """The shift of ``b`` against ``a`` (samples) with the highest cross-correlation."""
    n = len(a) + len(b)
    c = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    lags = np.r_[0 : most + 1, -most:0]
    return int(lags[np.argmax(np.r_[c[: most + 1], c[-most:]])])


# -- lossless ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", LOSSLESS, ids=_ids)
def test_lossless_bit_exact_outside_the_cuts(case: Case, tmp_path: Path) -> None:
    fmt, sub, rate, channels = case
    src, dst = tmp_path / f"in{_suffix(fmt, sub)}", tmp_path / f"out{_suffix(fmt, sub)}"
    written = _save(src, _keyed(rate, channels), rate, fmt, sub)
    rec, result, out = _redact(src, dst)
    assert (rec.format, rec.subtype, rec.sample_rate, rec.channels) == (fmt, sub, rate, channels)
    assert rec.lossless and np.array_equal(_stored(rec), _stored(written))
    assert (out.format, out.subtype, out.sample_rate, out.channels) == (fmt, sub, rate, channels)
    assert out.audio.frames == rec.audio.frames
    cut = _cut_mask(result.segments, rec.audio.frames, channels, rate)
    assert cut[:, -1].any() and not cut[:, :-1].any()  # the caller's tones, only there
    assert np.array_equal(_stored(out)[~cut], _stored(rec)[~cut])
    silence = g711.SILENCE.get(rec.audio.encoding, 0)
    assert np.all(_stored(out)[cut] == silence)  # 24-bit: low bits zeroed too, nothing left
    assert _heard(rec.audio)[-1] == "".join(KEYED)
    assert _heard(out.audio) == [""] * channels


def test_flac16_int16_path_is_exact(tmp_path: Path) -> None:
    """16-bit FLAC travels as int16: every value of the full range comes back unchanged, and
    the 32-bit read libsndfile could give instead holds nothing more."""
    import soundfile as sf

    path = tmp_path / "all.flac"
    values = np.arange(-32768, 32768, dtype=np.int16)
    samples = np.stack([values, values[::-1]], axis=1)
    _save(path, samples, 8000, "FLAC", "PCM_16")
    rec = read_recording(path)
    assert rec.wide is None and np.array_equal(rec.audio.data, samples)
    as_int32, _rate = sf.read(path, dtype="int32", always_2d=True)
    assert np.array_equal(as_int32, samples.astype(np.int32) << 16)


def test_24_bit_needs_the_cuts(tmp_path: Path) -> None:
    """A 24-bit output is the stored samples with only the cuts replaced: redacted audio
    written without its segments is refused rather than written unredacted."""
    path = tmp_path / "in.flac"
    _save(path, _keyed(8000, 1), 8000, "FLAC", "PCM_24")
    rec = read_recording(path)
    result = redact_audio(rec.audio, DTMF_ONLY)
    with pytest.raises(ValueError, match="outside the given cuts"):
        write_recording(tmp_path / "out.flac", result.audio, like=rec)
    assert not (tmp_path / "out.flac").exists()


# -- lossy -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", LOSSY, ids=_ids)
def test_lossy_quiet_in_the_cuts_close_outside(
    case: Case, speech_cache: Path, tmp_path: Path
) -> None:
    fmt, sub, rate, channels = case
    rec, result, out = _redact_call(case, speech_cache, tmp_path)
    assert (rec.format, rec.subtype, rec.sample_rate, rec.channels) == (fmt, sub, rate, channels)
    assert not rec.lossless
    # The tones survive the first encoding well enough to be found: GSM 6.10 loses a digit
    # or two, which the joined keyed span covers.
    heard = _heard(rec.audio)[-1]
    assert len(heard) >= 0.8 * len("".join(KEYED)) and heard.endswith("#")
    d1 = rec.audio.linear().astype(np.float64)
    d2 = out.audio.linear().astype(np.float64)
    assert d2.shape == d1.shape  # no frames gained or lost (GSM: whole 320-sample blocks)
    cut = _cut_mask(result.segments, len(d1), channels, rate)
    widen = np.ones(2 * (rate * KEEP_MARGIN_MS // 1000) + 1)
    near = np.stack([np.convolve(cut[:, ch], widen, "same") > 0 for ch in range(channels)], 1)
    least_snr, least_corr = FIDELITY[sub]
    for ch in range(channels):
        # Codec delay and priming: measured, not assumed. libsndfile applies Opus pre-skip
        # and the MP3 encoder delay, so the best alignment is no shift at all.
        assert _lag(d1[:, ch], d2[:, ch], rate // 10) == 0
        keep = ~near[:, ch]
        ref, got = d1[keep, ch], d2[keep, ch]
        snr = 10 * np.log10(np.sum(ref**2) / np.sum((ref - got) ** 2))
        assert snr >= least_snr, f"channel {ch}: {snr:.1f} dB"
        assert np.corrcoef(ref, got)[0, 1] >= least_corr
    inside = d2[cut[:, -1], -1]
    assert _dbfs(inside) < CUT_RMS_DBFS
    for a, b in _spans(cut[:, -1]):
        frames = d2[a : b - (b - a) % (rate // 50), -1].reshape(-1, rate // 50)
        assert max(_dbfs(f) for f in frames) < CUT_FRAME_DBFS
    assert _heard(out.audio) == [""] * channels


def _spans(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


# -- the canary, in every format ---------------------------------------------------------


@pytest.mark.parametrize("case", LOSSLESS + LOSSY, ids=_ids)
def test_canary_keyed_call_redacted_in_every_format(
    case: Case, speech_cache: Path, tmp_path: Path
) -> None:
    channels = case[3]
    rec, result, out = _redact_call(case, speech_cache, tmp_path)
    assert _heard(rec.audio)[-1].startswith("4")  # the input holds the keyed card
    assert {s.reason for s in result.segments} == {"dtmf"}
    assert _heard(out.audio) == [""] * channels
    assert_no_card_data(json.dumps([s.to_dict() for s in result.segments]), (CANARY,))


@pytest.mark.slow
@pytest.mark.parametrize("case", [("OGG", "OPUS", 8000, 2), ("WAV", "GSM610", 8000, 1)], ids=_ids)
def test_spoken_card_data_found_through_a_lossy_codec(
    case: Case, speech_cache: Path, recognizer: SphinxRecognizer, tmp_path: Path
) -> None:
    """The recogniser works on the decoded samples: the card read out is cut as in WAV."""
    fmt, sub, rate, channels = case
    call = card_call(speech_cache, VOICES[0], rate)
    path = tmp_path / f"call{_suffix(fmt, sub)}"
    _save(path, _layout(call.samples, channels), rate, fmt, sub)
    rec = read_recording(path)
    result = redact_audio(rec.audio, RedactOptions(), recognizer)
    assert {s.reason for s in result.segments} == {"dtmf", "speech"}
    cut = _cut_mask(result.segments, rec.audio.frames, channels, rate)
    for line, a, b in call.lines:
        if line.card and not line.keyed:
            channel = line.speaker if channels == 2 else 0
            assert cut[a:b, channel].mean() >= 0.75  # 0.81-0.95 in WAV, as here
    assert _heard(result.audio) == [""] * channels


# -- what cannot be written, errors --------------------------------------------------------


def test_opus_rates_and_gsm_layout_are_clear_errors(tmp_path: Path) -> None:
    samples = _keyed(22050, 1)
    target = tmp_path / "out.opus"
    target.write_bytes(b"earlier")
    opus = Recording(Audio(samples, 22050, "pcm16"), "OGG", "OPUS")
    with pytest.raises(UnsupportedAudioFormat, match="8, 12, 16, 24 or 48 kHz"):
        write_recording(target, opus.audio, opus)
    stereo = Recording(Audio(_keyed(8000, 2), 8000, "pcm16"), "WAV", "GSM610")
    with pytest.raises(UnsupportedAudioFormat, match="mono only"):
        write_recording(tmp_path / "gsm.wav", stereo.audio, stereo)
    assert target.read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.opus"]


def test_a_failed_write_leaves_the_target_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import soundfile as sf

    def half_then_fail(file: Path, *_args: object, **_kwargs: object) -> None:
        Path(file).write_bytes(b"half")
        raise sf.LibsndfileError(1, "disk went away: ")

    target = tmp_path / "out.flac"
    target.write_bytes(b"earlier")
    rec = Recording(Audio(_keyed(8000, 1), 8000, "pcm16"), "FLAC", "PCM_16")
    monkeypatch.setattr("cardshield.redaction.formats.sf.write", half_then_fail)
    with pytest.raises(AudioError, match=r"cannot write out\.flac as FLAC 16-bit"):
        write_recording(target, rec.audio, rec)
    assert target.read_bytes() == b"earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.flac"]


def _bad_files(folder: Path) -> dict[str, type[AudioError]]:
    """Damaged and unsupported files, and the error each must give."""
    import soundfile as sf

    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.1, (4000, 1))
    good = folder / "good.flac"
    sf.write(good, noise, 8000, subtype="PCM_16", format="FLAC")
    blob = good.read_bytes()
    good.unlink()
    (folder / "cut.flac").write_bytes(blob[: len(blob) // 3])
    (folder / "junk.mp3").write_bytes(rng.bytes(3000))
    (folder / "sync.mp3").write_bytes(b"\xff\xfb\x90\x00" + rng.bytes(3000))
    (folder / "page.ogg").write_bytes(b"OggS" + rng.bytes(3000))
    (folder / "empty.wav").write_bytes(b"")
    (folder / "card.wav").write_bytes(b"RIFF0000WAVEjunk" + CANARY.encode())
    sf.write(folder / "adpcm.wav", noise, 8000, subtype="IMA_ADPCM", format="WAV")
    sf.write(folder / "float.wav", noise, 8000, subtype="FLOAT", format="WAV")
    sf.write(folder / "eight.flac", noise, 8000, subtype="PCM_S8", format="FLAC")
    return {
        "cut.flac": AudioError,
        "junk.mp3": AudioError,
        "sync.mp3": AudioError,
        "page.ogg": AudioError,
        "empty.wav": AudioError,
        "card.wav": AudioError,
        "adpcm.wav": UnsupportedAudioFormat,
        "float.wav": UnsupportedAudioFormat,
        "eight.flac": UnsupportedAudioFormat,
    }


def test_damaged_and_unsupported_files_give_one_line_errors(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for name, error in _bad_files(tmp_path).items():
        with pytest.raises(error) as caught:
            read_recording(tmp_path / name)
        message = caught.value.message
        assert name in message and "\n" not in message, message
        assert "Error" not in message and "sndfile" not in message.lower(), message
        assert CANARY not in message
    with pytest.raises(AudioError, match="No such file"):
        read_recording(tmp_path / "missing.wav")
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # mpg123's notes do not get out


# -- batch and CLI -----------------------------------------------------------------------


def test_batch_over_a_folder_of_mixed_formats(tmp_path: Path) -> None:
    src, out = tmp_path / "calls", tmp_path / "redacted"
    (src / "2024" / "may").mkdir(parents=True)
    files = {
        "a.wav": ("WAV", "ULAW", 8000, 2),
        "b.flac": ("FLAC", "PCM_24", 16000, 2),
        "2024/may/c.opus": ("OGG", "OPUS", 8000, 1),
        "d.MP3": ("MP3", "MPEG_LAYER_III", 8000, 2),
        "e.wav": ("WAV", "GSM610", 8000, 1),
        "f.ogg": ("OGG", "VORBIS", 8000, 1),
    }
    for seed, (name, (fmt, sub, rate, channels)) in enumerate(files.items()):
        _save(src / name, _keyed(rate, channels, seed), rate, fmt, sub)
    (src / "broken.ogg").write_bytes(b"OggS" + b"\0" * 100)
    (src / "odd.wav").write_bytes((tmp_path / "calls" / "a.wav").read_bytes()[:12])
    (src / "notes.txt").write_text(f"card {CANARY}")
    (src / "other.aiff").write_bytes(b"FORM")
    names = {p.relative_to(src).as_posix() for p in recordings(src)}
    assert names == {*files, "broken.ogg", "odd.wav"}
    assert {".wav", ".flac", ".ogg", ".opus", ".mp3"} <= SUPPORTED_SUFFIXES
    report = run_batch(src, out, DTMF_ONLY, jobs=2)
    rows = {f.file: f for f in report.files}
    assert {n for n, r in rows.items() if r.status == "error"} == {"broken.ogg", "odd.wav"}
    assert all("\n" not in (rows[n].error or "") for n in ("broken.ogg", "odd.wav"))
    for name, (fmt, sub, rate, channels) in files.items():
        assert rows[name].status == "done" and rows[name].segments, name
        redacted = read_recording(out / name)
        facts = (redacted.format, redacted.subtype, redacted.sample_rate, redacted.channels)
        assert facts == (fmt, sub, rate, channels), name
        assert _heard(redacted.audio) == [""] * channels, name
    assert_no_card_data((out / "redaction-report.json").read_text(), (CANARY,))


def _cli(src: Path, dst: Path) -> list[str]:
    return ["redact", "audio", str(src), "--dtmf-only", "--json", "-o", str(dst)]


def test_cli_keeps_the_format_and_refuses_another_suffix(tmp_path: Path) -> None:
    src = tmp_path / "call.flac"
    _save(src, _keyed(16000, 2), 16000, "FLAC", "PCM_24")
    result = runner.invoke(app, _cli(src, tmp_path / "out.flac"))
    assert result.exit_code == 0, result.output
    assert {s["reason"] for s in json.loads(result.stdout)["segments"]} == {"dtmf"}
    out = read_recording(tmp_path / "out.flac")
    assert (out.format, out.subtype, out.channels) == ("FLAC", "PCM_24", 2)
    assert _heard(out.audio) == ["", ""]
    for wrong in ("out.wav", "out.mp3", "out"):
        refused = runner.invoke(app, _cli(src, tmp_path / wrong))
        assert refused.exit_code == 2, wrong
        assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: ")
        assert "keeps the input's format (FLAC 24-bit)" in refused.stderr
        assert not (tmp_path / wrong).exists()
    opus = tmp_path / "call.opus"
    _save(opus, _keyed(8000, 1), 8000, "OGG", "OPUS")
    for name in ("out.opus", "out.ogg"):  # any Ogg name keeps Ogg/Opus
        ok = runner.invoke(app, _cli(opus, tmp_path / name))
        assert ok.exit_code == 0, ok.output
        assert read_recording(tmp_path / name).subtype == "OPUS"
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3\x04" + bytes(200))
    failed = runner.invoke(app, _cli(broken, tmp_path / "o.mp3"))
    assert failed.exit_code == 2
    assert failed.stderr.count("\n") == 1 and "broken.mp3" in failed.stderr
