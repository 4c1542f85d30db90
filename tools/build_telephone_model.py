"""Rebuild the shipped telephone-band speech model (``make speech-model``).

The adaptation corpus is generated: espeak-ng reads card numbers, expiry dates, security
codes, card prompts and ordinary customer-service talk, in the named voice variants of six
English accents, at varied speed and pitch. Each line goes through the telephone channel the
way a recording does (sox to 8 kHz, line noise at -60 dBFS, G.711 mu-law and back) and the
recogniser's own resampling to 16 kHz, and the wheel's model is MAP-adapted to it
(:func:`cardshield.redaction.speech_model.adapt`).

The numbered voice variants (m1-m8, f1-f5) are left out on purpose: the tests and the
redaction bench speak with them, so they measure voices the model was not adapted to.

Usage: python tools/build_telephone_model.py [--lines 1500] [--out DIR]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cardshield.phone.dsp import Audio, g711, read_wav, write_wav
from cardshield.redaction.speech_model import TELEPHONE_RATE, Utterance, adapt, wideband_model

OUT = Path(__file__).resolve().parents[1] / "src/cardshield/redaction/models/en-us-telephone"
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-us-nyc", "en-gb-x-gbcwmd", "en-gb-x-gbclan"]
VARIANTS = [
    "adam", "anika", "benjamin", "caleb", "david", "ed", "edward", "grandma", "grandpa", "iven",
    "john", "linda", "max", "michel", "norbert", "paul", "Alex", "Andy", "Annie", "Lee",
]  # fmt: skip
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = [
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
]  # fmt: skip
PROMPTS = [
    "what is the card number", "could i have the card number please",
    "can you read me the long number on the card", "and the expiry date",
    "what is the expiry date on the card", "when does the card expire",
    "the expiration date please", "and the security code on the back",
    "the three digit security code please", "what is the verification code",
    "please read the security code", "and the card number", "expiry date", "security code",
    "card number",
]  # fmt: skip
TALK = [
    "thank you for calling how can i help you", "i would like to pay my bill",
    "let me check that for you", "could you spell your last name please",
    "the delivery will arrive on monday", "is there anything else i can help with",
    "no that is all thank you", "good morning this is the customer service team",
    "i am calling about my account", "please hold the line for a moment",
    "my order has not arrived yet", "the total comes to forty dollars",
    "can you confirm your address", "we will send a receipt by email",
    "have a nice day goodbye", "sorry could you repeat that", "yes that is right",
    "one moment please", "the price was twenty nine ninety nine",
    "my phone number is five five five two one three", "the order number is four five one two",
    "i went to the shop for a new coat", "we ate dinner before the film",
    "she won the prize last year", "the train leaves at half past ten",
    "there are too many people here", "can you send it to my office",
    "i need to change my delivery date", "what time do you close on saturday",
    "the parcel was left by the door", "my account was charged twice",
    "i moved house last month", "please update my email address",
    "the invoice shows the wrong amount", "do you have this in a larger size",
    "the manager will call you back", "it is about my subscription",
    "i forgot my password again", "the heating has stopped working",
    "could you check the status of my refund", "we would like to book a table for four",
    "the weather is lovely today", "i think there is a mistake on my bill",
    "my daughter placed the order for me", "it should be free of charge",
    "the meeting was moved to friday afternoon", "i can hear you clearly now",
    "sorry the line is very bad", "the code for the door did not work",
    "i read the terms and conditions", "we have been customers for years",
    "that sounds perfect thank you", "i would rather pay by bank transfer",
    "how long will the repair take", "my card was declined yesterday",
    "the number you dialed is not available", "keep the change",
    "the first payment went through fine", "is the shop open on sunday",
    "i have two questions about the bill",
]  # fmt: skip


def digits(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice([*DIGITS, "oh"] if i else DIGITS) for i in range(n))


def expiry(rng: random.Random) -> str:
    month = rng.randint(1, 12)
    said = DIGITS[month] if month < 10 else TEENS[month - 10]
    if month < 10 and rng.random() < 0.5:
        said = f"oh {said}"
    year = rng.randint(24, 35)
    tens = "twenty" if year < 30 else "thirty"
    year_said = tens + ("" if year % 10 == 0 else f" {DIGITS[year % 10]}")
    return f"{said} {year_said}" if rng.random() < 0.5 else f"{said} twenty {year_said}"


def line(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.2:
        return " ".join(digits(rng, 4) for _ in range(4))
    if r < 0.32:
        return expiry(rng)
    if r < 0.44:
        return digits(rng, rng.choice([3, 3, 4]))
    if r < 0.6:
        return rng.choice(PROMPTS)
    return rng.choice(TALK)


def render(i: int, text: str, voice: str, speed: int, pitch: int, folder: Path) -> Path:
    """``text`` through espeak-ng and a G.711 telephone channel, as an 8 kHz WAV."""
    raw, narrow, out = (folder / f"{i:05d}{s}.wav" for s in (".raw", ".8k", ""))
    espeak = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text]
    subprocess.run(espeak, check=True, capture_output=True)
    sox = ["sox", "-D", str(raw), "-r", str(TELEPHONE_RATE), "-b", "16", str(narrow)]
    subprocess.run([*sox, "norm", "-3", "pad", "0.2", "0.2"], check=True, capture_output=True)
    x = read_wav(narrow).linear()[:, 0].astype(np.float64)
    x += np.random.default_rng(i).normal(0.0, 32768 * 10 ** (-60 / 20), len(x))
    pcm = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    line_audio = g711.decode(g711.encode(pcm, "mulaw"), "mulaw")
    write_wav(out, Audio.from_linear(line_audio[:, None], TELEPHONE_RATE, "pcm16"))
    raw.unlink()
    narrow.unlink()
    return out


def announce(step: str) -> None:
    print(f"... {step}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    jobs = [
        (i, line(rng), f"{rng.choice(ACCENTS)}+{rng.choice(VARIANTS)}", rng.randint(130, 185),
         rng.randint(30, 70))
        for i in range(args.lines)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cardshield-corpus-") as tmp:
        with ThreadPoolExecutor() as pool:
            paths = list(pool.map(lambda job: render(*job, Path(tmp)), jobs))
        corpus = [Utterance(path, job[1]) for path, job in zip(paths, jobs, strict=True)]
        summary = adapt(corpus, args.out, base=wideband_model(), progress=announce)
    print(f"wrote {args.out}: {summary}")


if __name__ == "__main__":
    main()
