"""The SAQ questionnaire as a console page (auditors and admins): the questions of
``cardshield saq`` as one form, and the advice with every decision's reason and source.

Form inputs are named by their path in the answers schema (``transactions.visa.yearly``), so
the field an :class:`~cardshield.compliance.answers.AnswersError` names is the input the error
is shown next to. The posted form becomes an answers document exactly as the terminal
questionnaire builds one (conditional objects only with the methods that need them), is
validated against the same JSON Schema, and is offered back as a JSON download.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from cardshield.compliance import AnswersError, advise, parse_answers
from cardshield.compliance.answers import answers_schema
from cardshield.compliance.rules import load_rules
from cardshield.redaction import redact
from cardshield.security.permissions import Permission
from cardshield.web.console.auth import Principal, Require
from cardshield.web.console.render import render
from cardshield.web.console.routing import console_router

router = console_router(tags=["console"])
Reader = Annotated[Principal, Require(Permission.REPORTS_VIEW)]
CHANNELS = ("ecommerce", "phone", "card_present")
BRANDS = ("visa", "mastercard", "maestro")
# The booleans of the answers format, by schema path (descriptions come from the schema).
CARD_DATA = ("reaches_merchant_systems", "in_recordings", "on_merchant_telephony")
_WHOLE = re.compile(r"-?[0-9][0-9,_ ]*")
MAX_ANSWERS = 20_000  # characters of a downloaded answers document


def _enum(node: dict[str, Any]) -> list[str]:
    return [str(v) for v in node.get("enum", [])]


def _questions() -> dict[str, Any]:
    """What the form asks, read from the rules data (method labels) and the answers schema."""
    schema = answers_schema()
    props = schema["properties"]
    methods = load_rules().methods
    return {
        "channels": [
            (ch, [(name, m.label) for (c, name), m in methods.items() if c == ch])
            for ch in CHANNELS
        ],
        "entities": _enum(props["entity"]),
        "operators": _enum(props["cardshield_operator"]),
        "card_data": [(k, props["card_data"]["properties"][k]["description"]) for k in CARD_DATA],
        "scripts": [
            (k, v["description"]) for k, v in props["script_controls"]["properties"].items()
        ],
        "keying": _enum(props["phone_keying"]["properties"]["into"]),
        "isolated_device": props["phone_keying"]["properties"]["isolated_device"]["description"],
        "pos_isolated": props["pos_system"]["properties"]["isolated"]["description"],
        "roles": _enum(props["service_provider"]["properties"]["role"]),
        "brands": BRANDS,
        "past_compromise": props["past_compromise"]["description"],
        "designated_level_1": props["designated_level_1"]["description"],
    }


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:200] if isinstance(value, str) else ""


def _flag(form: FormData, name: str) -> bool:
    return _text(form, name) in ("on", "yes", "true", "1")


def _number(raw: str, *, whole: bool) -> object:
    """A number when the text is one; otherwise the text itself, which the schema rejects
    as the wrong type (so the error comes from the schema, like the CLI's)."""
    if whole:
        return int(re.sub(r"[,_ ]", "", raw)) if _WHOLE.fullmatch(raw) else raw
    try:
        return float(raw)
    except ValueError:
        return raw


def _transactions(form: FormData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for brand in BRANDS:
        yearly = _text(form, f"transactions.{brand}.yearly")
        share = _text(form, f"transactions.{brand}.ecommerce_share")
        if brand == "maestro" and not yearly and not share:
            continue  # Maestro is optional; Visa and Mastercard left blank are reported
        volume: dict[str, Any] = {}
        if yearly:
            volume["yearly"] = _number(yearly, whole=True)
        if share:  # a merchant leaving it blank is told it is missing, by the schema
            volume["ecommerce_share"] = _number(share, whole=False)
        out[brand] = volume
    return out


def build_document(form: FormData) -> dict[str, Any]:
    """The answers document the posted form stands for (not yet validated)."""
    doc: dict[str, Any] = {"version": 1, "entity": _text(form, "entity")}
    merchant = doc["entity"] != "service_provider"
    if merchant:
        doc["cardshield_operator"] = _text(form, "cardshield_operator") or "service_provider"
        picked = {
            ch: [m for m in form.getlist(f"channels.{ch}") if isinstance(m, str)] for ch in CHANNELS
        }
        doc["channels"] = {ch: methods for ch, methods in picked.items() if methods}
        if "hosted_fields_iframe" in picked["ecommerce"]:
            doc["script_controls"] = {
                k: _flag(form, f"script_controls.{k}")
                for k in ("requirements_6_4_3_and_11_6_1", "provider_confirmation")
            }
        if {"agent_hears_card", "virtual_terminal"} & set(picked["phone"]):
            keying: dict[str, Any] = {
                "isolated_device": _flag(form, "phone_keying.isolated_device")
            }
            if into := _text(form, "phone_keying.into"):
                keying["into"] = into
            doc["phone_keying"] = keying
        if "pos_system" in picked["card_present"]:
            doc["pos_system"] = {"isolated": _flag(form, "pos_system.isolated")}
        doc["card_data"] = {k: _flag(form, f"card_data.{k}") for k in CARD_DATA}
    else:
        doc["channels"] = {}
        doc["card_data"] = dict.fromkeys(CARD_DATA, False)
        role = _text(form, "service_provider.role")
        doc["service_provider"] = {"role": role} if role else {}
    doc["transactions"] = _transactions(form)
    doc["past_compromise"] = _flag(form, "past_compromise")
    doc["designated_level_1"] = _flag(form, "designated_level_1")
    return doc


def _kept(form: FormData | None) -> dict[str, Any]:
    """The form's values to show again; redacted, so a pasted card number is not echoed."""
    if form is None:
        return {"values": {}, "checked": set()}
    values: dict[str, str] = {}
    checked: set[str] = set()
    for name, value in form.multi_items():
        if not isinstance(value, str) or name == "csrf_token":
            continue
        if name.startswith("channels.") or value == "on":
            checked.add(f"{name}={value}" if name.startswith("channels.") else name)
        elif name.startswith("transactions."):
            # Counts are shown again only when they are numbers: text pasted by mistake
            # (a card number with a stray character escapes redaction) is dropped.
            number = _number(value.strip()[:200], whole=name.endswith(".yearly"))
            values[name] = redact(str(value.strip())) if not isinstance(number, str) else ""
        else:
            values[name] = value.strip()[:200]  # compared with the options, never shown
    return {"values": values, "checked": checked}


def _page(
    request: Request,
    form: FormData | None = None,
    *,
    advice: dict[str, Any] | None = None,
    answers: str | None = None,
    field: str | None = None,
    problem: str | None = None,
) -> Response:
    context = {
        "q": _questions(),
        "form": _kept(form),
        "advice": advice,
        "answers": answers,
        "field": field or "",
        "problem": problem,
    }
    return render(request, "saq.html", context, status=400 if problem else 200)


@router.get("/saq")
def questionnaire(request: Request, _principal: Reader) -> Response:
    return _page(request)


@router.post("/saq")
async def answer(request: Request, _principal: Reader) -> Response:
    form = await request.form()
    document = build_document(form)
    try:
        advice = advise(parse_answers(document))
    except AnswersError as exc:
        return _page(request, form, field=exc.param, problem=exc.message)
    text = json.dumps(document, indent=2)
    return _page(request, form, advice=advice.to_dict(), answers=text)


@router.post("/saq/answers.json")
def download(
    request: Request,
    _principal: Reader,
    answers: Annotated[str, Form(max_length=MAX_ANSWERS)] = "",
) -> Response:
    """The answers just posted, validated again, as a file for ``cardshield saq --answers``."""
    try:
        document = json.loads(answers)
    except json.JSONDecodeError as exc:
        raise AnswersError("the answers are not valid JSON") from exc
    parse_answers(document)
    return Response(
        json.dumps(document, indent=2) + "\n",
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="saq-answers.json"'},
    )
