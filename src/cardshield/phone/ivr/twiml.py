"""Prompts as TwiML, built with the ``twilio`` package (so the XML is always well formed)."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse  # type: ignore[import-untyped]

from cardshield.phone.ivr.flow import Prompt

GATHER_TIMEOUT_S = 10


def render(prompt: Prompt, action_base: str) -> str:
    """TwiML for ``prompt``; gathered digits go to ``{action_base}/{step}``.

    ``actionOnEmptyResult`` makes a timed-out Gather post an empty ``Digits`` instead of
    falling through, so timeouts are counted by the flow like any other bad input.
    """
    response = VoiceResponse()
    if prompt.gather is not None:
        gather = Gather(
            input="dtmf",
            action=f"{action_base}/{prompt.gather}",
            method="POST",
            finish_on_key="#",
            timeout=GATHER_TIMEOUT_S,
            action_on_empty_result=True,
            num_digits=prompt.num_digits,
        )
        for line in prompt.say:
            gather.say(line)
        response.append(gather)
    else:
        for line in prompt.say:
            response.say(line)
    if prompt.hangup:
        response.hangup()
    return str(response)
