"""Row-level security: a tenant's database role, with plain SQL, sees and writes
only its own tenant's rows (real roles on the PostgreSQL server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from auditkit.errors import UsageError
from auditkit.store import Store
from tests.access.conftest import build_marked_store
from tests.access.strategies import TENANTS, markers
from tests.conftest import make_events

pytestmark = pytest.mark.postgres
A, B, C, D = TENANTS
TABLES_WITH_TENANT = ("events", "merkle_tiles", "tree_heads", "checkpoints", "purges")


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = build_marked_store(pg_url)
    made: list[str] = []
    store._test_roles = made  # type: ignore[attr-defined]
    yield store
    for name in made:  # roles are cluster-wide: drop them before the database goes
        store.drop_db_role(name)
    store.close()


def make_role(store: Store, tenant: str, *, append: bool = False) -> str:
    name = f"akt_{uuid.uuid4().hex[:10]}"
    role = store.create_db_role(tenant, name=name, append=append)
    store._test_roles.append(name)  # type: ignore[attr-defined]
    return role.url(store.backend.location)


def raw(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def test_tenant_role_sees_only_its_tenant_with_plain_sql(pg_store: Store) -> None:
    url = make_role(pg_store, A)
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        owner.execute("ANALYZE")  # statistics exist: they must not leak either
    with raw(url) as conn:
        for table in TABLES_WITH_TENANT:
            seen = {r[0] for r in conn.execute(f"SELECT DISTINCT tenant_id FROM {table}")}
            assert seen <= {A}, table
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (12,)
        assert conn.execute(
            "SELECT count(*) FROM events WHERE tenant_id = %s", (B,)
        ).fetchone() == (0,)
        # an error that would fire on another tenant's row never fires: policies filter first
        conn.execute(
            "SELECT count(*) FROM events "
            "WHERE 1 / (CASE WHEN tenant_id = %s THEN 0 ELSE 1 END) = 1",
            (B,),
        )
        everything = " ".join(str(r) for r in conn.execute("SELECT * FROM events").fetchall())
        for t in (B, C, D):
            for value in markers(t).values():
                assert value not in everything
        stats = conn.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'events'").fetchone()
        assert stats == (0,)  # column statistics (most common values) are hidden too
        assert conn.execute("SELECT tenant_id FROM access_db_roles").fetchall() == [(A,)]
        for table in (
            "access_principals",
            "access_grants",
            "access_tokens",
            "access_redaction_keys",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT * FROM {table}")
            conn.rollback()


def test_read_only_role_cannot_write_anything(pg_store: Store) -> None:
    url = make_role(pg_store, A)
    attempts = [
        "UPDATE events SET action = 'x.y'",
        "DELETE FROM events",
        "DELETE FROM checkpoints",
        "UPDATE tree_heads SET size = 0",
        "INSERT INTO purges (kind, tenant_id, first_seq, end_seq, tree_size, root_hash, "
        "recorded_at, detail, key_id, signature) "
        "VALUES ('purge', 'tn-alpha', 0, 99, 99, 'x', 't', '', 'k', 's')",
        "INSERT INTO access_grants VALUES ('me', '*', 'operator', 't', 't')",
        "TRUNCATE events",
    ]
    with raw(url) as conn:
        for sql in attempts:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
            conn.rollback()
    assert pg_store.verify().ok


def test_append_role_writes_its_tenant_only_through_the_append_path(pg_store: Store) -> None:
    url = make_role(pg_store, A, append=True)
    tenant_store = Store.open(url, key=pg_store.key_path)
    assert tenant_store.tenants() == [A]
    assert tenant_store.append(make_events(3, A, prefix="new")).stored == 3
    with pytest.raises(Exception, match="row-level security"):
        tenant_store.append(make_events(1, B, prefix="new"))
    with raw(url) as conn:
        for sql in ("UPDATE events SET action = 'x.y'", "UPDATE checkpoints SET tree_size = 0"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no grant, then triggers
                conn.execute(sql)
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM events")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO checkpoints (tenant_id, tree_size, root_hash, timestamp, key_id, "
                "signature) VALUES (%s, 1, 'x', 't', 'k', 's')",
                (B,),
            )
        conn.rollback()
    tenant_store.close()
    assert pg_store.count(A) == 15 and pg_store.count(B) == 12
    assert pg_store.verify().ok


def test_tenant_store_loads_and_verifies_its_tenant(pg_store: Store) -> None:
    url = make_role(pg_store, B)
    mine = Store.open(url, key=pg_store.key_path)
    frame = mine.load()
    assert set(frame["tenant_id"]) == {B} and frame.height == 12
    report = mine.verify()
    assert report.ok and {t.tenant_id for t in report.tenants} == {B}
    mine.close()


def test_db_roles_are_listed_and_named_safely(pg_store: Store) -> None:
    make_role(pg_store, C)
    assert [r.tenant_id for r in pg_store.db_roles()] == [C]
    with pytest.raises(UsageError, match="database role name"):
        pg_store.create_db_role(C, name='x"; DROP TABLE events; --')


def test_sqlite_has_no_database_roles(tmp_path: object) -> None:
    store = Store.init(str(tmp_path) + "/a.db")  # type: ignore[operator]
    with pytest.raises(UsageError, match="SQLite file has no users"):
        store.create_db_role("acme")


def test_a_confined_role_leaves_the_tenant_manifest_as_it_was_and_checks_its_own(
    pg_store: Store,
) -> None:
    """A tenant role may not write store_meta: its appends leave the manifest a lower
    bound that stays true; its whole-store reads check only the tenants it sees; the
    owner's verify still names a tenant removed."""
    before = pg_store._reader.manifest()
    url = make_role(pg_store, A, append=True)
    tenant_store = Store.open(url, key=pg_store.key_path)
    assert tenant_store.append(make_events(2, A, prefix="later")).stored == 2
    assert pg_store._reader.manifest() == before
    assert tenant_store.verify().ok and tenant_store.load().height == 14
    with raw(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE store_meta SET value = '' WHERE key = 'tenant_manifest'")
    tenant_store.close()
    assert pg_store.verify().ok
    pg_store.append(make_events(1, B, prefix="later"))  # the owner grows what it touches
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        for t in ("events", "checkpoints", "tree_heads", "merkle_tiles"):
            owner.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
            owner.execute(f"DELETE FROM {t} WHERE tenant_id = %s", (C,))
    report = pg_store.verify()
    assert [p.kind.value for p in report.problems] == ["vanished"]


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        # forced on the owner, a policy hides a whole tenant from the owner's own verify
        (
            [
                f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY; CREATE POLICY hide_{t} ON {t} "
                f"USING (tenant_id <> '{C}')"
                for t in TABLES_WITH_TENANT
            ],
            "has row-level security forced on its owner",
        ),
        # the store's policy made restrictive: every role outside the group loses a tenant
        (
            [f"CREATE POLICY auditkit_extra ON events AS RESTRICTIVE USING (tenant_id <> '{C}')"],
            "is a row-level security policy on events that the store did not make",
        ),
        # a revocation undone as it is written
        (
            [
                "CREATE FUNCTION keep() RETURNS trigger AS $$ BEGIN NEW.revoked_at := NULL; "
                "RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER keep BEFORE UPDATE ON access_tokens FOR EACH ROW "
                "EXECUTE FUNCTION keep()",
            ],
            "keep is a trigger on access_tokens that the store did not make",
        ),
    ],
    ids=["forced", "restrictive", "trigger"],
)
def test_row_security_and_triggers_the_store_did_not_make_are_named(
    pg_store: Store, edit: list[str], named: str
) -> None:
    """Whoever owns the tables can add policies and triggers without the key. The
    store's own (a tenant role's policies here) are not accused; anything else is."""
    make_role(pg_store, A)
    assert pg_store.verify().ok
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        for statement in edit:
            owner.execute(statement)
    report = Store.open(pg_store.location).verify()
    assert report.status.value == "tampered", report.summary()
    assert any(named in p.detail for p in report.problems), report.summary()


def test_a_store_policy_whose_condition_was_rewritten_is_named(pg_store: Store) -> None:
    """The store's own policy, its condition widened by whoever owns the tables: a
    tenant role then reads every tenant.  Its name and roles are the store's; its
    condition is compared with the store's as this database writes it."""
    url = make_role(pg_store, A)
    assert pg_store.verify().ok
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        owner.execute("ALTER POLICY auditkit_tenant ON events USING (true)")
    with raw(url) as conn:
        seen = {r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM events")}
    assert seen > {A}  # the damage: the role reads other tenants
    report = Store.open(pg_store.location).verify()
    assert report.status.value == "tampered", report.summary()
    assert any(
        "auditkit_tenant is a row-level security policy on events whose condition is not"
        in p.detail
        for p in report.problems
    ), report.summary()


def test_a_mapping_row_for_no_real_appender_keeps_the_rollback_check(pg_store: Store) -> None:
    """A tenant role that may append leaves the tenant manifest as it was, so verify
    cannot hold a stale manifest against the store; a row inserted into the unsigned
    ``access_db_roles`` for a role that does not exist must not switch that off."""
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        owner.execute(
            "INSERT INTO access_db_roles (role_name, tenant_id, can_append, created_at) "
            "VALUES ('auditkit_x_000000', %s, true, '2026-12-07T00:00:00Z')",
            (A,),
        )
    assert Store.open(pg_store.location)._reader.manifest_kept_by_all()
    make_role(pg_store, A, append=True)
    assert not Store.open(pg_store.location)._reader.manifest_kept_by_all()


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ("UPDATE access_db_roles SET tenant_id = %s WHERE role_name = %s", "not the store key"),
        ("UPDATE access_db_roles SET can_append = true WHERE role_name = %s", "not the store key"),
    ],
    ids=["remapped", "append"],
)
def test_a_tenant_role_remapped_or_widened_in_the_table_is_named(
    pg_store: Store, edit: str, why: str
) -> None:
    """Row-level security reads ``access_db_roles``: whoever owns the tables can point
    a tenant's role at another tenant without the key.  The server honours the row (it
    cannot check a signature), so the signature makes verify name it."""
    url = make_role(pg_store, A)
    name = pg_store.db_roles()[0].name
    assert pg_store.verify().ok
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        owner.execute(edit, (B, name) if "tenant_id" in edit else (name,))
    if "tenant_id" in edit:
        with raw(url) as conn:  # the damage: the role now reads B
            assert {r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM events")} == {B}
    report = Store.open(pg_store.location).verify()
    assert report.status.value == "tampered", report.summary()
    assert any(
        p.kind.value == "access_altered"
        and f"access_db_roles row (role_name {name!r})" in p.detail
        and why in p.detail
        for p in report.problems
    ), report.summary()


def test_a_dropped_roles_row_put_back_for_a_role_made_again_is_named(pg_store: Store) -> None:
    """The row of a dropped role, signed when it was made, put back beside a role of
    the same name made again by whoever may create roles: its signature is revoked."""
    make_role(pg_store, A)
    name = pg_store.db_roles()[0].name
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        (row,) = owner.execute(
            "SELECT role_name, tenant_id, can_append, created_at, signature FROM access_db_roles"
        ).fetchall()
    pg_store.drop_db_role(name)
    pg_store._test_roles.remove(name)  # type: ignore[attr-defined]
    assert pg_store.verify().ok
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        owner.execute(f'CREATE ROLE "{name}" LOGIN IN ROLE auditkit_tenant')
        try:
            owner.execute(
                "INSERT INTO access_db_roles "
                "(role_name, tenant_id, can_append, created_at, signature) "
                "VALUES (%s, %s, %s, %s, %s)",
                row,
            )
            report = Store.open(pg_store.location).verify()
        finally:
            owner.execute("DELETE FROM access_db_roles WHERE role_name = %s", (name,))
            owner.execute(f'DROP ROLE "{name}"')
    assert report.status.value == "tampered", report.summary()
    assert any("revoked" in p.detail and name in p.detail for p in report.problems)


def test_a_rule_rewriting_the_store_s_writes_is_named(pg_store: Store) -> None:
    """A rule does what a trigger does: ``DO INSTEAD NOTHING`` on the quarantine made
    the owner's ingest say "quarantined 2" and keep none, and the seal then sealed the
    loss."""
    assert pg_store.verify().ok
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        owner.execute(
            "CREATE RULE drop_mine AS ON INSERT TO quarantine "
            "WHERE NEW.record LIKE '%mallory%' DO INSTEAD NOTHING"
        )
    report = Store.open(pg_store.location).verify()
    assert report.status.value == "tampered", report.summary()
    assert any(
        "drop_mine is a rule on quarantine that the store did not make" in p.detail
        for p in report.problems
    ), report.summary()


def test_a_view_ahead_of_a_store_table_on_the_search_path_is_named(pg_store: Store) -> None:
    """A schema named after the connecting user comes first on PostgreSQL's default
    search_path: a view there passes the store's reads and writes through to its
    table, while the checks looked at the view's schema (a trigger on the real
    quarantine went unseen)."""
    assert pg_store.verify().ok
    with psycopg.connect(pg_store.backend.adbc_uri, autocommit=True) as owner:
        (user,) = owner.execute("SELECT current_user").fetchone()
        owner.execute(f'CREATE SCHEMA "{user}"')
        owner.execute(f'CREATE VIEW "{user}".quarantine AS SELECT * FROM public.quarantine')
    report = Store.open(pg_store.location).verify()
    assert report.status.value == "tampered", report.summary()
    assert any(
        p.detail.startswith("quarantine is not a table of the store's schema")
        and repr(user) in p.detail
        for p in report.problems
    ), report.summary()
