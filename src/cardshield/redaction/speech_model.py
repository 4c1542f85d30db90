"""Acoustic models for the recogniser: the shipped ones, and adapting one to a channel.

The ``pocketsphinx`` wheel ships one US English model, trained on wideband (16 kHz) speech.
Telephone recordings are narrowband (G.711 at 8 kHz: nothing above 3.4 kHz), and that model
hears them badly. cardshield hears every recording in the telephone band (:func:`front_end`)
and ships a copy of the wheel's model adapted to it
(``models/en-us-telephone``): the wheel's model with its Gaussian means and variances, mixture
weights and transition matrices re-estimated by MAP adaptation (CMU SphinxTrain's ``bw`` and
``map_adapt``) on speech passed through a G.711 channel. Its phone set, dictionary and front
end stay the wheel's. ``tools/build_telephone_model.py`` (``make speech-model``) rebuilds it;
its README says from what.

:func:`adapt` is the same procedure for anyone's own recordings: a few minutes of transcribed
calls from a deployment's own lines fit the model to its callers and its channel
(``cardshield redact adapt-model``). The files it writes load with :func:`load_model`.

Nothing here logs transcripts or audio.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardshield.phone.dsp import Audio, read_wav, write_wav
from cardshield.phone.dsp.errors import AudioError
from cardshield.phone.dsp.resample import resample
from cardshield.redaction.text import redact

RATE = 16000  # the front end's rate: every model here decodes 16 kHz features
TELEPHONE_RATE = 8000
# The files an adapted model replaces; the rest (mdef, feat.params, noisedict) are the base's.
MODEL_FILES = {
    "mean": "means",
    "var": "variances",
    "sendump": "sendump",
    "tmat": "transition_matrices",
}
_LOG_BASE = 1.0001  # pocketsphinx's log base for scores
_SENDUMP_SHIFT = 10  # quantised mixture weights drop this many bits of the log
_MAX_NEG_MIXW = 159  # the largest quantised weight pocketsphinx accepts
_MIXW_FLOOR = 1e-7
_PTM_STREAMS = "0-12/13-25/26-38"


class AdaptationError(AudioError):
    """Adapting a model failed: a tool is missing, or the recordings do not fit it."""

    code = "speech_adaptation_failed"
    default_message = "Adapting the speech model failed."


@dataclass(frozen=True)
class AcousticModel:
    """A model the recogniser can load: the base model's folder and the files replacing its own."""

    name: str
    hmm: Path
    overrides: dict[str, Path] = field(default_factory=dict)

    def settings(self) -> dict[str, str]:
        """pocketsphinx configuration entries for this model."""
        out = {"hmm": str(self.hmm)}
        out.update({key: str(path) for key, path in self.overrides.items()})
        return out


def front_end(samples: ArrayLike, sample_rate: int, band_limit: bool = True) -> NDArray[np.int16]:
    """Mono samples as the recogniser hears them: in the telephone band (anything above
    8 kHz sampling is band-limited to it first, unless ``band_limit`` is off), at the front
    end's 16 kHz."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if band_limit and sample_rate > TELEPHONE_RATE:
        x = resample(x, sample_rate, TELEPHONE_RATE)
        sample_rate = TELEPHONE_RATE
    if sample_rate != RATE:
        x = resample(x, sample_rate, RATE)
    return np.ascontiguousarray(np.clip(np.rint(x), -32768, 32767).astype("<i2"))


def base_dir() -> Path:
    """The wheel's English model folder (``en-us/en-us``) and its dictionary beside it."""
    try:
        import pocketsphinx  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise AdaptationError("pocketsphinx is not installed") from exc
    return Path(pocketsphinx.get_model_path()) / "en-us"


def wideband_model() -> AcousticModel:
    return AcousticModel("en-us", base_dir() / "en-us")


def telephone_model() -> AcousticModel:
    """The shipped telephone-band model (see ``models/en-us-telephone/README.md``)."""
    return load_model(Path(__file__).parent / "models" / "en-us-telephone")


def load_model(path: Path) -> AcousticModel:
    """An adapted model written by :func:`adapt` (or the shipped one)."""
    missing = [name for name in MODEL_FILES.values() if not (path / name).is_file()]
    if missing:
        raise AdaptationError(f"{path} is not an adapted speech model (missing {missing[0]})")
    overrides = {key: path / name for key, name in MODEL_FILES.items()}
    return AcousticModel(path.name, base_dir() / "en-us", overrides)


# -- mixture weights ----------------------------------------------------------------------


def read_sendump(path: Path) -> NDArray[np.float64]:
    """Mixture weights from pocketsphinx's quantised ``sendump``: [senone, stream, density].

    The file holds ``-log(w)`` in base 1.0001, shifted right 10 bits, one byte each, laid out
    stream by stream and density by density. SphinxTrain needs them as floats.
    """
    data = path.read_bytes()
    offset = 0

    def int32() -> int:
        nonlocal offset
        (value,) = struct.unpack_from("<i", data, offset)
        offset += 4
        return int(value)

    for _ in ("title", "header"):
        size = int32()  # (not "offset += int32()": that reads offset before the call moves it)
        offset += size
    streams = 0
    while size := int32():
        text = data[offset : offset + size].rstrip(b"\0").decode("ascii", "replace")
        offset += size
        key, _, value = text.partition(" ")
        if key == "feature_count":
            streams = int(value)
        if key == "cluster_count" and int(value) != 0:
            raise AdaptationError("clustered sendump files are not supported")
    densities, senones = int32(), int32()
    if streams <= 0 or offset + streams * densities * senones != len(data):
        raise AdaptationError(f"{path} is not a sendump file this code understands")
    q = np.frombuffer(data, np.uint8, streams * densities * senones, offset)
    q = q.reshape(streams, densities, senones).astype(np.float64)
    weights: NDArray[np.float64] = np.exp(-q * (1 << _SENDUMP_SHIFT) * np.log(_LOG_BASE))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(weights.transpose(2, 0, 1))


def write_sendump(weights: NDArray[np.floating], path: Path) -> None:
    """``weights`` [senone, stream, density] quantised the way pocketsphinx reads them."""
    senones, streams, densities = weights.shape
    w = np.maximum(weights.astype(np.float64), _MIXW_FLOOR)
    w /= w.sum(axis=2, keepdims=True)
    q = np.rint(-np.log(w) / np.log(_LOG_BASE) / (1 << _SENDUMP_SHIFT))
    q = np.clip(q, 0, _MAX_NEG_MIXW).astype(np.uint8).transpose(1, 2, 0)

    def string(text: str) -> bytes:
        raw = text.encode("ascii") + b"\0"
        return struct.pack("<i", len(raw)) + raw

    out = string("cardshield adapted mixture weights") + string("")
    out += string(f"feature_count {streams}") + string("cluster_count 0") + struct.pack("<i", 0)
    out += struct.pack("<ii", densities, senones) + np.ascontiguousarray(q).tobytes()
    path.write_bytes(out)


def read_mixture_weights(path: Path) -> NDArray[np.float64]:
    """SphinxTrain's float ``mixture_weights`` file: [senone, stream, density]."""
    data = path.read_bytes()
    end = data.index(b"endhdr\n") + len(b"endhdr\n")
    order = "<" if struct.unpack_from("<I", data, end)[0] == 0x11223344 else ">"
    senones, streams, densities, count = struct.unpack_from(f"{order}4i", data, end + 4)
    if count != senones * streams * densities:
        raise AdaptationError(f"{path} is not a mixture weights file")
    values = np.frombuffer(data, f"{order}f4", count, end + 20).astype(np.float64)
    return values.reshape(senones, streams, densities)


def write_mixture_weights(weights: NDArray[np.floating], path: Path) -> None:
    """``weights`` in SphinxTrain's s3 binary format (no checksum)."""
    senones, streams, densities = weights.shape
    header = b"s3\nversion 1.0\nendhdr\n" + struct.pack("<I", 0x11223344)
    dims = struct.pack("<4i", senones, streams, densities, weights.size)
    path.write_bytes(header + dims + weights.astype("<f4").tobytes())


# -- adaptation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Utterance:
    """One transcribed recording: a WAV file (any rate, mono or first channel) and its words."""

    audio: Path
    words: str


_TOOLS = {
    "sphinx_fe": "sphinxbase-utils",
    "bw": "sphinxtrain",
    "map_adapt": "sphinxtrain",
    "pocketsphinx_mdef_convert": "pocketsphinx",
}


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/lib/sphinxtrain")
    if found is None:
        raise AdaptationError(f"{name} is missing (install the Debian package {_TOOLS[name]})")
    return found


def _run(args: list[str], log: Path) -> None:
    with log.open("ab") as fh:
        # The tools' own paths and files in our work folder: no shell, nothing from input.
        done = subprocess.run(args, stdout=fh, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    if done.returncode != 0:
        # The work folder goes with the error, so the tool's own last complaint comes along
        # (redacted: it may quote a transcript).
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        said = [ln for ln in lines if ln.startswith(("ERROR", "FATAL"))] or lines or [""]
        reason = redact(said[-1].strip())[:200]
        raise AdaptationError(f"{Path(args[0]).name} failed: {reason}")


def dictionary_entries(dictionary: Path) -> Iterator[tuple[str, str]]:
    """(word, pronunciation) for every line of a CMU-style dictionary; a variant's marker
    ("read(2)") is dropped, so variants come back under their word."""
    with dictionary.open(encoding="utf-8") as fh:
        for line in fh:
            head, _, pron = line.strip().partition(" ")
            if head:
                yield re.sub(r"\(\d+\)$", "", head), pron.strip()


def check_transcripts(utterances: Sequence[Utterance], dictionary: Path) -> None:
    """Every word must be in the model's dictionary: ``bw`` drops an utterance it cannot say."""
    known = {word for word, _pron in dictionary_entries(dictionary)}
    for i, utt in enumerate(utterances, 1):
        words = utt.words.lower().split()
        if not words:
            raise AdaptationError(f"utterance {i} ({utt.audio.name}) has an empty transcript")
        if any(ch.isdigit() for ch in utt.words):
            # Never echo digits: a transcript may hold a card number.
            raise AdaptationError(
                f"utterance {i} ({utt.audio.name}): write numbers as words ('four two', not digits)"
            )
        unknown = [w for w in words if w not in known]
        if unknown:
            raise AdaptationError(
                f"utterance {i} ({utt.audio.name}): {unknown[0]!r} is not in the dictionary"
            )


def _write_features_audio(utt: Utterance, path: Path) -> float:
    """The recording's first channel as the recogniser hears it (16 kHz WAV); seconds."""
    try:
        audio = read_wav(utt.audio)
    except (OSError, AudioError) as exc:
        raise AdaptationError(f"{utt.audio.name}: not a readable WAV file") from exc
    pcm = front_end(audio.linear()[:, 0], audio.sample_rate).astype(np.int16)
    write_wav(path, Audio.from_linear(pcm[:, None], RATE, "pcm16"))
    return len(pcm) / RATE


def adapt(
    utterances: Sequence[Utterance],
    out: Path,
    *,
    base: AcousticModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """MAP-adapt ``base`` to ``utterances`` and write the model to ``out``.

    ``base`` defaults to the shipped telephone-band model; the tool that builds that one
    passes the wheel's model.

    Returns what was written into ``out/model.json``: utterances used and seconds of speech.
    """
    base = base or telephone_model()
    say = progress or (lambda _step: None)
    if not utterances:
        raise AdaptationError("no recordings to adapt to")
    hmm = base.hmm
    dictionary = hmm.parent / "cmudict-en-us.dict"
    check_transcripts(utterances, dictionary)
    tools = {name: _tool(name) for name in _TOOLS}
    with tempfile.TemporaryDirectory(prefix="cardshield-adapt-") as tmp:
        work = Path(tmp)
        log = work / "adapt.log"
        say("preparing audio")
        ids, seconds = [], 0.0
        for i, utt in enumerate(utterances):
            ids.append(f"u{i:06d}")
            seconds += _write_features_audio(utt, work / f"{ids[-1]}.wav")
        (work / "adapt.fileids").write_text("\n".join(ids) + "\n", encoding="utf-8")
        lines = [f"<s> {u.words.lower()} </s> ({n})" for u, n in zip(utterances, ids, strict=True)]
        (work / "adapt.transcription").write_text("\n".join(lines) + "\n", encoding="utf-8")
        files = {key: base.overrides.get(key, hmm / name) for key, name in MODEL_FILES.items()}
        mixw = work / "mixture_weights"
        write_mixture_weights(read_sendump(files["sendump"]), mixw)
        mdef = work / "mdef.txt"
        _run([tools["pocketsphinx_mdef_convert"], "-text", str(hmm / "mdef"), str(mdef)], log)
        say("computing features")
        feat = ["-argfile", str(hmm / "feat.params"), "-samprate", str(RATE)]
        _run(
            [tools["sphinx_fe"], *feat, "-c", str(work / "adapt.fileids"), "-di", tmp, "-do", tmp,
             "-ei", "wav", "-eo", "mfc", "-mswav", "yes"],
            log,
        )  # fmt: skip
        say("aligning and counting")
        model = ["-moddeffn", str(mdef), "-ts2cbfn", ".ptm."]
        params = ["-meanfn", str(files["mean"]), "-varfn", str(files["var"]),
                  "-mixwfn", str(mixw), "-tmatfn", str(files["tmat"])]  # fmt: skip
        _run(
            [tools["bw"], *model, *params, "-feat", "1s_c_d_dd", "-svspec", _PTM_STREAMS,
             "-cmn", "batch", "-agc", "none", "-dictfn", str(dictionary),
             "-fdictfn", str(hmm / "noisedict"), "-ctlfn", str(work / "adapt.fileids"),
             "-lsnfn", str(work / "adapt.transcription"), "-cepdir", tmp, "-accumdir", tmp],
            log,
        )  # fmt: skip
        ignored = log.read_text(encoding="utf-8", errors="replace").count(" ignored")
        if ignored >= len(utterances):
            raise AdaptationError("no recording could be aligned to its transcript")
        say("adapting")
        built = work / "model"
        built.mkdir()
        adapted = work / "adapted_mixture_weights"
        _run(
            [tools["map_adapt"], *model, *params, "-accumdir", tmp,
             "-mapmeanfn", str(built / "means"), "-mapvarfn", str(built / "variances"),
             "-mapmixwfn", str(adapted), "-maptmatfn", str(built / "transition_matrices")],
            log,
        )  # fmt: skip
        write_sendump(read_mixture_weights(adapted), built / "sendump")
        summary: dict[str, object] = {
            "base": base.name,
            "utterances": len(utterances) - ignored,
            "not_aligned": ignored,
            "seconds": round(seconds, 1),
        }
        (built / "model.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        # Only a whole model reaches ``out``: a failure above leaves it as it was.
        out.mkdir(parents=True, exist_ok=True)
        for path in built.iterdir():
            shutil.copyfile(path, out / path.name)
    return summary


__all__ = [
    "AcousticModel",
    "AdaptationError",
    "Utterance",
    "adapt",
    "check_transcripts",
    "dictionary_entries",
    "load_model",
    "read_mixture_weights",
    "read_sendump",
    "telephone_model",
    "wideband_model",
    "write_mixture_weights",
    "write_sendump",
]
