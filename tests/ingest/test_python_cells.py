"""Cells written as Python writes lists (pandas' ``to_csv``) are read with
``ast.literal_eval``: a cell nested deeper than any record is never handed to it (a
RecursionError there can leave CPython 3.11's parser state broken for the rest of the
process), and the "AST constructor recursion depth mismatch" that CPython 3.11 before
3.11.8 raises now and then in long runs is tried once more, not turned into a lost
target."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from auditkit.ingest import _mapping
from auditkit.ingest._mapping import json_cell

CELL = "[{'id': '0oa1', 'type': 'AppInstance', 'detailEntry': None}]"


def test_a_spurious_system_error_is_tried_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = ast.literal_eval

    def flaky(text: str) -> Any:
        calls.append(text)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=135, after=161)")
        return real(text)

    monkeypatch.setattr(_mapping.ast, "literal_eval", flaky)
    assert json_cell(CELL) == [{"id": "0oa1", "type": "AppInstance", "detailEntry": None}]
    assert len(calls) == 2


def test_a_lasting_system_error_leaves_the_cell_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> Any:
        raise SystemError("AST constructor recursion depth mismatch")

    monkeypatch.setattr(_mapping.ast, "literal_eval", broken)
    assert json_cell(CELL) == CELL


def test_a_cell_nested_deeper_than_any_record_is_not_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(text: str) -> Any:
        raise AssertionError("handed to the parser")

    monkeypatch.setattr(_mapping.ast, "literal_eval", refuse)
    deep = "[" * 500 + "'x'" + "]" * 500
    assert json_cell(deep.replace("'x'", "'x', None")) == deep.replace("'x'", "'x', None")
