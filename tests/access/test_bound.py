"""A principal's store handle: every path checked, redacted and recorded."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from auditkit.access import parse_token, redaction_of
from auditkit.errors import AccessDenied, StoreError
from auditkit.store import Store
from auditkit.store._bound import BoundStore
from tests.access.strategies import SECRET_KEYS, TENANTS, markers

A, B, C, D = TENANTS
Person = Callable[..., Store]

#: Public Store members a principal's handle may inherit unchanged (no data of a tenant).
HARMLESS = {
    "close", "init", "open", "trusted_public_key", "private_key", "principal", "location",
    "path", "trust", "public_key_path", "keep_connections",
}  # fmt: skip


def text_of(frame: pl.DataFrame) -> str:
    return frame.write_ndjson()


def records(store: Store, tenant: str, action: str | None = None) -> pl.DataFrame:
    df = store.load(tenant).filter(pl.col("action").str.starts_with("audit_log."))
    return df.filter(pl.col("action") == action) if action else df


def test_every_public_store_method_is_guarded_or_harmless() -> None:
    missing = []
    for name, _member in inspect.getmembers(Store):
        if name.startswith("_") or name in HARMLESS:
            continue
        if name not in BoundStore.__dict__:
            missing.append(name)
    assert not missing, f"Store members a principal's handle inherits unchecked: {missing}"


def test_streamed_chunks_are_redacted_and_the_read_recorded(
    marked_store: Store, person: Person
) -> None:
    ann = person(marked_store, "ann", tn_alpha="analyst")
    m = markers(A)
    streamed = pl.concat(list(ann.iter_verified(A)))
    assert streamed.height > 0 and m["name"] in text_of(streamed)
    for k in SECRET_KEYS:
        assert m[k] not in text_of(streamed), k
    reads = records(marked_store, A, "audit_log.read")
    assert "iter_verified" in text_of(reads)


def test_analyst_reads_redacted_auditor_raw(marked_store: Store, person: Person) -> None:
    ann = person(marked_store, "ann", tn_alpha="analyst")
    aud = person(marked_store, "aud", tn_alpha="auditor")
    m = markers(A)
    red, raw = ann.load(A), aud.load(A)
    assert red.height + 1 == raw.height  # ann's read is on the record
    assert m["name"] in text_of(red)  # the events are there ...
    for k in SECRET_KEYS:  # ... without their personal data
        assert m[k] not in text_of(red), k
        assert m[k] in text_of(raw), k
    assert red["source_ip"].drop_nulls().str.starts_with("hmac:").all()
    assert red["metadata"].str.contains('"auditkit_redaction"').all()
    assert redaction_of(red) is not None and redaction_of(raw) is None
    # keyed hashes join: equal values, equal hashes; the same e-mail hashes alike wherever it is
    email_hash = red.filter(pl.col("actor_email").is_not_null())["actor_email"].unique()
    assert email_hash.len() == 1
    assert red.filter(pl.col("actor_id").str.starts_with("hmac:"))[
        "actor_id"
    ].unique().to_list() == (email_hash.to_list())
    changed = red.filter(pl.col("changes").is_not_null())["changes"].to_list()
    assert changed and all('"before":{"role":"hmac:' in c for c in changed)


def test_keys_are_per_tenant(sqlite_marked: Store, person: Person) -> None:
    sqlite_marked.append(
        [{"tenant_id": t, "occurred_at": "2026-02-01T00:00:00Z", "action": "user.login",
          "actor": {"id": "same", "email": "same@example.com"}} for t in (A, B)]
    )  # fmt: skip
    ann = person(sqlite_marked, "ann", tn_alpha="viewer", tn_bravo="viewer")
    df = ann.load([A, B]).filter(pl.col("actor_id") == "same")
    assert df["actor_email"].n_unique() == 2


def test_denied_tenant_raises_is_recorded_and_reveals_nothing(
    marked_store: Store, person: Person
) -> None:
    ann = person(marked_store, "ann", tn_alpha="viewer")
    with pytest.raises(AccessDenied, match=f"may not read on tenant '{B}': needs permission"):
        ann.load([A, B])
    with pytest.raises(AccessDenied):
        ann.load("no-such-tenant")
    denied = records(marked_store, B, "audit_log.access_denied")
    assert denied.height == 1 and denied["actor_id"].item() == "ann"
    assert denied["outcome"].item() == "denied"
    assert "no-such-tenant" not in marked_store.tenants()  # a made-up name makes no trail
    assert ann.tenants() == [A]
    assert ann.count() == marked_store.count(A)
    assert set(ann.latest_checkpoints()) == {A}
    assert {c.tenant_id for c in ann.checkpoints()} == {A}
    doc = ann.export_checkpoints()
    assert {c["tenant_id"] for c in doc["checkpoints"]} == {A}
    assert ann.verify().tenants and {t.tenant_id for t in ann.verify().tenants} == {A}
    with pytest.raises(AccessDenied):
        ann.count(B)
    with pytest.raises(AccessDenied):
        ann.checkpoints(B)
    with pytest.raises(AccessDenied, match="needs permission 'prove'"):
        ann.inclusion_proof(A, 0)
    with pytest.raises(AccessDenied):
        ann.read_rows("1 = 1")
    with pytest.raises(AccessDenied):
        ann.bind(principal="aud")


def test_no_role_at_all_is_an_error_not_an_empty_result(marked_store: Store) -> None:
    marked_store.add_principal("nobody")
    nobody = marked_store.bind(principal="nobody")
    with pytest.raises(AccessDenied, match="may not read on any tenant"):
        nobody.load()
    assert nobody.tenants() == []


def test_every_read_is_recorded_and_the_trail_still_verifies(
    marked_store: Store, person: Person, tmp_path: Path
) -> None:
    aud = person(marked_store, "aud", tn_alpha="auditor")
    before = records(marked_store, A).height
    aud.load(A, start="2026-01-05T08:00:00Z", end="2026-01-05T08:05:00Z")
    aud.scan(A, folder=tmp_path / "scan").collect()
    aud.verify_and_load(A)
    aud.inclusion_proof(A, 2)
    with aud.activity("export", format="csv") as act:
        frame = aud.load(A)
        act.returned(frame.head(3))
    recs = records(marked_store, A).filter(pl.col("actor_id") == "aud")
    assert recs.height == records(marked_store, A).height - before == 5
    meta = [__import__("orjson").loads(m) for m in recs["metadata"]]
    assert [m["operation"] for m in meta] == ["load", "scan", "verify_and_load", "prove", "export"]
    assert meta[0]["filter"]["start"].startswith("2026-01-05T08:00") and meta[0]["rows"] == 5
    assert meta[-1]["rows"] == 3 and meta[-1]["filter"] == {"format": "csv", "tenant": A}
    assert recs["action"].to_list()[-1] == "audit_log.export"
    assert marked_store.verify().ok


def test_reading_only_read_records_is_recorded_once(marked_store: Store, person: Person) -> None:
    aud = person(marked_store, "aud", tn_alpha="auditor")
    size = marked_store.count(A)
    aud.load(A)  # recorded: one new record at seq `size`
    assert marked_store.count(A) == size + 1
    aud.load(A, seqs=(size, size + 1))  # only that record: not recorded again
    assert marked_store.count(A) == size + 1
    empty = aud.load(A, seqs=(size + 5, size + 9))  # an empty answer is a look too
    assert empty.height == 0 and marked_store.count(A) == size + 2


def test_who_is_asking_is_read_in_one_connection(
    marked_store: Store, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    person(marked_store, "ann", tn_alpha="viewer")
    tok = marked_store.create_token("ann", scopes=["read"])
    opened: list[int] = []
    real = type(marked_store.backend).connect

    def counted(self: object) -> object:
        opened.append(1)
        return real(self)  # type: ignore[arg-type]

    monkeypatch.setattr(type(marked_store.backend), "connect", counted)
    bound = marked_store.bind(token=tok.text)  # the token, the principal, its grants
    assert len(opened) == 1
    bound.context()
    assert len(opened) == 2
    marked_store.revoke_token(tok.token_id)  # a later check still reads it afresh
    with pytest.raises(AccessDenied, match="invalid, expired or revoked token"):
        bound.context()


def test_a_handle_bound_once_reads_who_is_asking_once(
    marked_store: Store, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API request's handle: its checks cost no read, a revocation applies from the
    next handle, and what the grants allow stays what they allowed when bound."""
    person(marked_store, "ann", tn_alpha="viewer")
    tok = marked_store.create_token("ann", scopes=["read"])
    opened: list[int] = []
    real = type(marked_store.backend).connect

    def counted(self: object) -> object:
        opened.append(1)
        return real(self)  # type: ignore[arg-type]

    monkeypatch.setattr(type(marked_store.backend), "connect", counted)
    bound = marked_store.bind(token=tok.text, once=True)
    assert len(opened) == 1
    bound.context()
    assert bound.authorize("read", A) == (A,)
    assert len(opened) == 1  # no read of the token or the grants after binding
    with pytest.raises(AccessDenied, match="may not write"):
        bound.authorize("write", A)  # the pinned grants still limit it
    monkeypatch.undo()
    marked_store.revoke_token(tok.token_id)
    bound.context()  # this request's handle was checked when it began
    with pytest.raises(AccessDenied, match="invalid, expired or revoked token"):
        marked_store.bind(token=tok.text, once=True)  # the next request's is refused


def test_revocation_applies_at_once(marked_store: Store, person: Person) -> None:
    ann = person(marked_store, "ann", tn_alpha="viewer")
    ann.load(A)
    marked_store.revoke("ann", A, "viewer")
    with pytest.raises(AccessDenied):
        ann.load(A)
    marked_store.grant("ann", A, "viewer")
    tok = marked_store.create_token("ann", scopes=["read"])
    by_token = marked_store.bind(token=tok.text)
    assert by_token.load(A).height
    marked_store.revoke_token(tok.token_id)
    with pytest.raises(AccessDenied, match="invalid, expired or revoked token"):
        by_token.load(A)
    with pytest.raises(AccessDenied, match="invalid, expired or revoked token"):
        marked_store.bind(token=tok.text)
    changes = ["role.grant", "role.revoke", "api_key.create", "api_key.revoke"]
    acts = marked_store.load(A).filter(
        pl.col("action").is_in(changes) & (pl.col("observer_service") == "auditkit")
    )
    assert acts["action"].to_list() == [
        "role.grant", "role.revoke", "role.grant", "api_key.create", "api_key.revoke"
    ]  # fmt: skip
    assert set(acts["target_id"]) == {"ann"}
    assert acts.filter(pl.col("action") == "api_key.create")["metadata"].item().count(tok.token_id)


def test_expired_token_is_refused(sqlite_marked: Store, person: Person) -> None:
    import time

    from auditkit.errors import UsageError

    person(sqlite_marked, "ann", tn_alpha="viewer")
    with pytest.raises(UsageError, match="expired already"):  # no token expired at birth
        sqlite_marked.create_token("ann", expires="0s")
    tok = sqlite_marked.create_token("ann", expires="1s")
    time.sleep(1.1)
    with pytest.raises(AccessDenied, match="invalid, expired or revoked"):
        sqlite_marked.bind(token=tok.text)


def test_token_secret_is_not_in_the_database(sqlite_marked: Store, person: Person) -> None:
    person(sqlite_marked, "ann", tn_alpha="viewer")
    tok = sqlite_marked.create_token("ann")
    secret = parse_token(tok.text)[1].encode()
    assert sqlite_marked.backend.path is not None
    db = Path(sqlite_marked.backend.path)
    files = [db, *db.parent.glob("*-wal")]
    assert all(secret not in f.read_bytes() for f in files)
    assert sqlite_marked.bind(token=tok.text).load(A).height


def test_producer_writes_viewer_may_not(marked_store: Store, person: Person) -> None:
    prod = person(marked_store, "prod", tn_alpha="producer")
    ev = {"tenant_id": A, "occurred_at": "2026-02-01T00:00:00Z", "action": "user.login",
          "actor": {"id": "u9"}}  # fmt: skip
    assert prod.append([ev]).stored == 1
    with pytest.raises(AccessDenied, match="needs permission 'read'"):
        prod.load(A)
    with pytest.raises(AccessDenied, match="needs permission 'write'"):
        prod.append([{**ev, "tenant_id": B}])
    viewer = person(marked_store, "vi", tn_alpha="viewer")
    with pytest.raises(AccessDenied, match="needs permission 'write'"):
        viewer.append([{**ev, "event_id": "other"}])
    assert records(marked_store, A, "audit_log.access_denied")["actor_id"].to_list() == [
        "prod",
        "vi",
    ]


def test_admin_manages_its_tenant_only(marked_store: Store, person: Person) -> None:
    adm = person(marked_store, "adm", tn_alpha="admin")
    marked_store.add_principal("new")
    adm.grant("new", A, "analyst")
    with pytest.raises(AccessDenied, match="may not grant or revoke role 'owner'"):
        adm.grant("new", A, "owner")
    with pytest.raises(AccessDenied, match=f"tenant '{B}'"):
        adm.grant("new", B, "viewer")
    with pytest.raises(AccessDenied, match="store-wide"):
        adm.grant("new", "*", "operator")
    grants = marked_store.load(A).filter(pl.col("action") == "role.grant")
    assert grants["actor_id"].to_list()[-1] == "adm"
    assert {g.principal_id for g in adm.grants()} == {"adm", "new"}
    tok = adm.create_token("new", tenants=[A])
    assert marked_store.bind(token=tok.text).tenants() == [A]
    with pytest.raises(AccessDenied):
        adm.create_db_role(A)


def test_operator_sees_every_tenant_and_every_read_is_in_that_tenant_trail(
    marked_store: Store, person: Person
) -> None:
    op = person(marked_store, "op")
    marked_store.grant("op", "*", "operator")
    assert op.tenants() == sorted(TENANTS)
    op.load()
    for t in TENANTS:
        assert records(marked_store, t, "audit_log.read")["actor_id"].to_list() == ["op"]
    with pytest.raises(AccessDenied, match="needs permission 'export'"), op.activity("export"):
        op.load(A)


def test_concurrent_reads_all_recorded(sqlite_marked: Store, person: Person) -> None:
    aud = person(sqlite_marked, "aud", tn_alpha="auditor")
    before = sqlite_marked.count(A)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            aud.load(A, columns=["seq", "action"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sqlite_marked.count(A) == before + 12
    assert sqlite_marked.verify().ok


def test_nothing_leaves_when_the_record_cannot_be_written(
    sqlite_marked: Store, person: Person, tmp_path: Path
) -> None:
    person(sqlite_marked, "aud", tn_alpha="auditor")
    keyless = Store.open(sqlite_marked.backend.location, key=tmp_path / "missing.key")
    aud = keyless.bind(principal="aud")
    with pytest.raises(StoreError, match="cannot record this access"):
        aud.load(A)
