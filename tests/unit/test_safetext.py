"""The shared escaping for CSV cells and terminal lines."""

from __future__ import annotations

import csv
import io
import os

import pytest

from cardshield.safetext import csv_cell, csv_text, terminal_text


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cell_prefixes_formula_leaders(lead: str) -> None:
    assert csv_cell(lead + "SUM(A1)") == "'" + lead + "SUM(A1)"


def test_csv_cell_leaves_other_values_alone() -> None:
    assert csv_cell("a=b") == "a=b" and csv_cell(-1) == -1 and csv_cell(0.5) == 0.5


def test_csv_text_round_trips_with_the_prefix_and_a_carriage_return() -> None:
    text = csv_text(["a", "b"], [["x\ry", 3], ['=cmd|"/c calc"!A1', ""]])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["a", "b"], ["x\ry", "3"], ["'=cmd|\"/c calc\"!A1", ""]
    ]  # fmt: skip


def test_terminal_text_writes_out_controls_bidi_and_undecodable_bytes() -> None:
    name = os.fsdecode(b"a\x1b[31m\x07\r\n\x7f\xc2\x9b\xff") + "\u202egpj.exe\u2028z"
    assert terminal_text(name) == "a\\x1b[31m\\x07\\x0d\\x0a\\x7f\\x9b\\xff\\u202egpj.exe\\u2028z"
    assert terminal_text("plain/ünïcode name.txt") == "plain/ünïcode name.txt"
