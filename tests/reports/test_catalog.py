"""Catalogs load, every control has rules that exist, evidence that exists, and the
controls the issue asks for are all there."""

from __future__ import annotations

import inspect

import polars as pl
import pytest

from auditkit.errors import UsageError
from auditkit.reports import (
    Status,
    available_frameworks,
    available_rules,
    available_sections,
    event_classes,
    get_framework,
)
from auditkit.reports.catalog import _rule_specs
from auditkit.reports.rules import STATUS_PARAMS

REQUIRED = {
    "pci-dss": [
        "10.2.1",
        "10.2.1.1",
        "10.2.1.2",
        "10.2.1.3",
        "10.2.1.4",
        "10.2.1.5",
        "10.2.1.6",
        "10.2.1.7",
        "10.2.2",
        "10.3.1",
        "10.3.2",
        "10.3.3",
        "10.3.4",
        "10.4.1",
        "10.4.2",
        "10.4.3",
        "10.5.1",
        "10.6.1",
        "10.6.2",
        "10.6.3",
        "10.7.2",
        "10.7.3",
    ],
    "soc2": [
        "CC6.1",
        "CC6.2",
        "CC6.3",
        "CC7.1",
        "CC7.2",
        "CC7.3",
        "CC7.4",
        "CC8.1",
    ],
    "iso27001": [
        "A.8.15",
        "A.8.16",
        "A.5.15",
        "A.5.16",
        "A.5.18",
        "A.5.25",
        "A.5.26",
        "A.5.28",
        "A.5.33",
        "A.8.2",
        "A.8.17",
    ],
    "hipaa": [
        "164.312(b)",
        "164.308(a)(1)(ii)(D)",
        "164.308(a)(5)(ii)(C)",
        "164.308(a)(6)(ii)",
    ],
    "nist-800-53": [
        "AU-2",
        "AU-3",
        "AU-4",
        "AU-5",
        "AU-6",
        "AU-8",
        "AU-9",
        "AU-9(3)",
        "AU-11",
        "AU-12",
    ],
    "gdpr": [
        "Art. 30",
        "Art. 32",
        "Art. 33",
    ],
}


def test_every_framework_of_the_issue_is_registered_with_its_controls() -> None:
    frameworks = available_frameworks()
    assert set(frameworks) == set(REQUIRED)
    for fid, ids in REQUIRED.items():
        assert [c.id for c in frameworks[fid].controls] == ids


@pytest.mark.parametrize("fid", sorted(REQUIRED))
def test_every_control_has_rules_evidence_and_a_summary(fid: str) -> None:
    rules = available_rules()
    for control in get_framework(fid).controls:
        assert control.rules, control.id
        assert len(control.summary) > 40 and control.title, control.id
        assert control.evidence and set(control.evidence) <= set(available_sections())
        for spec in control.rules:
            assert spec.name in rules
            inspect.signature(rules[spec.name]).bind(None, **spec.params)
            for key in STATUS_PARAMS & spec.params.keys():
                assert spec.params[key] in {s.value for s in Status}
            for cls in spec.params.get("classes", ()):
                assert cls in event_classes()


def test_aliases_and_unknown_names() -> None:
    assert get_framework("NIST").id == "nist-800-53"
    assert get_framework("iso").id == "iso27001"
    with pytest.raises(UsageError, match="unknown framework 'cobit'; known: gdpr"):
        get_framework("cobit")


def test_catalog_mistakes_are_named() -> None:
    with pytest.raises(UsageError, match="unknown rule 'no_such_rule'"):
        _rule_specs({"name": "no_such_rule"}, "x.yaml: controls[0]", available_rules())
    with pytest.raises(UsageError, match="rule 'classes_present'"):
        _rule_specs(
            {"name": "classes_present", "clases": ["login_success"]}, "x.yaml", available_rules()
        )
    with pytest.raises(UsageError, match="unknown event class 'logins'"):
        _rule_specs({"name": "classes_present", "classes": ["logins"]}, "x.yaml", available_rules())


def test_event_class_expressions_agree_with_matches() -> None:
    actions = [
        "user.login",
        "mfa.challenge",
        "document.read",
        "invoice.export",
        "document.update",
        "role.grant",
        "settings.update",
        "audit_log.disable",
        "audit_retention.update",
        "job.run",
        "api_key.create",
        "webhook.add",
    ]
    rows = [
        (a, o, c)
        for a in actions
        for o in ("success", "failure", "denied")
        for c in ("management", "user", "admin", "system")
    ]
    df = pl.DataFrame(rows, schema=["action", "outcome", "category"], orient="row")
    for cls in event_classes().values():
        got = df.with_columns(m=cls.expr())["m"].to_list()
        assert got == [cls.matches(*r) for r in rows], cls.name


def test_summaries_are_our_own_short_words() -> None:
    # no control text copied wholesale from a standard: summaries stay short paraphrases
    for fw in available_frameworks().values():
        for c in fw.controls:
            assert len(c.summary) < 300, (fw.id, c.id)


def test_docs_list_every_framework_control_rule_section_and_class() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "reports.md").read_text()
    for fw in available_frameworks().values():
        assert f"(`{fw.id}`)" in docs, fw.id
        for c in fw.controls:
            assert f"| {c.id} | {c.title} |" in docs, (fw.id, c.id)
    for name in available_rules():
        assert f"| `{name}` |" in docs, name
    for name in available_sections():
        assert f"| `{name}` |" in docs, name
    for name in event_classes():
        assert f"`{name}`" in docs, name
