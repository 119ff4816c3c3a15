"""What an attacker with write access to the database (but not the key) does:
plain SQL on the store's tables, with or without the immutability triggers."""

from __future__ import annotations

from typing import Any

from auditkit import Store

TRIGGERS = (
    "events_no_update",
    "events_no_delete",
    "checkpoints_no_update",
    "checkpoints_no_delete",
    "purges_no_change",
    "purges_no_delete",
)


def sql(
    store: Store,
    *statements: str,
    params: tuple[Any, ...] = (),
    drop_triggers: bool = True,
) -> None:
    """Run ``statements`` as the attacker (``?`` placeholders on both backends)."""
    backend = store.backend
    with backend.connect() as conn:
        cur = conn.cursor()
        if drop_triggers:
            if backend.dialect == "sqlite":
                for t in TRIGGERS:
                    cur.execute(f"DROP TRIGGER IF EXISTS {t}")
            else:
                for table in ("events", "checkpoints", "purges"):
                    cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for s in statements:
            if backend.dialect != "sqlite":
                s = s.replace("?", "%s")
            cur.execute(s, params) if params else cur.execute(s)
        conn.commit()


def blob_literal(store: Store, data: bytes) -> str:
    """A SQL literal for ``data`` on the store's backend."""
    if store.backend.dialect == "sqlite":
        return f"x'{data.hex()}'"
    return f"decode('{data.hex()}', 'hex')"


def _varint(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """SQLite's variable-length integer at ``at``: (value, where the next field starts)."""
    value = 0
    for k in range(9):
        byte = data[at + k]
        if k == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, at + k + 1
    raise AssertionError("unreachable")


def _serial_size(serial: int) -> int:
    fixed = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8, 8: 0, 9: 0}
    return fixed.get(serial, (serial - 12) // 2 if serial >= 12 else 0)


def repoint_index_entry(path: str, index: str, key: str, rowid: int) -> None:
    """Edit the SQLite file itself: the entry of ``index`` whose second column is
    ``key`` now points at ``rowid`` (of the same width), its table untouched -- an
    index lying about its table, which ``PRAGMA quick_check`` does not notice."""
    import sqlite3
    import struct

    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)).fetchone()
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    data = bytearray(open(path, "rb").read())  # noqa: SIM115
    found = []

    def walk(page: int) -> None:
        start = (page - 1) * page_size
        head = start + (100 if page == 1 else 0)
        kind = data[head]
        (cells,) = struct.unpack(">H", data[head + 3 : head + 5])
        header = 12 if kind in (2, 5) else 8
        for i in range(cells):
            (ptr,) = struct.unpack(">H", data[head + header + 2 * i : head + header + 2 * i + 2])
            cell = start + ptr
            if kind == 2:  # an interior page: the child first
                walk(struct.unpack(">I", data[cell : cell + 4])[0])
                cell += 4
            _, record = _varint(data, cell)
            size, at = _varint(data, record)
            serials = []
            while at < record + size:
                serial, at = _varint(data, at)
                serials.append(serial)
            fields, pos = [], record + size
            for serial in serials:
                fields.append((pos, serial))
                pos += _serial_size(serial)
            (kpos, kserial), (rpos, rserial) = fields[1], fields[-1]
            if kserial >= 13 and bytes(data[kpos : kpos + _serial_size(kserial)]) == key.encode():
                width = _serial_size(rserial)
                data[rpos : rpos + width] = rowid.to_bytes(width, "big", signed=True)
                found.append(key)
        if kind == 2:
            walk(struct.unpack(">I", data[head + 8 : head + 12])[0])

    walk(root)
    assert found, f"no entry {key!r} in {index}"
    open(path, "r+b").write(data)  # noqa: SIM115
