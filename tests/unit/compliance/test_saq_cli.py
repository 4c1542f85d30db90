"""``cardshield saq``: the JSON contract, text output, exit codes, and the questionnaire driven
through stdin (a real process with piped input, and the Typer runner)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cardshield.cli import app
from tests.conftest import CANARY_PAN, assert_no_card_data

runner = CliRunner()
EXAMPLES = Path(__file__).parents[3] / "examples" / "saq"
CLI = str(Path(sys.executable).with_name("cardshield"))

# entity, operator, e-commerce, phone, card-present, script controls, provider confirmation,
# card data in merchant systems, in recordings, on merchant VoIP, Visa yearly and e-commerce %,
# Mastercard yearly and %, Maestro yearly and %, past compromise, designated Level 1.
HOSTED_FIELDS_AND_IVR = [
    "merchant", "", "1", "cardshield_ivr", "", "no", "yes", "no", "no", "no",
    "50,000", "40", "30000", "40%", "0", "0", "no", "",
]  # fmt: skip


def _lines(answers: list[str]) -> str:
    return "\n".join(answers) + "\n"


def test_json_contract() -> None:
    result = runner.invoke(
        app, ["saq", "--answers", str(EXAMPLES / "online-shop-hosted-fields.json"), "--json"]
    )
    assert result.exit_code == 0, result.output
    advice = json.loads(result.stdout)
    assert set(advice) == {"saq", "level", "submit", "requirements", "reasons"}
    assert advice["saq"] == {
        "overall": "A",
        "per_channel": {"ecommerce": "A"},
        "per_method": {"ecommerce": {"hosted_fields_iframe": "A"}},
        "alternatives": [],
        "asv_scans": True,
    }
    assert advice["level"] == {"entity": "merchant", "visa": 3, "mastercard": 3, "overall": 3}
    assert [s["item"] for s in advice["submit"]] == ["SAQ A", "AOC", "ASV scans"]
    assert all(set(s) == {"item", "by", "frequency"} for s in advice["submit"])
    assert [r["id"] for r in advice["requirements"]] == [2, 3, 6, 8, 9, 11, 12]
    assert all(
        set(r) == {"decision", "because", "source", "rule", "urls"} for r in advice["reasons"]
    )
    faq = [r for r in advice["reasons"] if r["rule"] == "a.scripts"]
    assert faq and "FAQ 1588" in faq[0]["source"]


def test_text_output_lists_every_part() -> None:
    result = runner.invoke(app, ["saq", "-a", str(EXAMPLES / "shop-terminals-and-website.json")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "SAQ overall: D" in out and "A + B" in out
    assert "Level (merchant): Visa 3, Mastercard 3, overall 3" in out
    for word in ("Per channel", "dial_out_terminals", "What to submit", "ASV scans", "Reasons"):
        assert word in out


def test_invalid_answers_exit_2_with_one_line_naming_the_field(tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "online-shop-hosted-fields.json").read_text())
    missing, pasted = dict(doc), dict(doc)
    del missing["script_controls"]
    pasted[CANARY_PAN] = CANARY_PAN
    expected = {
        "missing.json": (missing, "error: script_controls: missing (needed when"),
        "pasted.json": (pasted, "error: (top level): unknown field '424242******4242'"),
    }
    for name, (answers, message) in expected.items():
        path = tmp_path / name
        path.write_text(json.dumps(answers))
        result = runner.invoke(app, ["saq", "--answers", str(path), "--json"])
        assert result.exit_code == 2
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), lines
        assert_no_card_data(result.stderr)


def test_missing_file_and_unwritable_save(tmp_path: Path) -> None:
    result = runner.invoke(app, ["saq", "--answers", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "cannot read" in result.stderr
    example = str(EXAMPLES / "online-shop-hosted-fields.json")
    result = runner.invoke(app, ["saq", "-a", example, "--save", str(tmp_path / "no" / "x.json")])
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_questionnaire_through_a_pipe_then_the_saved_answers_give_the_same_advice(
    tmp_path: Path,
) -> None:
    saved = tmp_path / "answers.json"
    proc = subprocess.run(
        [CLI, "saq", "--json", "--save", str(saved)],
        input=_lines(HOSTED_FIELDS_AND_IVR),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Are you a merchant or a service provider?" in proc.stderr  # prompts stay off stdout
    advice = json.loads(proc.stdout)
    assert advice["saq"]["per_channel"] == {"ecommerce": "A", "phone": "A"}
    assert advice["level"]["overall"] == 3  # 20,000 Visa e-commerce transactions
    document = json.loads(saved.read_text())
    assert document["script_controls"] == {
        "requirements_6_4_3_and_11_6_1": False,
        "provider_confirmation": True,
    }
    assert document["transactions"]["mastercard"] == {"yearly": 30000, "ecommerce_share": 0.4}
    assert "maestro" not in document["transactions"]
    again = runner.invoke(app, ["saq", "--answers", str(saved), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout) == advice


def test_questionnaire_asks_again_after_a_wrong_answer() -> None:
    answers = [
        "shopkeeper", "merchant",  # not an option, then a valid one
        "2",  # we run cardshield ourselves
        "", "", "9", "1",  # no e-commerce, no phone; card-present: 9 is not listed, then 1
        "maybe", "no",  # card data in merchant systems
        "lots", "900000", "150", "0",  # Visa: a word, then a number; 150% refused, then 0
        "10", "0", "0", "0", "no", "no",
    ]  # fmt: skip
    result = runner.invoke(app, ["saq", "--json"], input=_lines(answers))
    assert result.exit_code == 0, result.stderr
    for complaint in (
        "pick one of",
        "use only the numbers",
        "yes or no",
        "whole number",
        "0 to 100",
    ):
        assert complaint in result.stderr
    advice = json.loads(result.stdout)
    assert advice["saq"]["per_channel"] == {"card_present": "B"}
    assert advice["level"]["visa"] == 4


def test_questionnaire_for_a_service_provider() -> None:
    answers = ["2", "third_party_processor", "400000", "1000", "0", "", ""]
    result = runner.invoke(app, ["saq", "--json"], input=_lines(answers))
    assert result.exit_code == 0, result.stderr
    advice = json.loads(result.stdout)
    assert advice["saq"]["overall"] == "D-SP"
    assert advice["level"] == {
        "entity": "service_provider",
        "visa": 1,
        "mastercard": 1,
        "overall": 1,
    }
    assert [s["item"] for s in advice["submit"]] == ["ROC", "AOC", "ASV scans"]


def test_questionnaire_cut_short_exits_2() -> None:
    result = runner.invoke(app, ["saq"], input="merchant\n\n")
    assert result.exit_code == 2
    assert "error: the questionnaire ended before every question was answered" in result.stderr
    assert result.stdout == ""
