"""Spoken numbers in recordings: pocketsphinx constrained to number and prompt words.

The recogniser knows only the words the card rules need (:mod:`.spans`: digits, "oh",
"double", tens, "hundred", and the prompt words "card", "number", "expiry", "security",
"code", ...), and the prompts as whole phrases ("card number", "security code", "expiry
date"): a phrase is matched as one unit, so a short word at its end ("code") is not traded for
number words that sound alike. Everything else a caller says is absorbed by a loop of single
phones that competes with those words at a lower weight, so ordinary talk comes out as
phones, which are dropped, rather than being forced into digits. The English acoustic model
and dictionary ship inside the ``pocketsphinx`` wheel, and cardshield ships that model adapted
to the telephone band (:mod:`.speech_model`); nothing is downloaded.

The library is driven through its C API (the shared object the wheel ships) rather than the
Python binding: the binding computes word posteriors for every hypothesis, which builds a
lattice over the phone loop and costs hundreds of times the decoding itself.

All audio is heard in the telephone band, the way most call recordings are made: wideband
recordings are band-limited to 8 kHz first (:func:`.speech_model.front_end`) and everything is
decoded with the telephone-band model. On the bench's generated 16 kHz calls that finds more
of the spoken card data, and raises fewer false spans, than the wheel's wideband model on the
full band (``bench/redact_bench.py`` measures both). Audio is cut into utterances at pauses (an
energy detector relative to the file's noise floor). Words come back with times in
milliseconds. Nothing here logs what was recognised.

The garbage weight trades missed digits against ordinary talk heard as digits; the default
keeps ordinary calls untouched. How well each model follows which voices is measured by
``bench/redact_bench.py``.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardshield.phone.dsp.errors import AudioError
from cardshield.redaction import speech_model
from cardshield.redaction.spans import NUMBER_WORDS, OTHER_NUMBERS, PROMPT_VOCABULARY, Word

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
# Prompts decoded as one unit each ("security_code"), reported as their two words.
_PHRASES = (
    ("card", "number"),
    ("security", "code"),
    ("expiry", "date"),
    ("expiration", "date"),
    # Other numbers, heard as whole phrases so that "order number" is not taken for "card
    # number" (their first words are in the grammar only as part of these).
    *((word, "number") for word in sorted(OTHER_NUMBERS)),
)
_JOIN = "_"


class SpeechUnavailable(AudioError):
    """The speech recogniser cannot be loaded (pocketsphinx missing or broken)."""

    code = "speech_unavailable"
    default_message = "Speech recognition is not available (install pocketsphinx)."


@dataclass(frozen=True)
class Transcript:
    """Vocabulary words heard on one channel, the utterances (ms ranges) they lie in, and
    where speech was heard that is none of the vocabulary's words (``other``, ms ranges: the
    garbage phones). The span rules use ``other`` to tell an answer said straight after a
    prompt from a number said later in other talk."""

    words: list[Word]
    utterances: list[tuple[int, int]]
    other: list[tuple[int, int]] = field(default_factory=list)


class Recognizer(Protocol):
    """What the redactor needs from a recogniser: timed words of its vocabulary."""

    def transcribe(self, samples: ArrayLike, sample_rate: int, channel: int = 0) -> Transcript:
        """Recognised vocabulary words in mono linear samples, times in ms."""
        ...


@dataclass(frozen=True)
class SpeechConfig:
    """Decoder and segmentation settings (the defaults were tuned on espeak-ng calls)."""

    garbage_weight: float = 1e-2  # JSGF weight of one phone against one vocabulary word
    min_pause_ms: int = 300  # a quieter stretch this long ends an utterance
    max_utterance_ms: int = 20000
    speech_above_floor_db: float = 12.0
    pad_ms: int = 100
    model: Path | None = None  # an adapted model (speech_model.adapt) instead of the shipped one
    # Decode at full band with the wheel's wideband model (the baseline the bench compares).
    wideband: bool = False


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
    """The English model inside the installed wheel (dictionary beside the model folder)."""
    try:
        return speech_model.base_dir()
    except speech_model.AdaptationError as exc:  # pragma: no cover - depends on the install
        raise SpeechUnavailable() from exc


# Spellings a recogniser never outputs ("o" is "oh") or that the model cannot say.
_NOT_SPOKEN = frozenset({"o", "nought", "cv2", "csc"})


def vocabulary() -> list[str]:
    """The words the grammar allows: number words and prompt words."""
    return sorted((NUMBER_WORDS | PROMPT_VOCABULARY) - _NOT_SPOKEN)


def phrases() -> list[str]:
    """The prompt phrases the grammar holds as single units."""
    return [_JOIN.join(pair) for pair in _PHRASES]


def _dictionary(model: Path) -> str:
    """Dictionary lines for the vocabulary (from the shipped one) and one word per phone."""
    wanted = set(vocabulary()) | {word for pair in _PHRASES for word in pair}
    prons: dict[str, list[str]] = {w: list(p) for w, p in _EXTRA_PRONUNCIATIONS.items()}
    for word, pron in speech_model.dictionary_entries(model / "cmudict-en-us.dict"):
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
    for first, second in _PHRASES:
        joined = [f"{a} {b}" for a in prons[first] for b in prons[second]]
        lines += [
            f"{first}{_JOIN}{second}{'' if i == 0 else f'({i + 1})'} {pron}"
            for i, pron in enumerate(joined)
        ]
    lines += [f"{_GARBAGE_PREFIX}{p.lower()} {p}" for p in _PHONES]
    return "\n".join(lines) + "\n"


def grammar(garbage_weight: float) -> str:
    """JSGF: any sequence of vocabulary words and (less likely) single phones."""
    words = " | ".join(vocabulary() + phrases())
    phones = " | ".join(f"{_GARBAGE_PREFIX}{p.lower()}" for p in _PHONES)
    return (
        "#JSGF V1.0;\ngrammar cardwords;\n"
        "public <utterance> = <item>*;\n"
        f"<item> = /1/ <word> | /{garbage_weight}/ <phone>;\n"
        f"<word> = {words};\n<phone> = {phones};\n"
    )


class SphinxRecognizer:
    """pocketsphinx with the card-words grammar (its decoder is made when first needed).
    Not thread-safe."""

    def __init__(self, config: SpeechConfig | None = None) -> None:
        self._ps: int | None = None
        self.config = config or SpeechConfig()
        self._lib = _library()
        self.model = self._resolve_model()

    def _resolve_model(self) -> speech_model.AcousticModel:
        """The acoustic model audio is decoded with: the configured one, or the shipped
        telephone-band model."""
        if self.config.model is not None:
            try:
                return speech_model.load_model(self.config.model)
            except speech_model.AdaptationError as exc:
                raise SpeechUnavailable(str(exc)) from exc
        if self.config.wideband:
            return speech_model.wideband_model()
        return speech_model.telephone_model()

    def _decoder(self) -> int:
        if self._ps is not None:
            return self._ps
        lib = self._lib
        with tempfile.TemporaryDirectory(prefix="cardshield-asr-") as tmp:
            dict_path = Path(tmp) / "cardwords.dict"
            dict_path.write_text(_dictionary(model_dir()), encoding="utf-8")
            settings: dict[str, object] = {
                **self.model.settings(),
                "dict": str(dict_path),
                "samprate": RATE,
                "loglevel": "FATAL",
                "bestpath": False,  # the forward pass's best path is enough; no lattice
            }
            cfg = lib.ps_config_parse_json(None, json.dumps(settings).encode())
            if not cfg:
                raise SpeechUnavailable("the speech recogniser rejected its settings")
            decoder = lib.ps_init(cfg)  # reads the dictionary now
            lib.ps_config_free(cfg)
        if not decoder:
            raise SpeechUnavailable("the speech model could not be loaded")
        self._ps = int(decoder)
        jsgf = grammar(self.config.garbage_weight).encode()
        if lib.ps_add_jsgf_string(decoder, b"cardwords", jsgf) < 0:
            raise SpeechUnavailable("the speech grammar was refused")
        lib.ps_activate_search(decoder, b"cardwords")
        return self._ps

    def close(self) -> None:
        if getattr(self, "_ps", None) is not None:
            self._lib.ps_free(self._ps)
            self._ps = None

    def __del__(self) -> None:
        self.close()

    def transcribe(self, samples: ArrayLike, sample_rate: int, channel: int = 0) -> Transcript:
        decoder = self._decoder()
        pcm = speech_model.front_end(samples, sample_rate, band_limit=not self.config.wideband)
        found: list[Word] = []
        other: list[tuple[int, int]] = []
        spans = utterances(pcm, self.config)
        for first, last in spans:
            chunk = np.ascontiguousarray(pcm[first:last])
            found += self._decode(decoder, chunk, first, channel, other)
        ms = [(a * 1000 // RATE, b * 1000 // RATE) for a, b in spans]
        return Transcript(found, ms, other)

    def _decode(
        self,
        ps: int,
        pcm: NDArray[np.int16],
        offset: int,
        channel: int,
        other: list[tuple[int, int]],
    ) -> list[Word]:
        """Vocabulary words of one utterance; the times of garbage phones go to ``other``
        (adjacent ones merged)."""
        lib = self._lib
        if lib.ps_start_utt(ps) < 0:
            raise AudioError("speech recognition failed to start")
        lib.ps_process_raw(ps, pcm.ctypes.data, len(pcm), 0, 1)
        lib.ps_end_utt(ps)
        out: list[Word] = []
        seg = lib.ps_seg_iter(ps)
        start, end = ctypes.c_int(), ctypes.c_int()
        base = offset * 1000 // RATE
        while seg:
            raw = lib.ps_seg_word(seg)  # NULL for the grammar's empty transitions
            word = re.sub(r"\(\d+\)$", "", raw.decode()) if raw else ""
            if word.startswith(_GARBAGE_PREFIX):
                lib.ps_seg_frames(seg, ctypes.byref(start), ctypes.byref(end))
                first, last = base + start.value * 10, base + (end.value + 1) * 10
                if other and first - other[-1][1] <= 10:
                    other[-1] = (other[-1][0], last)
                else:
                    other.append((first, last))
            elif word and word.replace(_JOIN, "").isalnum():
                lib.ps_seg_frames(seg, ctypes.byref(start), ctypes.byref(end))
                first, last = base + start.value * 10, base + (end.value + 1) * 10
                parts = word.split(_JOIN)
                # A phrase comes back as its words, sharing its time evenly.
                step = (last - first) / len(parts)
                out += [
                    Word(text, first + round(i * step), first + round((i + 1) * step), channel)
                    for i, text in enumerate(parts)
                ]
            seg = lib.ps_seg_next(seg)  # frees the iterator at the end
        return out


def _energy_db(pcm: ArrayLike, frame: int) -> NDArray[np.float64]:
    x = np.asarray(pcm)
    n = len(x) // frame
    frames = x[: n * frame].astype(np.float64).reshape(n, frame)
    return np.asarray(10 * np.log10(np.mean(frames**2, axis=1) + 1.0), dtype=np.float64)


def _threshold(energy: NDArray[np.float64], above_floor_db: float) -> float:
    """Sound is this far above the file's noise floor (its quietest tenth), and within 50 dB
    of its loudest frame."""
    floor = float(np.percentile(energy, 10))
    return max(floor + above_floor_db, float(energy.max()) - 50.0, 20.0)


def activity(
    samples: ArrayLike, sample_rate: int, above_floor_db: float = SpeechConfig.speech_above_floor_db
) -> NDArray[np.bool_]:
    """Which 10 ms frames of one channel hold sound, by the utterance detector's rule.

    Span edges are snapped to it: a recogniser's word times are rough to a word's length,
    but the pause before a caller starts reading digits is plain in the signal.
    """
    energy = _energy_db(samples, max(sample_rate // 100, 1))
    if len(energy) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(energy > _threshold(energy, above_floor_db), dtype=bool)


def utterances(pcm: NDArray[np.int16], config: SpeechConfig) -> list[tuple[int, int]]:
    """Sample ranges of speech, split at pauses, each at most ``max_utterance_ms`` long."""
    n = len(pcm) // _FRAME
    if n == 0:
        return []
    energy = _energy_db(pcm, _FRAME)
    active = np.flatnonzero(energy > _threshold(energy, config.speech_above_floor_db))
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


_SHARED: dict[tuple[int, str], SphinxRecognizer] = {}


def shared_recognizer(model: Path | None = None) -> SphinxRecognizer:
    """One recogniser per process and model (loading a model takes a moment; workers reuse
    it). ``model`` is an adapted model's folder; None is the shipped telephone-band model."""
    key = (os.getpid(), str(model or ""))
    if key not in _SHARED:
        if any(pid != key[0] for pid, _model in _SHARED):
            _SHARED.clear()  # a forked child must not share its parent's decoders
        _SHARED[key] = SphinxRecognizer(SpeechConfig(model=model))
    return _SHARED[key]


__all__ = [
    "Recognizer",
    "SpeechConfig",
    "SpeechUnavailable",
    "SphinxRecognizer",
    "Transcript",
    "activity",
    "grammar",
    "phrases",
    "shared_recognizer",
    "utterances",
    "vocabulary",
]
