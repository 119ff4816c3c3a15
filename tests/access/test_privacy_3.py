"""Privacy of a redacted reader, third round: personal data that slipped past the
redaction (addresses in unusual forms and in fields it did not search), quarantine
counts of other tenants in a one-tenant report, and passwords in store locations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import auditkit
from auditkit.access import redact_frame, redact_secrets
from auditkit.errors import AccessDenied
from auditkit.export import export_frame
from auditkit.frame import events_to_frame
from auditkit.reports import build_report, redact_location
from auditkit.store import Store

KEY = "k" * 64

#: Personal data in the forms the redaction missed, each with where it is put.
HIDDEN = {
    "unicode": "jörg@bücher.de",
    "punycode": "xn--jrg-wna@xn--bcher-kva.de",
    "quoted": '"john doe"@example.com',
    "no-dot": "root@localhost",
    "padded": "010.001.002.003",
    "mapped": "::ffff:10.0.0.1",
    "v6": "2001:db8::7",
    "zone": "fe80::1%eth0",
    "encoded": "jane%40acme.com",
    "ipv4": "10.9.8.7",
    "full-v6": "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    "hex-v4": "0x0a.0x00.0x00.0x01",
}


def tricky_event(tenant: str = "acme", n: int = 0) -> dict[str, Any]:
    """An event hiding each form of :data:`HIDDEN` in a field a redacted reader sees."""
    h = HIDDEN
    return {
        "tenant_id": tenant,
        "event_id": f"tricky-{n}",
        "occurred_at": "2026-01-05T09:00:00Z",
        "action": "user.login",
        "actor": {
            "id": h["unicode"],
            "name": f"Jörg <{h['punycode']}>",
            "email": "ann@example.com",
            "roles": [f"admin {h['no-dot']}"],
        },
        "targets": [
            {
                "id": f"https://x.example/?u={h['encoded']}",
                "type": f"host {h['ipv4']}",
                "name": h["quoted"],
            }
        ],
        "source": {"ip": h["ipv4"], "user_agent": f"curl/8 via [{h['v6']}]:443"},
        "observer": {"service": f"gw {h['zone']}", "region": h["padded"]},
        "description": f"login by {h['quoted']} from {h['mapped']} ({h['full-v6']})",
        "metadata": {
            h["unicode"]: {"nested": h["no-dot"], "hex": h["hex-v4"]},
            "raw": json.dumps({"user": h["unicode"], "ip": h["padded"]}, ensure_ascii=True),
            "url": f"http://{h['ipv4']}:8080/login?email={h['encoded']}",
        },
        "changes": {"before": {h["no-dot"]: "x"}, "after": {h["no-dot"]: "y"}},
    }


def _leaks(text: str) -> list[str]:
    escaped = json.dumps(HIDDEN["unicode"], ensure_ascii=True).strip('"')  # j\u00f6rg@...
    found = [k for k, v in HIDDEN.items() if v in text]
    found += ["ascii-escaped"] if escaped in text or escaped.replace("\\", "\\\\") in text else []
    found += [w for w in ("jörg@", "jorg@", "john doe", "root@", "jane%40", "jane@") if w in text]
    return found


def _frame_text(frame: pl.DataFrame) -> str:
    return json.dumps(frame.to_dicts(), default=str, ensure_ascii=False)


@pytest.mark.parametrize("form", ["encoded", "hex-v4", "no-dot", "padded", "quoted", "unicode"])
def test_each_form_of_an_address_is_redacted_in_free_text(form: str) -> None:
    frame = events_to_frame(
        [{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "x.y",
          "actor": {"id": "u1"}, "description": f"seen: {HIDDEN[form]}, then gone"}]
    )  # fmt: skip
    out = redact_frame(frame, {"acme": KEY})
    text = out["description"][0]
    assert HIDDEN[form] not in text and "hmac:" in text, text
    assert text.startswith("seen: ") and text.endswith(", then gone")


def test_every_field_a_redacted_reader_sees_is_searched() -> None:
    out = redact_frame(events_to_frame([tricky_event()]), {"acme": KEY})
    text = _frame_text(out)
    assert _leaks(text) == [], text
    row = out.row(0, named=True)
    assert row["event_id"] == "tricky-0" and row["tenant_id"] == "acme"
    assert row["actor_name"].startswith("Jörg <hmac:")  # the name stays, the address goes


def test_an_address_hashes_the_same_whatever_its_encoding() -> None:
    frame = events_to_frame(
        [{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "x.y",
          "actor": {"id": actor}, "description": "d"}
         for actor in ("jane@acme.com", "jane%40acme.com")]
    )  # fmt: skip
    out = redact_frame(frame, {"acme": KEY})
    first, second = out["actor_id"].to_list()
    assert first == second and first.startswith("hmac:")


def test_words_that_only_look_like_addresses_are_kept() -> None:
    text = "at 10:30:00 std::abs ran on arn:aws:s3:::bucket, uuid 550e8400-e29b-41d4-a716"
    frame = events_to_frame(
        [{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "x.y",
          "actor": {"id": "u1"}, "description": text}]
    )  # fmt: skip
    assert redact_frame(frame, {"acme": KEY})["description"][0] == text


@pytest.fixture
def tricky(tmp_path: Path) -> Store:
    store = Store.init(str(tmp_path / "audit.db"))
    store.append([tricky_event("acme", n) for n in range(3)] + [tricky_event("globex", 9)])
    store.add_principal("ann")
    store.grant("ann", "acme", "analyst")
    return store


def test_every_way_out_of_a_bound_handle_is_redacted(tricky: Store, tmp_path: Path) -> None:
    ann = tricky.bind(principal="ann")
    assert _leaks(_frame_text(ann.load("acme"))) == []
    assert _leaks(_frame_text(ann.scan("acme").collect())) == []
    assert _leaks(_frame_text(pl.concat(list(ann.iter_verified("acme"))))) == []
    assert _leaks(_frame_text(auditkit.query(ann, "SELECT * FROM events"))) == []
    for fmt in ("csv", "ndjson", "json", "cef", "ecs"):
        out = tmp_path / f"out.{fmt}"
        export_frame(ann.load("acme"), out, format=fmt)
        assert _leaks(out.read_text(encoding="utf-8")) == [], fmt
    rep = build_report(ann, framework="soc2", tenant="acme", period="2026-01-01..2026-01-31")
    for fmt in ("json", "md", "html", "csv"):
        body = rep.render(fmt)
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        assert _leaks(text) == [], fmt


# -- quarantine counts of a one-tenant report ----------------------------------------------


def test_a_one_tenant_report_shows_no_store_wide_quarantine(tricky: Store) -> None:
    tricky.quarantine(
        [{"file": "globex-okta.json", "line": n, "field": "published", "reason": "bad",
          "record": "{}"} for n in range(7)]
    )  # fmt: skip
    ann = tricky.bind(principal="ann")
    with pytest.raises(AccessDenied, match="store-wide"):
        ann.quarantine_counts()
    period = "2026-01-01.."  # to today (UTC): the quarantine's rows are of today
    rep = build_report(ann, framework="pci-dss", tenant="acme", period=period)
    section = rep.section("completeness")
    assert section.facts["quarantined"] == "not shown for one tenant"
    assert section.table("quarantine").frame.height == 0
    text = rep.render("md")
    text = text.decode() if isinstance(text, bytes) else str(text)
    assert "7 record(s)" not in text and "7 were quarantined" not in text
    assert "not shown for one tenant" in text
    # the owner and a store-wide operator still count them
    owner = build_report(tricky, framework="pci-dss", tenant="acme", period=period)
    assert owner.section("completeness").facts["quarantined"] == 7
    tricky.add_principal("op")
    tricky.grant("op", "*", "operator")
    op = tricky.bind(principal="op")
    assert sum(op.quarantine_counts().values()) == 7


def test_an_operator_token_confined_to_one_tenant_gets_no_store_wide_counts(
    tricky: Store,
) -> None:
    tricky.add_principal("op")
    tricky.grant("op", "*", "operator")
    token = tricky.create_token("op", tenants=["acme"])
    with pytest.raises(AccessDenied):
        tricky.bind(token=token.text).quarantine_counts()


# -- secrets in locations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "postgresql://db/audit?sslmode=require&password=s3cretpw",
        "postgresql://:s3cretpw@db/audit",
        "postgresql://app:s3c@retpw@db/audit",
        "host=db user=app password=s3cretpw dbname=audit",
    ],
)
def test_a_store_location_in_a_report_carries_no_password(location: str) -> None:
    shown = redact_location(location)
    assert "s3c" not in shown and "retpw" not in shown, shown
    assert "s3c" not in redact_secrets(location)


def test_a_token_secret_is_cut_from_text() -> None:
    token = "akt_0123456789ab_" + "S" * 43
    assert redact_secrets(f"bad header {token}") == "bad header akt_0123456789ab_***"


def test_cli_one_line_drops_query_passwords() -> None:
    from auditkit.cli import one_line

    text = one_line("postgresql://db/audit?password=s3cretpw: connection refused")
    assert "s3cretpw" not in text
