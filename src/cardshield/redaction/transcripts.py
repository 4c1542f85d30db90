"""Card data in call transcripts: plain text, JSON, WebVTT and SRT.

::

    redact_transcript(document, "auto")     # the same document, card data replaced
    redact_strings(["card number is four one", "one one ..."])   # pieces of one stream

On top of :func:`cardshield.redaction.text.redact` (digit PANs with a valid brand and check
digit, track data, named security codes), transcripts carry numbers the way speech-to-text
writes them: in words ("four one one one", "double four", "oh nine twenty eight"), in digit
groups, split over several cues or segments, and codes read out after a prompt ("security
code is seven three seven"). The rules are those of :mod:`.spans`, applied to the words of
all text pieces of the document in order, so a number that runs from one cue into the next
is one number:

* a run of number words or digits that spells 12 or more digits is a card number; a run of
  digits alone must also be a valid card number (brand and check digit), as in
  :mod:`.text`, so order and phone numbers written in digits stay;
* any run right after a prompt (within eight words: card number, expiry, security code,
  CVV, ...) is card data.

In JSON the strings under text-like keys (``text``, ``transcript``, ``content``, ...) and
strings in arrays make the stream; other strings (speaker labels, ids) are checked one by
one, and a value under a security-code key (``cvv``, ``cvc``, ...) becomes ``***``.

Each such run is replaced, inside each piece it touches, by ``[REDACTED]``. Everything else
is kept as it was: cue identifiers, timings, settings, tags, JSON keys, numbers and layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from cardshield.cards.brands import brand_for
from cardshield.cards.luhn import luhn_valid
from cardshield.errors import InvalidRequestError
from cardshield.redaction.spans import FILLERS, Word, card_runs
from cardshield.redaction.text import is_cvv_key, redact

Format = Literal["auto", "plain", "json", "vtt", "srt"]
MARK = "[REDACTED]"

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|[0-9]+")
_TAG = re.compile(r"<[^>\n]*>")
_TIMING = "-->"
_PROMPT_WINDOW = 8  # words from a prompt to its answer
# After a prompt only the run that answers it counts: a transcript has no pauses to tell
# a number read in parts from the next number mentioned.
_CHAIN_GAP = 0


class TranscriptError(InvalidRequestError):
    code = "invalid_transcript"
    default_message = "The transcript cannot be parsed."


@dataclass(frozen=True)
class _Tok:
    piece: int
    start: int
    end: int


def _tokens(pieces: list[str], skip_tags: bool) -> tuple[list[Word], list[_Tok]]:
    words: list[Word] = []
    where: list[_Tok] = []
    for p, piece in enumerate(pieces):
        tags = [m.span() for m in _TAG.finditer(piece)] if skip_tags else []
        for m in _TOKEN.finditer(piece):
            if any(a <= m.start() < b for a, b in tags):
                continue
            text = m.group().lower()
            if text in FILLERS:
                continue
            i = len(words)
            words.append(Word(text, i, i + 1))
            where.append(_Tok(p, m.start(), m.end()))
    return words, where


def _valid_pan(run: tuple[Word, ...], digits: str) -> bool:
    """Digit groups alone count as a card only with a brand and check digit (as in text)."""
    if not all(w.text.isdigit() for w in run):
        return True  # spoken words: recognisers garble digits, so length alone decides
    return brand_for(digits) is not None and luhn_valid(digits)


def redact_strings(pieces: list[str], *, skip_tags: bool = False) -> list[str]:
    """Redact ``pieces`` of one transcript, in order, as one stream of words."""
    words, where = _tokens(pieces, skip_tags)
    runs = card_runs(
        words,
        max_gap=0,
        prompt_window=_PROMPT_WINDOW,
        chain_gap=_CHAIN_GAP,
        pair_gap=1,
        pan_check=_valid_pan,
    )
    cuts: dict[int, list[tuple[int, int]]] = {}
    for run in runs:
        by_piece: dict[int, tuple[int, int]] = {}
        for word in run.words:
            tok = where[word.start]
            a, b = by_piece.get(tok.piece, (tok.start, tok.end))
            by_piece[tok.piece] = (min(a, tok.start), max(b, tok.end))
        for piece, span in by_piece.items():
            cuts.setdefault(piece, []).append(span)
    out = list(pieces)
    for piece, spans in cuts.items():
        text = out[piece]
        for a, b in sorted(spans, reverse=True):
            text = text[:a] + MARK + text[b:]
        out[piece] = text
    return [redact(text) for text in out]


def detect_format(document: str) -> Format:
    head = document.lstrip("\ufeff \t\r\n")
    if head.startswith("WEBVTT"):
        return "vtt"
    if head[:1] in "{[":
        try:
            json.loads(document)
        except ValueError:
            return "plain"
        return "json"
    lines = head.splitlines()
    if len(lines) >= 2 and lines[0].strip().isdigit() and _TIMING in lines[1]:
        return "srt"
    return "plain"


def _cues(document: str) -> str:
    """VTT and SRT: only the text lines of cues change; every other line stays as it is."""
    lines = document.splitlines(keepends=True)
    payload: list[int] = []  # indexes of cue text lines
    in_cue = False
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if not body.strip():
            in_cue = False
        elif _TIMING in body and not in_cue:
            in_cue = True
        elif in_cue:
            payload.append(i)
    texts = [lines[i].rstrip("\r\n") for i in payload]
    redacted = redact_strings(texts, skip_tags=True)
    for i, new in zip(payload, redacted, strict=True):
        ending = lines[i][len(lines[i].rstrip("\r\n")) :]
        lines[i] = new + ending
    return "".join(lines)


#: JSON keys whose strings are what was said; their values form one stream in document order
#: (with strings listed in arrays). Other strings are labels and ids, each checked alone.
TEXT_KEYS = frozenset(
    {"text", "transcript", "utterance", "content", "caption", "sentence", "word", "words",
     "message", "body", "value", "alternative", "display", "lexical"}
)  # fmt: skip


def _json(document: str) -> str:
    try:
        data = json.loads(document)
    except ValueError as exc:
        raise TranscriptError("the transcript is not valid JSON") from exc
    spoken: list[tuple[Any, Any]] = []  # (container, key) of each string in the stream
    labels: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(node, dict) and is_cvv_key(str(key)) and value is not None:
                node[key] = "***"  # a security code held under its own name
            elif isinstance(value, str):
                is_text = isinstance(node, list) or str(key).lower() in TEXT_KEYS
                (spoken if is_text else labels).append((node, key))
            elif isinstance(value, dict | list):
                walk(value)

    if isinstance(data, str):
        return json.dumps(redact_strings([data])[0], ensure_ascii=False)
    if isinstance(data, dict | list):
        walk(data)
    texts = redact_strings([c[k] for c, k in spoken])
    for (container, key), new in zip(spoken, texts, strict=True):
        container[key] = new
    for container, key in labels:
        container[key] = redact_strings([container[key]])[0]
    indent = 2 if "\n" in document.strip() else None
    ending = "\n" if document.endswith("\n") else ""
    return json.dumps(data, ensure_ascii=False, indent=indent) + ending


def redact_transcript(document: str, fmt: Format = "auto") -> str:
    """``document`` with card data replaced, in its own format and layout."""
    if fmt == "auto":
        fmt = detect_format(document)
    if fmt in ("vtt", "srt"):
        return _cues(document)
    if fmt == "json":
        return _json(document)
    if fmt == "plain":
        return redact_strings([document])[0]
    raise TranscriptError("unknown transcript format")


__all__ = [
    "MARK",
    "Format",
    "TranscriptError",
    "detect_format",
    "redact_strings",
    "redact_transcript",
]
