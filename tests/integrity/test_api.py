"""The public surface of auditkit.integrity: sorted, complete, documented."""

from __future__ import annotations

import inspect

import auditkit.integrity as integrity
from auditkit.integrity import jcs, merkle, signing, statements


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_and_complete() -> None:
    assert integrity.__all__ == sorted(integrity.__all__, key=isort_key)
    assert len(set(integrity.__all__)) == len(integrity.__all__)
    for name in integrity.__all__:
        assert hasattr(integrity, name), name
    exported = set(integrity.__all__)
    for module in (jcs, merkle, signing, statements):
        assert module.__all__ == sorted(module.__all__, key=isort_key), module.__name__
        assert set(module.__all__) <= exported, module.__name__


def test_every_public_callable_has_a_numpy_docstring_with_examples() -> None:
    for name in integrity.__all__:
        obj = getattr(integrity, name)
        if not callable(obj) or (isinstance(obj, type) and issubclass(obj, Exception)):
            continue
        doc = inspect.getdoc(obj) or ""
        assert "Examples\n--------" in doc, name
        if isinstance(obj, type):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(getattr(obj, attr)):
                    continue
                assert "Examples\n--------" in (inspect.getdoc(member) or ""), f"{name}.{attr}"


def test_errors_are_plain_value_errors() -> None:
    assert issubclass(integrity.ProofError, ValueError)
    assert issubclass(integrity.SignatureError, ValueError)
    assert issubclass(integrity.CanonicalizationError, ValueError)
