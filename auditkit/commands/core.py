"""The store's own commands: init, ingest, verify, checkpoint, sample, demo.

Argument definitions stay light (they run on every start); each handler
imports what it needs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

from auditkit.commands.base import (
    Progress,
    at_least,
    command,
    events_total,
    is_stdout,
    open_store,
    output_path,
    print_json,
    progress_argument,
    progress_bar,
    read_public_key,
    store_argument,
    tenant_argument,
    tenant_name,
    terminal_lines,
    terminal_text,
)
from auditkit.errors import UsageError

__all__: list[str] = []


# -- init ------------------------------------------------------------------------------
def _init_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument(
        "--cold",
        metavar="URL",
        help="cold tier for retention: a folder or an fsspec URL such as s3://bucket/audit "
        "(default for a SQLite store: STORE.cold beside it)",
    )


@command("init", "create a store and its Ed25519 signing key")(_init_args)
def _init(args: argparse.Namespace) -> int:
    from auditkit.store import Store

    store = Store.init(args.store, key=args.key, cold=args.cold)
    print(f"created store {args.store} (id {store.store_id})")
    print(f"signing key: {store.key_path} (keep it outside the database; back it up)")
    # a new store made here on purpose: what verify remembered of an earlier one at
    # this location is not a reason to call this one "another store"
    _forget_made_anew(store)
    return 0


def _forget_made_anew(store: Any) -> None:
    """Drop what verify remembered of an earlier store at ``store``'s location (made
    anew on purpose); a memory that cannot be dropped is a note, never a failure of
    the store just made."""
    from auditkit.commands import _remember

    try:
        _remember.forget(store)
    except _remember.NotRemembered as exc:
        print(
            terminal_text(
                f"note: {exc}; the next verify may name this new store wrong_store "
                "(verify --forget accepts it)"
            ),
            file=sys.stderr,
        )


# -- ingest ----------------------------------------------------------------------------
def _ingest_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="files, directories or globs; - for standard input"
    )
    p.add_argument(
        "--format",
        default="auto",
        metavar="NAME",
        help="input format: auto (default), auditkit, cloudtrail, csv, ecs, gcp, github, gitlab, "
        "okta, ocsf, or one a plugin adds; compressed files (gzip, bzip2, xz, zstd), zip "
        "and tar archives, Parquet and Avro files are read whatever the format",
    )
    p.add_argument("--tenant", type=tenant_name, help="tenant for formats whose records carry none")
    p.add_argument(
        "--mapping",
        metavar="FILE",
        help="column mapping (YAML/TOML) for home-grown CSV/NDJSON logs",
    )
    p.add_argument(
        "--quarantine",
        metavar="FILE",
        help="where rejected records go (default: STORE.quarantine.ndjson)",
    )
    p.add_argument(
        "--workers",
        type=at_least(1),
        metavar="N",
        help="parser processes (default: all cores for inputs of tens of MB or more, "
        "else 1); records are stored in input order either way",
    )
    p.add_argument(
        "--assume-utc",
        action="store_true",
        help="read canonical events whose occurred_at has no zone (2022-03-22 14:21:53.225) "
        "as UTC, noting it in metadata; formats defined as UTC (CloudTrail, GCP, GitLab, "
        "Okta, OCSF) always do",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 if any record is quarantined")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    progress_argument(p)


def default_quarantine(location: str) -> str:
    """Where an ingest into ``location`` puts rejected records by default.

    Examples
    --------
    >>> default_quarantine("audit.db"), default_quarantine("sqlite:////var/a.db")
    ('audit.db.quarantine.ndjson', '/var/a.db.quarantine.ndjson')
    >>> default_quarantine("postgresql+psycopg://u@db/audit")
    'auditkit.quarantine.ndjson'
    """
    if location.startswith("sqlite:///"):
        location = location[len("sqlite:///") :]
    elif "://" in location:
        location = "auditkit"
    return location + ".quarantine.ndjson"


@command("ingest", "ingest audit-log files (quarantining bad records)")(_ingest_args)
def _ingest(args: argparse.Namespace) -> int:
    from auditkit.ingest.pipeline import expand_paths, ingest_files

    expand_paths(args.files)  # a path that matches nothing: a usage error before any work
    quarantine = output_path(
        args.quarantine or default_quarantine(args.store), option="--quarantine"
    )
    store = open_store(args)
    fmt: Any = args.format
    if args.mapping:
        from auditkit.ingest.registry import get_format

        mapped = get_format("mapped")
        fmt = mapped.from_file(args.mapping)  # type: ignore[attr-defined]
    with progress_bar(args, desc="ingest", unit="records") as tick:
        result = ingest_files(
            store,
            args.files,  # expanded again, with what the folders hold that is not read
            format=fmt,
            tenant=args.tenant,
            quarantine=quarantine,
            progress=tick,
            workers=args.workers,
            assume_utc=args.assume_utc,
        )
    if args.json:
        print_json(result.to_dict())
    else:
        print(terminal_lines(result.summary()))
        for q in result.problems[:10]:
            where = f"{q.file} line {q.line}" if q.line else q.file
            print(terminal_text(f"  quarantined: {where}: {q.reason}"))
        if result.quarantined > 10:
            print(f"  ... {result.quarantined - 10} more in {result.quarantine_file}")
    return 1 if args.strict and result.quarantined else 0


# -- verify ----------------------------------------------------------------------------
def _verify_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a checkpoint file saved earlier (detects truncation, rollback, fork)",
    )
    p.add_argument(
        "--public-key", metavar="FILE", help="trust this public key (PEM), kept outside the store"
    )
    p.add_argument(
        "--fingerprint",
        metavar="HEX",
        help="trust the key whose SHA-256 fingerprint starts with HEX (16 to 64 hex characters)",
    )
    p.add_argument(
        "--witness",
        action="append",
        metavar="VKEY",
        help="a witness's C2SP verifier key (or a file holding it): its cosignatures on the "
        "--checkpoint notes count as anchors (repeatable)",
    )
    tenant_argument(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    remember = p.add_mutually_exclusive_group()
    remember.add_argument(
        "--no-remember",
        action="store_true",
        help="neither check against nor keep the checkpoints this machine remembers of the "
        "store from its last intact verify",
    )
    remember.add_argument(
        "--forget",
        action="store_true",
        help="drop what this machine remembers of the store first (after restoring a backup "
        "on purpose), then verify and remember anew",
    )
    progress_argument(p)
    p.epilog = (
        "an intact verify of the whole store remembers its newest signed checkpoints in "
        "$AUDITKIT_HOME/verified (~/.auditkit/verified); the next verify on this machine "
        "checks the store against them, so a store put back to an older copy of itself is "
        "named (rollback).  "
        "exit codes: 0 intact (and anchored), 1 tampered, 2 usage error, 3 no problem found but "
        "unanchored (nothing outside the database vouches for the key)"
    )


@command("verify", "verify every record, column and checkpoint (exit 1 tampered, 3 unanchored)")(
    _verify_args
)
def _verify(args: argparse.Namespace) -> int:
    from auditkit.verification import Verdict

    if args.public_key:
        read_public_key(args.public_key)  # a one-line error for a file that is not a key
    from auditkit.commands import _remember

    store = open_store(args)
    remembered, unusable = None, None
    # a memory left unchecked (verified against --checkpoint instead) is never replaced:
    # an older checkpoint file is consistent with a store rolled back to it
    keep_memory = False
    forgot = False
    if args.forget:
        try:
            forgot = _remember.forget(store)
        except _remember.NotRemembered as exc:
            raise UsageError(f"verify --forget: {exc}") from None
    elif not args.no_remember and not args.checkpoint:
        # what this machine saw before: a store rolled back since is named
        remembered, unusable = _remember.recall(store)
    elif not args.no_remember:
        keep_memory = _remember.remembered_path(store).exists()
    with progress_bar(args, desc="verify", total=partial(events_total, store, args.tenant)) as tick:
        report = store.verify(
            args.tenant,
            checkpoint=args.checkpoint or (remembered.saved if remembered else None),
            public_key=args.public_key,
            fingerprint=args.fingerprint,
            witnesses=args.witness or (),
            progress=tick,
        )
    kept, memory_notes = None, [*([unusable] if unusable else [])]
    if (
        report.status is Verdict.INTACT
        and args.tenant is None
        and not args.no_remember
        and not keep_memory
    ):
        try:
            kept = _remember.remember(store, report, remembered)
        except _remember.NotRemembered as exc:
            memory_notes.append(str(exc))
    first_look = remembered is None and not args.no_remember and not args.checkpoint
    if first_look and not unusable:
        memory_notes.append(_first_look_note(store, forgot=forgot, kept=kept is not None))
    limits = list(report.unchecked)
    if remembered is not None and _remember.key_seen_only_beside(store, report, remembered):
        limits.append(remembered.limit())  # the memory is no stronger than what it saw
    if args.json:
        doc = report.to_dict()
        doc["remembered"] = str(kept) if kept else None
        doc["checked_against_memory"] = (
            str(_remember.remembered_path(store)) if remembered is not None else None
        )
        doc["unchecked"] = limits
        if memory_notes:
            doc.setdefault("notes", []).extend(memory_notes)
        print_json(doc)
    else:
        print(terminal_lines(report.summary()))
        key = report.key_id[:16] if report.key_id else "?"
        anchors = "; ".join(a.describe() for a in report.anchors) or "none"
        print(terminal_text(f"key {key} from {report.key_source}; anchors: {anchors}"))
        for note in [*report.notes, *memory_notes]:
            print(terminal_text(f"note: {note}"))
        # what the anchors used cannot vouch for, said with the verdict
        for limit in limits:
            print(terminal_text(f"not checked: {limit}"))
        if remembered is not None:
            advice = _memory_advice(args.store, {p.kind.value for p in report.problems})
            if advice:
                print(terminal_text(advice), file=sys.stderr)
    return {Verdict.INTACT: 0, Verdict.TAMPERED: 1, Verdict.UNANCHORED: 3}[report.status]


def _first_look_note(store: Any, *, forgot: bool, kept: bool) -> str:
    """The note of a verify that had nothing remembered to check the store against:
    said, so that a store moved or renamed (a first look at its new location) is not
    taken for one checked against this machine's memory.

    >>> from types import SimpleNamespace
    >>> _first_look_note(SimpleNamespace(path=None, location="x://a", store_id="1"),
    ...                  forgot=True, kept=False)  # doctest: +ELLIPSIS
    'what this machine remembered of this store was dropped (--forget)...'
    """
    from auditkit.commands import _remember

    if forgot:
        text = "what this machine remembered of this store was dropped (--forget)"
    else:
        text = (
            "first verify of this store at this location on this machine: nothing "
            "remembered to check it against"
        )
        elsewhere = _remember.seen_elsewhere(store)
        if elsewhere:
            text += f" (a store with its id was verified at {elsewhere}: moved, renamed or copied?)"
    if kept:
        text += "; its checkpoints are now remembered, and the next verify here names a rollback"
    return text


#: what a problem found against the memory means, and what to do about it
_MEMORY_ADVICE: Final = (
    (
        "wrong_store",
        "another store than the one this machine verified intact before is at {store} "
        "(made elsewhere or copied in, or its id changed)",
    ),
    (
        "wrong_key",
        "the store at {store} is signed with another key than when this machine verified "
        "it intact before (its key files replaced?)",
    ),
    (
        "rollback",
        "the store at {store} is an older copy of the one this machine verified intact "
        "before (a backup put back?)",
    ),
    ("truncated", "the store at {store} lost events this machine saw when it verified it"),
    ("fork", "the store at {store} holds another history than the one this machine verified"),
)


def _memory_advice(store: str, kinds: set[str]) -> str | None:
    """The stderr line of a verify whose store is not the one this machine remembers.

    >>> print(_memory_advice("a b.db", {"rollback"}))  # doctest: +NORMALIZE_WHITESPACE
    the store at a b.db is an older copy of the one this machine verified intact before
    (a backup put back?); if that is on purpose, `auditkit verify 'a b.db' --forget`
    accepts it as it is now
    """
    import shlex

    for kind, text in _MEMORY_ADVICE:
        if kind in kinds:
            return (
                text.format(store=store)
                + f"; if that is on purpose, `auditkit verify {shlex.quote(store)} --forget` "
                "accepts it as it is now"
            )
    return None


# -- checkpoint --------------------------------------------------------------------------
def _checkpoint_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument("-o", "--output", metavar="PATH", help="write the checkpoints here")
    p.add_argument(
        "--format",
        choices=["json", "note"],
        default="json",
        help="json: one auditkit checkpoint file (with C2SP notes inside); note: a folder of "
        "C2SP checkpoint notes, one <tenant>.checkpoint per tenant (the name percent-encoded; "
        "shortened with a hash when too long for a file name), and their verifier keys",
    )


def note_file_name(tenant: str) -> str:
    """The file of a tenant's note in ``checkpoint --format note -o DIR``: the name
    percent-encoded, ``.checkpoint``, shortened as the cold tier's folders are when
    longer than 255 bytes (a prefix, ``%7E`` and the SHA-256 of the whole name).  The
    note names its tenant (its origin line), and ``verify --checkpoint DIR`` reads it
    from there, never from the file name.

    >>> note_file_name("acme corp")
    'acme%20corp.checkpoint'
    """
    from auditkit.store import tenant_file_name

    return tenant_file_name(tenant, suffix=".checkpoint")


def _name_max(folder: Path) -> int:
    """The longest file name the file system of ``folder`` (or of the folder it would be
    made in) takes."""
    from auditkit.store import NAME_MAX

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return min(NAME_MAX, os.pathconf(existing, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or not known
        return NAME_MAX


def _write_note_folder(folder: Path, files: dict[str, str]) -> None:
    """Write ``{file name: text}`` into ``folder``, all or nothing: every name is
    checked before anything is written, each file goes to a temporary name first, and
    they are renamed into place only once all of them are written."""
    import uuid

    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o {folder}: exists and is not a folder")
    limit = _name_max(folder)
    for name in files:
        if len(name.encode()) > limit:
            raise UsageError(
                f"-o {folder}: the file system takes names of at most {limit} bytes, "
                f"too short for {name[:40]}...; nothing was written"
            )
        if (folder / name).is_dir():
            raise UsageError(f"-o {folder}: {name} is a folder; nothing was written")
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    written: list[tuple[Path, Path]] = []
    try:
        for i, (name, text) in enumerate(files.items()):
            tmp = folder / f".{i}.tmp-{tag}"
            written.append((tmp, folder / name))
            tmp.write_bytes(text.encode())
        for tmp, final in written:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise


@command("checkpoint", "export the signed checkpoints, to keep outside the store")(_checkpoint_args)
def _checkpoint(args: argparse.Namespace) -> int:
    if is_stdout(args.output) and args.format == "json":
        args.output = None  # -o -: printed, as without -o
    out = output_path(args.output) if args.output and args.format != "note" else None
    store = open_store(args)
    if args.format == "note":
        if not args.output:
            raise UsageError("checkpoint --format note: give the folder to write (-o DIR)")
        folder = Path(args.output)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"-o {folder}: exists and is not a folder")
        notes = store.checkpoint_notes()
        doc = store.export_checkpoints()
        files = {note_file_name(tenant): note for tenant, note in notes.items()}
        files["verifier-keys.txt"] = "".join(
            f"{v}\n" for v in doc.get("verifier_keys", {}).values()
        )
        _write_note_folder(folder, files)
        print(f"wrote {len(notes)} C2SP checkpoint note(s) and their verifier keys to {folder}")
        return 0
    doc = store.export_checkpoints(out)
    if out is not None:
        n = len(doc["checkpoints"])
        print(f"wrote {n} signed checkpoint(s) to {args.output} (key {doc['key_id'][:16]})")
        if not doc.get("notes"):
            print("note: no key file here, so no C2SP notes were added")
    else:
        print_json(doc)
    return 0


# -- sample ----------------------------------------------------------------------------
#: Bounds of a sample's shape: beyond them the generator would run for hours before
#: writing its first event (it names every tenant and principal first), or reach
#: back past 1970.
_MAX_TENANTS: Final = 1000
_MAX_ACTORS: Final = 100_000
_MAX_DAYS: Final = 10_000


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="NDJSON file to write")
    p.add_argument(
        "--events",
        type=at_least(0),
        metavar="N",
        help="exactly this many events (default: the natural volume, ~19k for 3 tenants "
        "over 90 days); a sample too small for every injected incident keeps those "
        "that fit",
    )
    p.add_argument(
        "--tenants", type=at_least(1, _MAX_TENANTS), default=3, metavar="N", help="1 to 1000"
    )
    p.add_argument(
        "--days", type=at_least(1, _MAX_DAYS), default=90, metavar="N", help="1 to 10000"
    )
    p.add_argument(
        "--start",
        metavar="DATE",
        help="first day (default 2026-01-05, or earlier so that the sessions of the last "
        "day, which run past its midnight, end before today: ingest refuses events from "
        "the future)",
    )
    p.add_argument(
        "--actors",
        type=at_least(1, _MAX_ACTORS),
        metavar="N",
        help="principals across all tenants (default: 150, at least 6 per tenant; at most 100000)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-incidents", action="store_true", help="no injected incidents")
    p.add_argument(
        "--labels",
        metavar="FILE",
        help="also write the injected incidents (the labels) as JSON",
    )
    progress_argument(p)


@command("sample", "write realistic sample audit events (NDJSON)")(_sample_args)
def _sample(args: argparse.Namespace) -> int:
    from auditkit.sample import (
        MIN_PER_TENANT,
        iter_events,
        plan_incidents,
        write_incidents,
        write_ndjson,
    )

    out = output_path(args.output)
    labels = output_path(args.labels, option="--labels") if args.labels else None
    options: dict[str, Any] = {
        "tenants": args.tenants,
        "days": args.days,
        "actors": args.actors or max(150, MIN_PER_TENANT * args.tenants),
        "seed": args.seed,
        "events": args.events,
        "start": _sample_start(args.start, args.days),
    }
    try:
        chunks = iter_events(incidents=not args.no_incidents, **options)
    except ValueError as exc:  # the generator's own checks (e.g. actors per tenant)
        raise UsageError(f"sample: --{exc}") from None
    with progress_bar(args, desc="sample", total=args.events) as tick:
        n = write_ndjson(_ticking(chunks, tick), out)
    print(f"wrote {n} events to {args.output}")
    if labels is not None:
        planned = [] if args.no_incidents else plan_incidents(**options)
        write_incidents(planned, labels, parameters=options)
        print(f"wrote {len(planned)} incident label(s) to {args.labels}")
    return 0


def _sample_start(start: str | None, days: int, today: date | None = None) -> str:
    """The sample's first day: ``start`` as given (checked), else the fixed default,
    moved back when ``days`` from it would reach into ``today`` (whose hours are not
    all past yet). The last day is the day before yesterday at the latest: sessions
    begun late on the last day run past its midnight (by up to two hours), into
    yesterday then, never into today.

    >>> _sample_start(None, 90, date(2026, 12, 7)), _sample_start(None, 365, date(2026, 12, 7))
    ('2026-01-05', '2025-12-06')
    """
    latest = (today or datetime.now(UTC).date()) - timedelta(days=days + 1)
    if start is not None:
        try:
            first = date.fromisoformat(start)
        except ValueError:
            raise UsageError(
                f"--start: expected a date such as 2026-01-05, got {start!r}"
            ) from None
        if first < date(1970, 1, 2):
            raise UsageError(f"--start {start}: expected a day from 1970-01-02 on")
        if first > latest:
            # its last sessions would run into today or later: ingest refuses events
            # from the future, so such a sample could not be ingested whole
            raise UsageError(
                f"--start {start}: {days} day(s) from it reach today or later (ingest "
                f"refuses events from the future); give --start {latest} or earlier, "
                "or fewer --days"
            )
        return first.isoformat()
    return min(date(2026, 1, 5), latest).isoformat()


def _ticking(chunks: Iterator[list[dict[str, Any]]], tick: Progress | None) -> Iterator[Any]:
    for chunk in chunks:
        yield from chunk
        if tick is not None:
            tick(len(chunk))


# -- demo ------------------------------------------------------------------------------
def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="auditkit-demo", help="where to put the demo store")
    progress_argument(p)


@command("demo", "build a sample store, verify it, detect, report")(_demo_args)
def _demo(args: argparse.Namespace) -> int:
    from auditkit._demo import run_demo

    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--dir {args.dir}: is a file; expected a folder")
    from auditkit.store import Store

    db = folder / "audit.db"
    if not _demo_store(db):
        try:
            output_path(db, option="--dir")
        except UsageError as exc:
            if db.is_file():  # a store (or key) the demo did not make: never replaced
                raise UsageError(
                    f"--dir {args.dir}: holds {db.name}, a store no `auditkit demo` made "
                    "there (or one made before demos marked theirs); refusing to replace "
                    "it: give another --dir, or remove that folder"
                ) from None
            raise exc from None
    code = run_demo(folder, progress=not args.no_progress and sys.stderr.isatty())
    store = Store.open(str(db))
    _mark_demo(folder, store.store_id)
    # the demo makes its store anew: forget what verify remembered of the last one
    _forget_made_anew(store)
    return code


#: the file by which ``auditkit demo`` knows a store it made (and may make anew)
_DEMO_MARK: Final = ".auditkit-demo"


def _demo_store(db: Path) -> bool:
    """Whether ``db`` is the store an earlier ``auditkit demo`` made in its folder
    (the folder's mark names its store id), so that a second demo may replace it;
    any other database there is never written over."""
    from auditkit.errors import AuditkitError
    from auditkit.store import Store

    try:
        mark = (db.parent / _DEMO_MARK).read_text().strip()
    except OSError:
        return False
    if not mark:
        return False  # no store is opened unless the folder says a demo made one
    try:
        return Store.open(str(db)).store_id == mark
    except (AuditkitError, OSError):
        return False


def _mark_demo(folder: Path, store_id: str) -> None:
    with contextlib.suppress(OSError):
        (folder / _DEMO_MARK).write_text(store_id + "\n")
