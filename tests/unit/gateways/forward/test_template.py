from __future__ import annotations

import pytest

from cardshield.gateways.forward.errors import TemplateInvalid
from cardshield.gateways.forward.template import literal, parse

VALUES = {
    "card.number": "4111111111111111",
    "card.exp_month": "03",
    "card.exp_year": "2031",
    "card.cvc": "123",
}


def test_render_every_field_with_spacing_variants() -> None:
    t = parse(
        '{"n":"{{card.number}}","m":"{{ card.exp_month }}","y":"{{card.exp_year}}",'
        '"c":"{{  card.cvc}}","lit":"{x}"}',
        param="body",
    )
    assert t.fields == {"card.number", "card.exp_month", "card.exp_year", "card.cvc"}
    assert t.render(VALUES) == (
        '{"n":"4111111111111111","m":"03","y":"2031","c":"123","lit":"{x}"}'
    )


def test_text_without_placeholders_is_unchanged() -> None:
    t = parse("plain {json} text", param="body")
    assert t.fields == frozenset() and t.render(VALUES) == "plain {json} text"
    assert parse("{{{card.cvc}}}", param="body").render(VALUES) == "{123}"


@pytest.mark.parametrize(
    "text",
    [
        "{{card.pin}}",
        "{{card.number.raw}}",
        "{{ }}",
        "{{card.number}",
        "{{card.number",
        "card.number}}",
        "{{card.{{card.number}}}}",
        "{{card.number}} and {{nope}}",
    ],
)
def test_invalid_templates(text: str) -> None:
    with pytest.raises(TemplateInvalid) as err:
        parse(text, param="body")
    assert err.value.param == "body" and err.value.code == "template_invalid"


def test_unknown_names_are_named_only_when_harmless() -> None:
    with pytest.raises(TemplateInvalid, match=r"'card\.pin'"):
        parse("{{card.pin}}", param="body")
    with pytest.raises(TemplateInvalid) as err:
        parse("{{4242424242424242 x}}", param="body")
    assert "4242" not in err.value.message


def test_literal_refuses_placeholders() -> None:
    assert literal("https://a.example/x", param="url") == "https://a.example/x"
    with pytest.raises(TemplateInvalid):
        literal("https://a.example/{{card.number}}", param="url")
