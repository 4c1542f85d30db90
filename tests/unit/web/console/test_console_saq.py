"""The SAQ advisor console page: who may use it, the advice for posted answers (the same
advisor and schema as ``cardshield saq``), field errors next to the field, CSRF, and the
answers offered back as a JSON file the CLI accepts."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cardshield.compliance import advise, parse_answers
from cardshield.security.permissions import Role
from cardshield.web.console.routing import DENIED_HEADER
from tests.conftest import CANARY_PAN, assert_no_card_data
from tests.unit.web.console.support import Console, build_console


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    c = build_console(f"sqlite:///{tmp_path_factory.mktemp('saq')}/c.db")
    with c.client():
        yield c
    c.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_limits(console: Console) -> None:
    console.services.limiter.reset()


def _signed_in(c: Console, username: str, role: Role) -> tuple[TestClient, str]:
    c.add_operator(username, role)
    client = c.client()
    return client, c.sign_in(client, username)


def _volumes(visa: int, mastercard: int, share: str) -> dict[str, str]:
    return {
        "transactions.visa.yearly": str(visa),
        "transactions.visa.ecommerce_share": share,
        "transactions.mastercard.yearly": str(mastercard),
        "transactions.mastercard.ecommerce_share": share,
    }


IFRAME_WITH_SCRIPT_CONTROLS = {
    "entity": "merchant",
    "cardshield_operator": "service_provider",
    "channels.ecommerce": "hosted_fields_iframe",
    "script_controls.requirements_6_4_3_and_11_6_1": "on",
    **_volumes(45000, 18000, "1"),
}
MERCHANT_JS = {
    "entity": "merchant",
    "channels.ecommerce": "merchant_form",
    **_volumes(45000, 18000, "1"),
}


def _overall(page: str) -> str:
    found = re.search(r'id="saq-overall"><strong>([^<]+)</strong>', page)
    assert found is not None, page
    return found.group(1)


def test_auditors_and_admins_get_the_page_others_are_refused(console: Console) -> None:
    c = console
    for role in (Role.AUDITOR, Role.ADMIN):
        client, _ = _signed_in(c, f"saq-{role.value}", role)
        page = client.get("/console/saq")
        assert page.status_code == 200, page.text
        assert 'id="saq-form"' in page.text
        assert 'href="/console/saq" aria-current="page"' in page.text  # the nav link
        # Every method of the answers schema is offered, labelled from the rules data.
        for method in ("hosted_fields_iframe", "merchant_form", "cardshield_ivr", "p2pe"):
            assert f'value="{method}"' in page.text
    for role in (Role.OPERATOR, Role.AGENT, Role.DEVELOPER):
        client, csrf = _signed_in(c, f"saq-{role.value}", role)
        for response in (
            client.get("/console/saq"),
            client.post("/console/saq", data={"csrf_token": csrf, **MERCHANT_JS}),
        ):
            assert response.status_code == 403
            assert response.headers[DENIED_HEADER] == "permission"
            assert "saq-advice" not in response.text
    anonymous = c.client().get("/console/saq", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/console/login?next=/console/saq"


def test_hosted_fields_with_script_controls_give_saq_a(console: Console) -> None:
    client, csrf = _signed_in(console, "saq-iframe", Role.AUDITOR)
    page = client.post("/console/saq", data={"csrf_token": csrf, **IFRAME_WITH_SCRIPT_CONTROLS})
    assert page.status_code == 200, page.text
    assert _overall(page.text) == "A"
    assert 'data-channel="ecommerce">A ' in page.text
    assert "hosted_fields_iframe: A" in page.text
    assert 'id="saq-level"' in page.text and "Visa 3, Mastercard 3 (overall 3)" in page.text
    submit = page.text.split('id="saq-submit"')[1].split("</table>")[0]
    assert "<td>SAQ A</td>" in submit and "<td>AOC</td>" in submit
    # Each decision has its reason and source, as the advisor gives them.
    expected = advise(parse_answers(_answers_of(page.text))).to_dict()
    reasons = page.text.split('id="saq-reasons"')[1].split("</table>")[0]
    assert reasons.count("<tr>") == len(expected["reasons"]) + 1  # + the header row
    shown = html.unescape(reasons)
    for reason in expected["reasons"]:
        assert reason["because"] in shown and reason["source"] in shown
        assert all(f'href="{url}"' in shown for url in reason["urls"])


def test_merchant_javascript_gives_a_ep(console: Console) -> None:
    client, csrf = _signed_in(console, "saq-js", Role.ADMIN)
    page = client.post("/console/saq", data={"csrf_token": csrf, **MERCHANT_JS})
    assert page.status_code == 200, page.text
    assert _overall(page.text) == "A-EP"
    assert "merchant_form: A-EP" in page.text
    assert "ASV scans" in page.text.split('id="saq-submit"')[1].split("</table>")[0]


def _answers_of(page: str) -> object:
    found = re.search(r'name="answers" value="([^"]*)"', page)
    assert found is not None, page
    return json.loads(html.unescape(found.group(1)))


def test_the_answers_download_is_the_document_the_cli_reads(console: Console) -> None:
    client, csrf = _signed_in(console, "saq-download", Role.AUDITOR)
    page = client.post("/console/saq", data={"csrf_token": csrf, **IFRAME_WITH_SCRIPT_CONTROLS})
    document = _answers_of(page.text)
    assert document == {
        "version": 1,
        "entity": "merchant",
        "cardshield_operator": "service_provider",
        "channels": {"ecommerce": ["hosted_fields_iframe"]},
        "script_controls": {"requirements_6_4_3_and_11_6_1": True, "provider_confirmation": False},
        "card_data": {
            "reaches_merchant_systems": False,
            "in_recordings": False,
            "on_merchant_telephony": False,
        },
        "transactions": {
            "visa": {"yearly": 45000, "ecommerce_share": 1.0},
            "mastercard": {"yearly": 18000, "ecommerce_share": 1.0},
        },
        "past_compromise": False,
        "designated_level_1": False,
    }
    file = client.post(
        "/console/saq/answers.json", data={"csrf_token": csrf, "answers": json.dumps(document)}
    )
    assert file.status_code == 200
    assert file.headers["content-type"].startswith("application/json")
    assert "attachment" in file.headers["content-disposition"]
    assert file.json() == document
    for answers, message in (("{", "not valid JSON"), ('{"version": 2}', "problems")):
        broken = client.post(
            "/console/saq/answers.json", data={"csrf_token": csrf, "answers": answers}
        )
        assert broken.status_code == 400 and message in broken.text
        assert DENIED_HEADER not in broken.headers


def test_a_bad_answer_is_shown_next_to_its_field(console: Console) -> None:
    client, csrf = _signed_in(console, "saq-bad", Role.AUDITOR)
    # A negative count, and a card number pasted where a count belongs: schema errors, no 500,
    # and the pasted number is not shown back.
    for value, message in (("-5", "must be at least 0"), (CANARY_PAN + "x", "whole number")):
        data = {
            "csrf_token": csrf,
            **MERCHANT_JS,
            "transactions.visa.yearly": value,
        }
        page = client.post("/console/saq", data=data)
        assert page.status_code == 400, page.text
        error = re.search(
            r'<span class="field-error" role="alert" data-field="([^"]+)">([^<]+)<', page.text
        )
        assert error is not None, page.text
        assert error.group(1) == "transactions.visa.yearly"
        assert message in error.group(2)
        # Next to the field: the error follows the input it names, before the next input.
        after = page.text.split('name="transactions.visa.yearly"')[1]
        assert after.index("field-error") < after.index("<input")
        assert "saq-advice" not in page.text
        assert_no_card_data(page.content)
    # A hosted fields iframe without the script-control answers names the missing object.
    data = {"csrf_token": csrf, **IFRAME_WITH_SCRIPT_CONTROLS}
    del data["transactions.mastercard.ecommerce_share"]
    page = client.post("/console/saq", data=data)
    assert page.status_code == 400
    assert 'data-field="transactions.mastercard.ecommerce_share"' in page.text
    assert "ecommerce_share: missing" in page.text


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    client, csrf = _signed_in(console, "saq-csrf", Role.AUDITOR)
    for data in (dict(MERCHANT_JS), {**MERCHANT_JS, "csrf_token": csrf[::-1]}):
        refused = client.post("/console/saq", data=data)
        assert refused.status_code == 403
        assert refused.headers[DENIED_HEADER] == "csrf"
        assert "saq-advice" not in refused.text
    download = client.post("/console/saq/answers.json", data={"answers": "{}"})
    assert download.status_code == 403 and download.headers[DENIED_HEADER] == "csrf"


def test_a_service_provider_gets_d_sp_and_must_name_its_category(console: Console) -> None:
    client, csrf = _signed_in(console, "saq-sp", Role.AUDITOR)
    data = {
        "csrf_token": csrf,
        "entity": "service_provider",
        "transactions.visa.yearly": "400000",
        "transactions.mastercard.yearly": "400000",
    }
    missing = client.post("/console/saq", data=data)
    assert missing.status_code == 400
    assert 'data-field="service_provider.role"' in missing.text
    page = client.post(
        "/console/saq", data={**data, "service_provider.role": "third_party_processor"}
    )
    assert page.status_code == 200, page.text
    assert _overall(page.text) == "D-SP"
    assert "service provider: Visa" in page.text
