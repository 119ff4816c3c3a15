"""What a verification trusts: the key that checkpoints must be signed with, and
the independent anchors that vouch for it.

What it guarantees: the key is never taken on the word of the database alone.
Everything an attacker with write access to the database can change (the
``store_meta`` public key, the store id, checkpoint and purge rows, tree heads) is
data to be checked, never an anchor.  Anchors are, by priority:

1. a public key given by the caller (``--public-key FILE``, ``public_key=``);
2. a pinned fingerprint (``--fingerprint HEX``), which selects the one key that
   hashes to it among those available;
3. the store's private key file, at a path that depends only on where the store
   is (:mod:`auditkit.store._keys`), and the ``.pub`` file written beside it;
4. a checkpoint file saved outside the store earlier (it names its key);
5. (witness cosignatures are checked on a checkpoint file, by the caller).

With none of them, the database's own key is used to check that the store is
consistent with itself, and the result says UNANCHORED.  Anchors that disagree
about the key, or a ``store_meta`` key that differs from the anchored one, are
problems: someone changed the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import orjson

from auditkit.errors import StoreError, UsageError
from auditkit.integrity import (
    Checkpoint,
    SignatureError,
    key_fingerprint,
    load_private_key,
    load_public_key,
    public_key_pem,
)
from auditkit.integrity.note import NoteError, SignedNote, VerifierKey, parse_checkpoint
from auditkit.store._keys import public_key_path
from auditkit.verification import Anchor, AnchorKind, Problem, ProblemKind

__all__ = [
    "CHECKPOINT_FORMAT",
    "SavedCheckpoints",
    "Trust",
    "load_checkpoint_file",
    "resolve_trust",
]

CHECKPOINT_FORMAT = "auditkit-checkpoints/1"
_FINGERPRINT = re.compile(r"[0-9a-f]{16,64}")
_MAX_CHECKPOINT_FILE = 256 << 20


def note_origin(store_id: str, tenant: str) -> str:
    """The C2SP checkpoint origin (and key name) of a tenant's log.

    Examples
    --------
    >>> note_origin("7c1e", "acme corp")
    'auditkit/7c1e/acme%20corp'
    """
    return f"auditkit/{quote(store_id, safe='')}/{quote(tenant, safe='')}"


def _parse_origin(origin: str) -> tuple[str, str] | None:
    parts = origin.split("/")
    if len(parts) != 3 or parts[0] != "auditkit":
        return None
    return unquote(parts[1]), unquote(parts[2])


@dataclass(frozen=True)
class SavedNote:
    """A C2SP checkpoint note of one tenant (signature not yet checked)."""

    tenant_id: str
    store_id: str
    tree_size: int
    root_hash: str
    note: SignedNote


@dataclass(frozen=True)
class SavedCheckpoints:
    """Checkpoints saved outside the store: an ``auditkit checkpoint -o FILE`` document,
    C2SP checkpoint notes, or both."""

    source: str
    store_id: str
    #: the key the file names (JSON documents do; notes alone do not)
    public_key: Any | None
    key_id: str | None
    #: the newest checkpoint of each tenant at export time
    checkpoints: tuple[Checkpoint, ...]
    #: every checkpoint the store held then
    history: tuple[Checkpoint, ...]
    notes: tuple[SavedNote, ...] = ()

    @property
    def tenants(self) -> tuple[str, ...]:
        """Tenants the file holds a checkpoint or a note for."""
        names = {cp.tenant_id for cp in self.checkpoints} | {n.tenant_id for n in self.notes}
        return tuple(sorted(names))


def _doc_error(source: str, what: str) -> UsageError:
    return UsageError(f"{source}: not a usable checkpoint file: {what}")


def load_checkpoint_file(checkpoint: str | Path | Mapping[str, Any]) -> SavedCheckpoints:
    """Read and check a checkpoint file (or its parsed document), strictly.

    Every way a file can be damaged (not JSON, truncated, a field of the wrong
    type, an entry that is not a checkpoint, no checkpoint at all) is a
    :class:`~auditkit.errors.UsageError` naming the file and what is wrong: a
    file that anchors nothing must never pass as one that anchors something.

    Examples
    --------
    >>> load_checkpoint_file({"format": "auditkit-checkpoints/1"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: checkpoint document: not a usable checkpoint file: field ...
    """
    if isinstance(checkpoint, Mapping):
        doc: Any = dict(checkpoint)
        source = "checkpoint document"
    else:
        path = Path(checkpoint)
        source = str(path)
        if path.is_dir():
            return _load_note_folder(path)
        try:
            if path.stat().st_size > _MAX_CHECKPOINT_FILE:
                raise _doc_error(source, "larger than 256 MB")
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the checkpoint file: {exc.strerror}") from exc
        if not data.strip():
            raise _doc_error(source, "the file is empty")
        if not data.lstrip().startswith(b"{"):
            return _notes_only(source, [_load_note(source, data)])
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _doc_error(source, f"invalid or truncated JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise _doc_error(source, f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("format") != CHECKPOINT_FORMAT:
        raise _doc_error(
            source, f"expected format {CHECKPOINT_FORMAT!r}, got {doc.get('format')!r}"
        )
    store_id = doc.get("store_id")
    if not isinstance(store_id, str) or not store_id:
        raise _doc_error(source, f"field 'store_id': expected a string, got {store_id!r}")
    pem = doc.get("public_key")
    if not isinstance(pem, str) or "-----BEGIN" not in pem:
        raise _doc_error(source, "field 'public_key': expected the store's PEM public key")
    try:
        public = load_public_key(pem)
    except SignatureError as exc:
        raise _doc_error(source, f"field 'public_key': {exc}") from None
    lists: dict[str, list[Checkpoint]] = {}
    for name in ("checkpoints", "history"):
        entries = doc.get(name, [] if name == "history" else None)
        if not isinstance(entries, list):
            raise _doc_error(
                source, f"field {name!r}: expected a list, got {type(entries).__name__}"
            )
        out = []
        for i, entry in enumerate(entries):
            try:
                cp = Checkpoint.from_dict(entry)
            except (ValueError, TypeError) as exc:
                raise _doc_error(source, f"{name}[{i}]: {exc}") from None
            if cp.store_id != store_id:
                raise _doc_error(
                    source, f"{name}[{i}]: checkpoint of store {cp.store_id}, file of {store_id}"
                )
            out.append(cp)
        lists[name] = out
    if not lists["checkpoints"]:
        raise _doc_error(source, "it holds no checkpoint (emptied?)")
    tenants = [cp.tenant_id for cp in lists["checkpoints"]]
    if len(set(tenants)) != len(tenants):
        raise _doc_error(source, "two newest checkpoints for the same tenant")
    raw_notes = doc.get("notes", [])
    if not isinstance(raw_notes, list) or not all(isinstance(n, str) for n in raw_notes):
        raise _doc_error(source, "field 'notes': expected a list of C2SP checkpoint notes")
    notes = tuple(_load_note(f"{source}: notes[{i}]", n.encode()) for i, n in enumerate(raw_notes))
    return SavedCheckpoints(
        source,
        store_id,
        public,
        key_fingerprint(public),
        tuple(lists["checkpoints"]),
        tuple(lists["history"]),
        notes,
    )


def _load_note(source: str, data: bytes) -> SavedNote:
    """One C2SP checkpoint note of an auditkit tenant log."""
    try:
        note = SignedNote.parse(data)
        cp = parse_checkpoint(note.text)
    except NoteError as exc:
        raise _doc_error(source, str(exc)) from None
    names = _parse_origin(cp.origin)
    if names is None:
        raise _doc_error(source, f"origin {cp.origin[:60]!r} is not an auditkit tenant log")
    return SavedNote(names[1], names[0], cp.size, cp.root.hex(), note)


def _notes_only(source: str, notes: list[SavedNote]) -> SavedCheckpoints:
    stores = {n.store_id for n in notes}
    if len(stores) != 1:
        raise _doc_error(source, "notes of several stores")
    tenants = [n.tenant_id for n in notes]
    if len(set(tenants)) != len(tenants):
        raise _doc_error(source, "two notes for the same tenant")
    return SavedCheckpoints(source, stores.pop(), None, None, (), (), tuple(notes))


def _load_note_folder(path: Path) -> SavedCheckpoints:
    files = sorted(p for p in path.iterdir() if p.suffix == ".checkpoint")
    if not files:
        raise _doc_error(str(path), "the folder holds no .checkpoint note")
    notes = []
    for f in files:
        try:
            if f.stat().st_size > 1 << 20:
                raise _doc_error(str(f), "larger than 1 MiB")
            notes.append(_load_note(str(f), f.read_bytes()))
        except OSError as exc:
            raise UsageError(f"{f}: cannot read: {exc.strerror}") from exc
    return _notes_only(str(path), notes)


@dataclass(frozen=True)
class Trust:
    """The key to verify with, and why it is trusted."""

    public_key: Any
    #: hex SHA-256 fingerprint of :attr:`public_key`
    key_id: str
    #: where the key came from, for people
    source: str
    anchors: tuple[Anchor, ...]
    #: disagreements found while choosing the key (a replaced key, a pin that fits none)
    problems: tuple[Problem, ...] = ()
    saved: SavedCheckpoints | None = None
    #: witnesses whose cosignatures on saved checkpoint notes count as anchors
    witnesses: tuple[VerifierKey, ...] = ()

    @property
    def anchored(self) -> bool:
        """Whether anything outside the database vouches for :attr:`public_key`."""
        return bool(self.anchors)


def _parse_fingerprint(text: str) -> str:
    value = text.strip().lower().removeprefix("sha256:")
    if not _FINGERPRINT.fullmatch(value):
        raise UsageError(
            f"fingerprint: expected 16 to 64 hex characters of the key's SHA-256, got {text!r}"
        )
    return value


def _load_key_arg(value: Any) -> tuple[Any, str, str]:
    """A public key given by the caller (PEM text, a path, or a key object): the key,
    where it came from (for people), and the anchor's source."""
    if isinstance(value, str | bytes) and (
        b"-----BEGIN" in (value if isinstance(value, bytes) else value.encode())
    ):
        try:
            return load_public_key(value), "the given public key", "the caller"
        except SignatureError:
            raise UsageError("public key: expected a PEM Ed25519 public key") from None
    if isinstance(value, str | Path):
        path = Path(value)
        try:
            return load_public_key(path), f"public key file {path}", str(path)
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the public key: {exc.strerror}") from exc
        except SignatureError:
            try:
                return load_private_key(path).public_key(), f"key file {path}", str(path)
            except (SignatureError, OSError):
                raise UsageError(f"{path}: expected a PEM Ed25519 public key") from None
    return value, "the given public key", "the caller"


def resolve_trust(
    *,
    db_public_pem: str | None,
    key_path: Path,
    db_key_id: str | None = None,
    private_key: Any | None = None,
    public_key: Any | None = None,
    fingerprint: str | None = None,
    saved: SavedCheckpoints | None = None,
    witnesses: tuple[VerifierKey, ...] = (),
) -> Trust:
    """Choose the verifying key from the anchors available (see the module docstring).

    ``private_key`` is the loaded key of ``key_path`` when the caller has it.
    """
    candidates: list[tuple[Any, Anchor, str]] = []
    if public_key is not None:
        key, where, source = _load_key_arg(public_key)
        candidates.append((key, Anchor(AnchorKind.PUBLIC_KEY, source, key_fingerprint(key)), where))
    if private_key is None and key_path.is_file():
        try:
            private_key = load_private_key(key_path)
        except (SignatureError, OSError) as exc:
            raise StoreError(f"{key_path}: not a usable Ed25519 key file ({_short(exc)})") from None
    if private_key is not None:
        key = private_key.public_key()
        where = f"key file {key_path}"
        candidates.append(
            (key, Anchor(AnchorKind.KEY_FILE, str(key_path), key_fingerprint(key)), where)
        )
    pub = public_key_path(key_path)
    if pub.is_file() and pub != key_path:
        try:
            key = load_public_key(pub)
        except (SignatureError, OSError) as exc:
            raise StoreError(f"{pub}: not a usable public key file ({_short(exc)})") from None
        where = f"public key file {pub}"
        candidates.append(
            (key, Anchor(AnchorKind.PUBLIC_KEY, str(pub), key_fingerprint(key)), where)
        )
    if saved is not None and saved.public_key is not None and saved.key_id is not None:
        where = f"checkpoint file {saved.source}"
        anchor = Anchor(AnchorKind.CHECKPOINT_FILE, saved.source, saved.key_id)
        candidates.append((saved.public_key, anchor, where))
    # PEM text only: a value of the database is never a path to read (an attacker who
    # writes store_meta would otherwise name any file, /dev/zero or a FIFO included)
    db_key = None
    if db_public_pem and "-----BEGIN" in db_public_pem:
        try:
            db_key = load_public_key(db_public_pem)
        except SignatureError:
            db_key = None
    problems: list[Problem] = []

    def wrong_key(detail: str) -> None:
        problems.append(Problem(ProblemKind.WRONG_KEY, "", None, None, detail))

    if fingerprint is not None:
        pin = _parse_fingerprint(fingerprint)
        pool = [c[0] for c in candidates] + ([db_key] if db_key is not None else [])
        match = next((k for k in pool if key_fingerprint(k).startswith(pin)), None)
        if match is None:
            wrong_key(
                f"no available key has the pinned fingerprint {pin[:16]}: the store's key "
                + (f"is {key_fingerprint(db_key)[:16]}" if db_key is not None else "is unreadable")
            )
        else:
            anchor = Anchor(
                AnchorKind.FINGERPRINT, "the pinned fingerprint", key_fingerprint(match)
            )
            candidates.insert(0, (match, anchor, f"the key pinned by fingerprint {pin[:16]}"))
    if candidates:
        chosen, _, source = candidates[0]
        fp = key_fingerprint(chosen)
        anchors = []
        for key, anchor, where in candidates:
            if key_fingerprint(key) != fp:
                wrong_key(
                    f"the {where} holds key {key_fingerprint(key)[:16]}, but the {source} "
                    f"holds {fp[:16]}"
                )
            else:
                anchors.append(anchor)
        if db_key is None:
            wrong_key(
                "the public key recorded in the database (store_meta 'public_key') is "
                + ("damaged: not a PEM Ed25519 key" if db_public_pem else "missing")
                + f"; the trusted key {fp[:16]} is from the {source}"
            )
        elif db_key_id is not None and db_key_id != key_fingerprint(db_key):
            wrong_key(
                f"the key id recorded in the database ({db_key_id[:16]!r}) is not the "
                "fingerprint of the public key recorded beside it "
                f"({key_fingerprint(db_key)[:16]})"
            )
        if db_key is not None and key_fingerprint(db_key) != fp:
            wrong_key(
                f"the public key recorded in the database ({key_fingerprint(db_key)[:16]}) "
                f"is not the trusted key {fp[:16]} from the {source}: it was replaced"
            )
        return Trust(chosen, fp, source, tuple(anchors), tuple(problems), saved, witnesses)
    if db_key is None:
        raise StoreError("the store's public key is missing or damaged, and no key anchor is given")
    return Trust(
        db_key,
        key_fingerprint(db_key),
        "the store database (not an independent anchor)",
        (),
        tuple(problems),
        saved,
        witnesses,
    )


def _short(exc: BaseException) -> str:
    text = str(exc).split(":", 1)[-1].strip()
    return text.split("See https")[0].split("(")[0].strip() or type(exc).__name__


def public_pem(trust: Trust) -> str:
    """The trusted key as PEM text."""
    return public_key_pem(trust.public_key)


def unchecked(anchors: tuple[Anchor, ...], store_file: str | None) -> list[str]:
    """What a verification resting on ``anchors`` could not see, for people: the
    limits of docs/store.md's threat model that apply, said with the verdict rather
    than left to the reader.  ``store_file``: the SQLite file (``None`` for a URL).

    Examples
    --------
    >>> unchecked((Anchor(AnchorKind.KEY_FILE, "/data/a.db.key", "ab"),), "/data/a.db")[1][:40]
    'the key is vouched for only by files bes'
    >>> unchecked((Anchor(AnchorKind.CHECKPOINT_FILE, "/safe/cp.json", "ab"),), "/data/a.db")
    []
    """
    out: list[str] = []
    if not any(a.kind in (AnchorKind.CHECKPOINT_FILE, AnchorKind.WITNESS) for a in anchors):
        out.append(
            "no checkpoint saved outside the store was given: a rollback of the whole store "
            "to an older copy of itself (its signed tenant manifest included) cannot be seen "
            "(verify --checkpoint FILE, saved earlier with `auditkit checkpoint -o FILE`)"
        )
    if store_file is not None:
        folder = Path(store_file).resolve().parent
        files = [a for a in anchors if a.kind in (AnchorKind.KEY_FILE, AnchorKind.PUBLIC_KEY)]
        beside = [a for a in files if Path(a.source).resolve().parent == folder]
        others = [a for a in anchors if a not in beside and a.kind != AnchorKind.WITNESS]
        if beside and not others:
            names = ", ".join(sorted({Path(a.source).name for a in beside}))
            out.append(
                f"the key is vouched for only by files beside the store ({names}): whoever "
                "can write that folder can replace them and re-sign the trail; pin the key "
                "elsewhere (--fingerprint HEX, --public-key FILE) or keep the key apart from "
                "the database"
            )
    return out
