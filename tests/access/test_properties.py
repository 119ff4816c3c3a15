"""Property: for any principal, grants and token, no path returns an event, a name,
an e-mail or a count of a tenant where the principal may not read it, and every
path redacts for the roles that need it."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings

from auditkit.access import AccessContext, Grant, Permission, Principal, Role, check
from auditkit.analytics.detectors.registry import run_detectors
from auditkit.errors import AccessDenied
from auditkit.export import available_export_formats, export_frame
from auditkit.store import Store
from auditkit.widgets import Explorer, FindingsBrowser, IntegrityPanel
from tests.access.conftest import build_marked_store
from tests.access.strategies import SECRET_KEYS, TENANTS, grant_sets, markers

_ids = itertools.count()
#: Permissions that return a tenant's events or what is derived from them.
CONTENT = (
    Permission.READ,
    Permission.EXPORT,
    Permission.REPORT,
    Permission.DETECT,
    Permission.PROVE,
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_marked_store(str(tmp_path_factory.mktemp("prop") / "audit.db"))


def file_text(path: Path) -> str:
    if path.suffix == ".parquet":
        return pl.read_parquet(path).write_ndjson()
    return path.read_bytes().decode("utf-8", "replace")


def outputs(store: Store, folder: Path) -> tuple[list[str], dict[str, int]]:
    """Everything each path returns (as text), and the counts it reports."""
    out: list[str] = []
    counts: dict[str, int] = {}

    def attempt(fn: Any) -> Any:
        try:
            return fn()
        except AccessDenied:
            return None

    n = attempt(lambda: store.count())  # first: the reads below add records
    if n is not None:
        counts["count"] = n
    frame = attempt(lambda: store.load())
    if frame is not None:
        out.append(frame.write_ndjson())
    lf = attempt(lambda: store.scan(folder=folder / "scan"))
    if lf is not None:
        out.append(lf.collect().write_ndjson())
    pair = attempt(lambda: store.verify_and_load())
    if pair is not None:
        out += [str(pair[0].to_dict()), pair[1].write_ndjson()]
    report = attempt(lambda: store.verify())
    if report is not None:
        out.append(str(report.to_dict()))
    out.append(str(store.tenants()))
    out.append(str(attempt(lambda: [c.to_dict() for c in store.checkpoints()])))
    out.append(
        str(attempt(lambda: {t: c.to_dict() for t, c in store.latest_checkpoints().items()}))
    )
    out.append(str(attempt(lambda: store.export_checkpoints())))
    for t in TENANTS:
        out.append(str(attempt(lambda t=t: store.inclusion_proof(t, 1).to_dict())))
        out.append(str(attempt(lambda t=t: store.consistency_proof(t, 1).to_dict())))
        out.append(str(attempt(lambda t=t: store.leaf_hashes(t).hex())))

    def exported() -> list[str]:
        texts = []
        with store.activity("export", format="all"):
            events = store.load()
        for name in available_export_formats():
            target = folder / f"export{available_export_formats()[name].suffix}"
            export_frame(events, target, format=name)
            texts.append(file_text(target))
        return texts

    out += attempt(exported) or []

    def detected() -> str:
        with store.activity("detect"):
            events = store.load()
        return run_detectors(events).write_ndjson()

    text = attempt(detected)
    if text is not None:
        out.append(text)
    return out, counts


def _ctx(spec: dict[str, Any]) -> AccessContext:
    grants = [Grant("p", t, r) for t, roles in spec["grants"].items() for r in roles]
    if spec["operator"]:
        grants.append(Grant("p", "*", Role.OPERATOR))
    return AccessContext(
        Principal("p"),
        tuple(grants),
        scopes=spec["scopes"] if spec["use_token"] else None,
        tenants=spec["token_tenants"] if spec["use_token"] else None,
    )


def readable(spec: dict[str, Any]) -> tuple[dict[str, bool], set[str]]:
    """Tenant -> redacted?, for the tenants whose events (or what is derived from
    them) the principal may get; and the tenants where it holds any permission
    (whose names it may see)."""
    ctx = _ctx(spec)
    out: dict[str, bool] = {}
    for t in TENANTS:
        for perm in CONTENT:
            try:
                out[t] = check(ctx, perm, t).redacted
            except AccessDenied:
                continue
    return out, {t for t in TENANTS if ctx.permissions_on(t)}


def readers(spec: dict[str, Any]) -> set[str]:
    """The tenants the principal may ``read`` (load, count)."""
    return {t for t in TENANTS if Permission.READ in _ctx(spec).permissions_on(t)}


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=grant_sets())
def test_no_path_leaks_another_tenant_or_unredacted_data(
    shared_store: Store, spec: dict[str, Any]
) -> None:
    pid = f"p{next(_ids)}"
    shared_store.add_principal(pid)
    for t, roles in spec["grants"].items():
        for r in roles:
            shared_store.grant(pid, t, r)
    if spec["operator"]:
        shared_store.grant(pid, "*", "operator")
    if spec["use_token"]:
        tok = shared_store.create_token(
            pid,
            scopes=[p.value for p in spec["scopes"]] if spec["scopes"] is not None else None,
            tenants=spec["token_tenants"],
        )
        handle = shared_store.bind(token=tok.text)
    else:
        handle = shared_store.bind(principal=pid)
    visible, named = readable(spec)
    may_read = readers(spec)
    expected_count = sum(shared_store.count(t) for t in may_read)
    with tempfile.TemporaryDirectory() as tmp:
        texts, counts = outputs(handle, Path(tmp))
    blob = "\n".join(texts)
    for t in TENANTS:
        m = markers(t)
        if t not in visible:
            for k, v in m.items():
                assert v not in blob, (t, k)
            if t not in named:
                assert f"'{t}'" not in blob and f'"{t}"' not in blob, t
        elif visible[t]:
            for k in SECRET_KEYS:
                assert m[k] not in blob, (t, k)
    if "count" in counts:
        assert counts["count"] == expected_count
    for t in TENANTS:  # asking for a tenant by name: data, or a denial, never silence
        try:
            got = handle.load(t)
        except AccessDenied:
            assert t not in may_read
        else:
            assert t in may_read and got.height > 0


def test_widgets_and_reports_redact_and_confine(
    sqlite_marked: Store, person: Any, tmp_path: Path
) -> None:
    from auditkit.reports import build_report

    ann = person(sqlite_marked, "ann", tn_alpha="analyst")
    m, other = markers(TENANTS[0]), markers(TENANTS[1])
    explorer = Explorer.from_store(ann, export_dir=tmp_path)
    html = explorer.table.value + explorer.top_actions.value + explorer.timeline.value
    browser = FindingsBrowser(ann.load())
    html += str(browser.findings.to_dicts())
    panel = IntegrityPanel(ann)
    html += str(panel._repr_mimebundle_())
    report = build_report(ann, framework="soc2")
    html += report.render("md").decode() + report.render("json").decode()
    for k in SECRET_KEYS:
        assert m[k] not in html, k
    for v in other.values():
        assert v not in html
    assert "auditkit_redaction" in report.render("json").decode() or "hmac:" in html
