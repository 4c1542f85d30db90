"""Spoken numbers in recordings: pocketsphinx constrained to number and prompt words.

The recogniser knows only the words the card rules need (:mod:`.spans`: digits, "oh",
"double", tens, "hundred", and the prompt words "card", "number", "expiry", "security",
"code", ...). Everything else a caller says is absorbed by a loop of single phones that
competes with those words at a lower weight, so ordinary talk comes out as phones, which are
dropped, rather than being forced into digits. The English acoustic model and dictionary ship
inside the ``pocketsphinx`` wheel; nothing is downloaded.

The library is driven through its C API (the shared object the wheel ships) rather than the
Python binding: the binding computes word posteriors for every hypothesis, which builds a
lattice over the phone loop and costs hundreds of times the decoding itself.

Audio is cut into utterances at pauses (an energy detector relative to the file's noise
floor) and each is decoded at 16 kHz; telephone audio is resampled up. Words come back with
times in milliseconds. Nothing here logs what was recognised.

Limits: the shipped acoustic model is wideband (trained on 16 kHz speech). Telephone audio
(8 kHz) has nothing above 4 kHz, where "f", "s" and "th" live, so digits such as "four",
"five", "six" are heard less reliably there than in wideband recordings; short answers
(an expiry, a security code) suffer most. The garbage weight trades missed digits against
ordinary talk heard as digits; the default keeps ordinary calls untouched.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardshield.phone.dsp.errors import AudioError
from cardshield.phone.dsp.resample import resample
from cardshield.redaction.spans import NUMBER_WORDS, PROMPT_VOCABULARY, Word

RATE = 16000
_FRAME = RATE // 100  # pocketsphinx's 10 ms frames
# The model's phone set (its mdef), without silence.
_PHONES = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH",
    "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
# Words the shipped dictionary lacks.
_EXTRA_PRONUNCIATIONS = {"cvv": ["S IY V IY V IY"], "cvc": ["S IY V IY S IY"]}
_GARBAGE_PREFIX = "ph_"


class SpeechUnavailable(AudioError):
    """The speech recogniser cannot be loaded (pocketsphinx missing or broken)."""

    code = "speech_unavailable"
    default_message = "Speech recognition is not available (install pocketsphinx)."


@dataclass(frozen=True)
class Transcript:
    """Vocabulary words heard on one channel, and the utterances (ms ranges) they lie in."""

    words: list[Word]
    utterances: list[tuple[int, int]]


class Recognizer(Protocol):
    """What the redactor needs from a recogniser: timed words of its vocabulary."""

    def transcribe(self, samples: ArrayLike, sample_rate: int, channel: int = 0) -> Transcript:
        """Recognised vocabulary words in mono linear samples, times in ms."""
        ...


@dataclass(frozen=True)
class SpeechConfig:
    """Decoder and segmentation settings (the defaults were tuned on espeak-ng calls)."""

    garbage_weight: float = 1e-3  # JSGF weight of one phone against one vocabulary word
    min_pause_ms: int = 300  # a quieter stretch this long ends an utterance
    max_utterance_ms: int = 20000
    speech_above_floor_db: float = 12.0
    pad_ms: int = 100


def _library() -> ctypes.CDLL:
    try:
        # The wheel's extension module is the whole C library, with its symbols exported.
        from pocketsphinx import _pocketsphinx  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SpeechUnavailable() from exc
    lib = ctypes.CDLL(_pocketsphinx.__file__)
    vp, cp, i32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32
    signatures: dict[str, tuple[type | None, list[type]]] = {
        "ps_config_parse_json": (vp, [vp, cp]),
        "ps_config_free": (ctypes.c_int, [vp]),
        "ps_init": (vp, [vp]),
        "ps_free": (ctypes.c_int, [vp]),
        "ps_add_jsgf_string": (ctypes.c_int, [vp, cp, cp]),
        "ps_activate_search": (ctypes.c_int, [vp, cp]),
        "ps_start_utt": (ctypes.c_int, [vp]),
        "ps_process_raw": (ctypes.c_int, [vp, vp, ctypes.c_size_t, ctypes.c_int, ctypes.c_int]),
        "ps_end_utt": (ctypes.c_int, [vp]),
        "ps_seg_iter": (vp, [vp]),
        "ps_seg_next": (vp, [vp]),
        "ps_seg_free": (None, [vp]),
        "ps_seg_word": (cp, [vp]),
        "ps_seg_frames": (None, [vp, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]),
        "ps_get_hyp": (cp, [vp, ctypes.POINTER(i32)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def model_dir() -> Path:
    """The English model inside the installed wheel."""
    try:
        import pocketsphinx
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SpeechUnavailable() from exc
    return Path(pocketsphinx.get_model_path()) / "en-us"


# Spellings a recogniser never outputs ("o" is "oh") or that the model cannot say.
_NOT_SPOKEN = frozenset({"o", "nought", "cv2", "csc"})


def vocabulary() -> list[str]:
    """The words the grammar allows: number words and prompt words."""
    return sorted((NUMBER_WORDS | PROMPT_VOCABULARY) - _NOT_SPOKEN)


def _dictionary(model: Path) -> str:
    """Dictionary lines for the vocabulary (from the shipped one) and one word per phone."""
    wanted = set(vocabulary())
    prons: dict[str, list[str]] = {w: list(p) for w, p in _EXTRA_PRONUNCIATIONS.items()}
    with (model / "cmudict-en-us.dict").open(encoding="utf-8") as fh:
        for line in fh:
            head, _, pron = line.strip().partition(" ")
            word = re.sub(r"\(\d+\)$", "", head)
            if word in wanted:
                prons.setdefault(word, []).append(pron)
    missing = wanted - prons.keys()
    if missing:
        raise SpeechUnavailable("the speech model's dictionary lacks vocabulary words")
    lines = [
        f"{word if i == 0 else f'{word}({i + 1})'} {pron}"
        for word in sorted(prons)
        for i, pron in enumerate(prons[word])
    ]
    lines += [f"{_GARBAGE_PREFIX}{p.lower()} {p}" for p in _PHONES]
    return "\n".join(lines) + "\n"


def grammar(garbage_weight: float) -> str:
    """JSGF: any sequence of vocabulary words and (less likely) single phones."""
    words = " | ".join(vocabulary())
    phones = " | ".join(f"{_GARBAGE_PREFIX}{p.lower()}" for p in _PHONES)
    return (
        "#JSGF V1.0;\ngrammar cardwords;\n"
        "public <utterance> = <item>*;\n"
        f"<item> = /1/ <word> | /{garbage_weight}/ <phone>;\n"
        f"<word> = {words};\n<phone> = {phones};\n"
    )


class SphinxRecognizer:
    """pocketsphinx with the card-words grammar. One decoder; not thread-safe."""

    def __init__(self, config: SpeechConfig | None = None) -> None:
        self._decoder: int | None = None
        self.config = config or SpeechConfig()
        self._lib = _library()
        model = model_dir()
        with tempfile.TemporaryDirectory(prefix="cardshield-asr-") as tmp:
            dict_path = Path(tmp) / "cardwords.dict"
            dict_path.write_text(_dictionary(model), encoding="utf-8")
            settings = {
                "hmm": str(model / "en-us"),
                "dict": str(dict_path),
                "samprate": RATE,
                "loglevel": "FATAL",
                "bestpath": False,  # the forward pass's best path is enough; no lattice
            }
            cfg = self._lib.ps_config_parse_json(None, json.dumps(settings).encode())
            if not cfg:
                raise SpeechUnavailable("the speech recogniser rejected its settings")
            self._decoder = self._lib.ps_init(cfg)  # reads the dictionary now
            self._lib.ps_config_free(cfg)
        if not self._decoder:
            raise SpeechUnavailable("the speech model could not be loaded")
        jsgf = grammar(self.config.garbage_weight).encode()
        if self._lib.ps_add_jsgf_string(self._decoder, b"cardwords", jsgf) < 0:
            raise SpeechUnavailable("the speech grammar was refused")
        self._lib.ps_activate_search(self._decoder, b"cardwords")

    def close(self) -> None:
        if getattr(self, "_decoder", None):
            self._lib.ps_free(self._decoder)
            self._decoder = None

    def __del__(self) -> None:
        self.close()

    def transcribe(self, samples: ArrayLike, sample_rate: int, channel: int = 0) -> Transcript:
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        if sample_rate != RATE:
            x = resample(x, sample_rate, RATE)
        pcm = np.ascontiguousarray(np.clip(np.rint(x), -32768, 32767).astype("<i2"))
        found: list[Word] = []
        spans = utterances(pcm, self.config)
        for first, last in spans:
            found += self._decode(np.ascontiguousarray(pcm[first:last]), first, channel)
        ms = [(a * 1000 // RATE, b * 1000 // RATE) for a, b in spans]
        return Transcript(found, ms)

    def _decode(self, pcm: NDArray[np.int16], offset: int, channel: int) -> list[Word]:
        lib, ps = self._lib, self._decoder
        if lib.ps_start_utt(ps) < 0:
            raise AudioError("speech recognition failed to start")
        lib.ps_process_raw(ps, pcm.ctypes.data, len(pcm), 0, 1)
        lib.ps_end_utt(ps)
        out: list[Word] = []
        seg = lib.ps_seg_iter(ps)
        start, end = ctypes.c_int(), ctypes.c_int()
        while seg:
            raw = lib.ps_seg_word(seg)  # NULL for the grammar's empty transitions
            if raw:
                word = re.sub(r"\(\d+\)$", "", raw.decode())
                if word.isalnum() and not word.startswith(_GARBAGE_PREFIX):
                    lib.ps_seg_frames(seg, ctypes.byref(start), ctypes.byref(end))
                    ms = offset * 1000 // RATE
                    found = Word(word, ms + start.value * 10, ms + (end.value + 1) * 10, channel)
                    out.append(found)
            seg = lib.ps_seg_next(seg)  # frees the iterator at the end
        return out


def utterances(pcm: NDArray[np.int16], config: SpeechConfig) -> list[tuple[int, int]]:
    """Sample ranges of speech, split at pauses, each at most ``max_utterance_ms`` long."""
    n = len(pcm) // _FRAME
    if n == 0:
        return []
    frames = pcm[: n * _FRAME].astype(np.float64).reshape(n, _FRAME)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1.0)
    floor = float(np.percentile(energy, 10))
    threshold = max(floor + config.speech_above_floor_db, float(energy.max()) - 50.0, 20.0)
    active = np.flatnonzero(energy > threshold)
    if len(active) == 0:
        return []
    pause, pad = config.min_pause_ms // 10, config.pad_ms // 10
    cuts = np.flatnonzero(np.diff(active) > pause)
    starts = np.concatenate([[active[0]], active[cuts + 1]])
    ends = np.concatenate([active[cuts], [active[-1]]]) + 1
    out: list[tuple[int, int]] = []
    longest = config.max_utterance_ms // 10
    for s, e in zip(starts, ends, strict=True):
        s, e = max(int(s) - pad, 0), min(int(e) + pad, n)
        while e - s > longest:
            # Cut a long stretch at its quietest frame in the second half of the window.
            window = energy[s + longest // 2 : s + longest]
            cut = s + longest // 2 + int(np.argmin(window))
            out.append((s * _FRAME, cut * _FRAME))
            s = cut
        if e - s >= 15:  # shorter than 150 ms: a click, not a word
            out.append((s * _FRAME, e * _FRAME))
    return out


_SHARED: dict[int, SphinxRecognizer] = {}


def shared_recognizer() -> SphinxRecognizer:
    """One recogniser per process (loading the model takes a moment; workers reuse it)."""
    pid = os.getpid()
    if pid not in _SHARED:
        _SHARED.clear()  # a forked child must not share its parent's decoder
        _SHARED[pid] = SphinxRecognizer()
    return _SHARED[pid]


__all__ = [
    "Recognizer",
    "SpeechConfig",
    "SpeechUnavailable",
    "SphinxRecognizer",
    "Transcript",
    "grammar",
    "shared_recognizer",
    "utterances",
    "vocabulary",
]
