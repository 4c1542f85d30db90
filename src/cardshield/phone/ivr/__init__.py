"""The secure IVR: a caller pays by keying the card, as Twilio voice webhooks.

:mod:`.flow` is the state machine (digits in, prompts out, no I/O but the vault, payments and
the recording control it is given); :mod:`.twiml` renders its prompts as TwiML;
:mod:`.recordings` pauses the call recording around card capture. The HTTP side lives in
:mod:`cardshield.web.routers.phone_twilio`.
"""
