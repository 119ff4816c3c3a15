"""The pull API and the viewer, as one ASGI application (FastAPI).

Every ``/v1`` request carries a bearer token; the application binds the store
to the token's principal for that request (:meth:`Store.bind`), so every read
is checked, redacted and recorded by the store itself, exactly as in Python.
Tokens are read from the ``Authorization`` header only (never from the URL,
which ends up in logs) and are never logged.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auditkit.access import Permission
from auditkit.api._models import (
    CheckpointDoc,
    ConsistencyDoc,
    EventDoc,
    EventsPage,
    FindingsDoc,
    HealthDoc,
    IngestResultDoc,
    ProblemDoc,
    TenantsDoc,
)
from auditkit.api._ndjson import json_lines, ndjson_bytes
from auditkit.api._problems import Problem, bad_parameter, install_handlers
from auditkit.api._query import (
    EventFilter,
    decode_cursor,
    encode_cursor,
    event_dicts,
    page_events,
)
from auditkit.errors import AccessDenied, TamperedError, UsageError
from auditkit.ingest import dumps_json, loads_json
from auditkit.store import JsonPage, Store, misdirected

__all__ = ["create_app"]

#: Largest POST body accepted, in bytes (a 1,000-event batch is ~1 MB).
MAX_BODY: Final = 32 * 1024 * 1024
#: Most records in one POST.
MAX_RECORDS: Final = 50_000
#: Largest JSON page; an NDJSON pull may scan up to MAX_PULL seqs per request.
MAX_PAGE: Final = 1_000
MAX_PULL: Final = 100_000
#: Events serialised per streamed block of an NDJSON page.
_NDJSON_SLICE: Final = 25_000

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_TENANT = Annotated[str, PathParam(min_length=1, max_length=512, description="the tenant")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ProblemDoc, "content": {"application/problem+json": {}}}
    for code in (400, 401, 403, 404, 409, 503)
}
_bearer = HTTPBearer(auto_error=False, description="an auditkit API token (akt_...)")
_JSON: Final = "application/json"
_NDJSON: Final = "application/x-ndjson"
#: The media types a POST of events is read as: a JSON document, or JSON lines.
_POST_TYPES: Final = {_JSON: "json", _NDJSON: "ndjson", "application/jsonl": "ndjson"}


def _json(doc: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS, default=str),
        status_code=status,
        media_type=_JSON,
    )


class _Headers:
    """Security headers on every answer; body size limit before a body is read.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs the application
    in a task of its own with a stream between them, a sizeable share of the CPU of
    a small page (profiled).
    """

    _HEADERS: Final = (
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
    )

    _OWN: Final = frozenset(k for k, _ in _HEADERS)

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() not in self._OWN
                ]
                headers += self._HEADERS
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        length = Headers(scope=scope).get("content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                too_big = True
            if too_big:
                from auditkit.api._problems import problem_response

                response: Response = problem_response(
                    "too-large",
                    f"the body is larger than {self.max_body} bytes; send smaller batches",
                    instance=scope["path"],
                )
                await response(scope, receive, headed)
                return
        after: list[Callable[[], None]] = []
        scope[_AFTER] = after
        try:
            await self.app(scope, receive, headed)
        finally:
            # work left for after the answer was sent (the records of denials)
            if after:
                from starlette.concurrency import run_in_threadpool

                for work in after:
                    await run_in_threadpool(work)


#: The scope key of the work an answer leaves for after it was sent.
_AFTER: Final = "auditkit.after"


class _Turns:
    """A lock taken in the order it was asked for (``threading.Lock`` wakes any
    waiter: under 32 concurrent pages some waited for most of the others, which is
    what a 99th percentile sees).

    >>> turns = _Turns()
    >>> with turns:
    ...     turns.held
    True
    >>> turns.held
    False
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiting: collections.deque[threading.Lock] = collections.deque()
        self.held = False

    def __enter__(self) -> _Turns:
        with self._mutex:
            if not self.held:
                self.held = True
                return self
            mine = threading.Lock()
            mine.acquire()
            self._waiting.append(mine)
        mine.acquire()  # released by the holder that hands the turn on
        return self

    def __exit__(self, *exc: object) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().release()  # the next in line holds it now
            else:
                self.held = False


def _caller(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Store:
    """The store bound to the request's bearer token (every read checked and recorded).

    On SQLite, an endpoint takes the SQLite turn (``app.state.serial``) for its work
    only, never while a body arrives or a response leaves: the store reads through
    ADBC's copy of SQLite and writes through Python's, which the store keeps apart,
    and reads in turn cost less CPU than reads contending for the interpreter.  A
    lock held for the whole request let a producer on a slow link, or a client that
    stopped reading an export, hold up every other request.  PostgreSQL serves
    requests concurrently.
    """
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Problem(
            "unauthenticated",
            "send the API token as 'Authorization: Bearer akt_...'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    owner: Store = request.app.state.store
    caller = owner.bind(token=creds.credentials, via="api", once=True)
    after = request.scope.get(_AFTER)
    if after is not None:
        # a refusal is recorded once the answer has left, so that a refusal on a tenant
        # that exists (recorded) takes no longer than one on a made-up name (not)
        caller.defer_denials()  # type: ignore[attr-defined]
        after.append(caller.flush_denials)  # type: ignore[attr-defined]
    return caller


Caller = Annotated[Store, Depends(_caller)]


def _viewer_file(name: str) -> bytes:
    return resources.files("auditkit.api").joinpath("viewer", name).read_bytes()


def create_app(
    store: Store,
    *,
    max_body: int = MAX_BODY,
    max_records: int = MAX_RECORDS,
    title: str = "auditkit",
) -> FastAPI:
    """The API and viewer over ``store`` (the owner's handle), ready for any ASGI server.

    Mount it in your own application (``app.mount("/audit", create_app(store))``)
    or run it with ``auditkit serve``.

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.store import Store
    >>> app = create_app(Store.init(os.path.join(tempfile.mkdtemp(), "a.db")))
    >>> sorted(p for p in app.openapi()["paths"] if "/checkpoints/" in p)
    ['/v1/tenants/{tenant}/checkpoints/consistency', '/v1/tenants/{tenant}/checkpoints/latest']
    """
    if store.principal is not None:
        raise UsageError("create_app needs the store owner's handle, not a principal's")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # a server makes many small reads and writes: connections are kept between
        # them, and closed when it stops, so that the database is left in one file
        store.keep_connections(4)
        # and the tenants' trees are verified into the cache in the background, so that
        # the first pages after a start do not each wait for a tree to be built
        stop = threading.Event()
        warm = threading.Thread(target=prepare, args=(stop,), name="auditkit-prepare")
        warm.start()
        try:
            yield
        finally:
            stop.set()
            warm.join()
            store.keep_connections(0)

    def prepare(stop: threading.Event) -> None:
        try:
            for tenant in store.tenants():
                if stop.is_set():
                    return
                with turn():  # one tenant at a time, in turn with the requests
                    store.prepare_reads([tenant], stop=stop)
        except Exception:  # a damaged store: requests report it in full
            logging.getLogger("auditkit.api").warning(
                "preparing the tenants' trees stopped", exc_info=True
            )

    app = FastAPI(
        lifespan=lifespan,
        title=f"{title} pull API",
        version="1",
        description=(
            "Read a tenant's tamper-evident audit trail: events with keyset cursors, "
            "inclusion and consistency proofs, findings, reports and exports; append "
            "events. Every request needs `Authorization: Bearer akt_...`; every read "
            "is checked against the token's roles, redacted where the role requires, "
            "and recorded in the tenant's own trail. Errors are RFC 9457 problem details."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.serial = _Turns() if store.path is not None else None  # SQLite
    install_handlers(app)
    app.add_middleware(_Headers, max_body=max_body)
    write_locks: dict[str, threading.Lock] = {}
    locks_guard = threading.Lock()

    def turn() -> contextlib.AbstractContextManager[Any]:
        """The SQLite turn (nothing to wait for on PostgreSQL)."""
        serial: _Turns | None = app.state.serial
        return serial if serial is not None else contextlib.nullcontext()

    def serially(endpoint: Callable[..., Response]) -> Callable[..., Response]:
        """Run ``endpoint`` (whose response holds its whole answer, or streams a file)
        in the SQLite turn."""

        @functools.wraps(endpoint)
        def run(*args: Any, **kwargs: Any) -> Response:
            with turn():
                return endpoint(*args, **kwargs)

        return run

    # -- health ---------------------------------------------------------------------------
    @app.get("/healthz", response_model=HealthDoc, tags=["health"])
    def healthz() -> Response:
        """The process answers."""
        return _json({"status": "ok"})

    @app.get(
        "/readyz",
        response_model=HealthDoc,
        tags=["health"],
        responses={503: {"model": HealthDoc}},
    )
    def readyz() -> Response:
        """The store answers (a query reaches the database)."""
        try:
            with turn():
                store.trust()
                store.checkpoints("\x00readiness")
        except Exception as exc:
            return _json({"status": "unavailable", "detail": type(exc).__name__}, 503)
        return _json({"status": "ok"})

    # -- the viewer ------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def viewer() -> HTMLResponse:
        return HTMLResponse(_viewer_file("index.html"))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        # the viewer declares no icon of its own (an empty data: URL); a browser that
        # asks anyway, e.g. for /openapi.json, gets nothing rather than a 404 to log
        return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})

    @app.get("/viewer/{name}", include_in_schema=False)
    def viewer_asset(name: str) -> Response:
        types = {"viewer.js": "text/javascript", "viewer.css": "text/css"}
        if name not in types:
            raise Problem("not-found", f"no viewer file {name!r}")
        return Response(
            _viewer_file(name), media_type=types[name], headers={"Cache-Control": "no-cache"}
        )

    # -- tenants -----------------------------------------------------------------------------
    @app.get("/v1/tenants", response_model=TenantsDoc, responses=_ERRORS, tags=["tenants"])
    @serially
    def tenants(caller: Caller) -> Response:
        """The tenants the token may use, with what it may do on each."""
        ctx = caller.context()  # type: ignore[attr-defined]
        out = []
        for t in caller.tenants():
            perms = ctx.permissions_on(t)
            out.append(
                {
                    "tenant_id": t,
                    "permissions": sorted(p.value for p in perms),
                    "redacted": Permission.READ_UNREDACTED not in perms,
                }
            )
        return _json({"principal": ctx.principal.id, "tenants": out})

    @app.get("/v1/formats", tags=["tenants"], responses=_ERRORS)
    @serially
    def formats(caller: Caller) -> Response:
        """The export and report formats this server offers (whatever is registered)."""
        from auditkit.export import available_export_formats
        from auditkit.reports import available_formats

        caller.context()  # type: ignore[attr-defined]
        return _json(
            {
                "export": [
                    {"name": f.name, "suffix": f.suffix, "media_type": f.media_type,
                     "description": f.description}
                    for f in available_export_formats().values()
                ],
                "report": list(available_formats()),
            }
        )  # fmt: skip

    # -- events ------------------------------------------------------------------------------
    @app.get(
        "/v1/tenants/{tenant}/events",
        response_model=EventsPage,
        responses={
            **_ERRORS,
            200: {
                "content": {_NDJSON: {"schema": {"type": "string"}}},
                "description": "a page (JSON), or with format=ndjson one event per line; "
                "the next cursor is then in the Auditkit-Next-Cursor header",
            },
        },
        tags=["events"],
    )
    def list_events(
        caller: Caller,
        tenant: _TENANT,
        start: Annotated[
            str | None, Query(description="occurred at or after (RFC 3339, date, 30d)")
        ] = None,
        end: Annotated[str | None, Query(description="occurred before")] = None,
        actor: Annotated[str | None, Query(max_length=512, description="actor id")] = None,
        action: Annotated[
            str | None, Query(max_length=2048, description="actions, comma-separated")
        ] = None,
        category: Annotated[str | None, Query(max_length=200)] = None,
        outcome: Annotated[str | None, Query(max_length=200)] = None,
        target: Annotated[str | None, Query(max_length=512, description="target id")] = None,
        q: Annotated[str | None, Query(max_length=500, description="free text")] = None,
        limit: Annotated[
            int, Query(ge=1, le=MAX_PULL, description="page size (JSON: at most 1000)")
        ] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        order: Annotated[Literal["asc", "desc"], Query()] = "asc",
        format: Annotated[Literal["json", "ndjson"], Query()] = "json",
    ) -> Response:
        """Events matching the filters, a page at a time (keyset cursor on ``seq``).

        Ascending pages never skip or repeat an event while events are appended,
        and end with a cursor to poll for new ones; ``order=desc`` is newest
        first. ``format=ndjson`` streams the events among the next ``limit``
        seqs (up to 100,000) one per line, for bulk pulls.
        """
        flt = EventFilter.parse(
            start=start, end=end, actor=actor, action=action, category=category,
            outcome=outcome, target=target, q=q,
        )  # fmt: skip
        if format == "json" and limit > MAX_PAGE:
            raise bad_parameter(
                "limit", f"at most {MAX_PAGE} for JSON pages (or format=ndjson), got {limit}"
            )
        begin = decode_cursor(cursor, order, flt) if cursor else None
        caller.authorize("read", tenant)
        redacted = caller.redacted_for(tenant)
        match = flt.match()
        if flt.actor:
            match["actor_id"] = [flt.actor]  # unredacted readers: the column is the record's
        small = format == "json" and not redacted
        fast: JsonPage | None = None
        # the read takes the SQLite turn; the read's record (when the activity ends)
        # does not, so that concurrent pages share one append and one checkpoint
        with caller.activity("read", via_api="events", **flt.to_dict()) as act, turn():
            if small:
                fast = caller.json_page(
                    tenant, match=match, start_seq=begin, order=order, limit=limit,
                    start=flt.start, end=flt.end, text=flt.q, target=flt.target,
                )  # fmt: skip
            if fast is None:
                page = page_events(
                    caller, tenant, flt, start_seq=begin, limit=limit, order=order,
                    scan_only=format == "ndjson" and order == "asc",
                )  # fmt: skip
                if act is not None:
                    act.returned(page.frame)
        if fast is not None:
            return _fast_page(tenant, fast, order, flt, limit)
        nxt = encode_cursor(page.next_seq, order, flt) if page.next_seq is not None else None
        if format == "ndjson":
            frame = page.frame
            headers = {"Auditkit-Tree-Size": str(page.tree_size)}
            if nxt:
                headers["Auditkit-Next-Cursor"] = nxt

            def lines() -> Iterator[bytes]:
                for lo in range(0, frame.height, _NDJSON_SLICE):
                    yield ndjson_bytes(frame.slice(lo, _NDJSON_SLICE))

            return StreamingResponse(lines(), media_type=_NDJSON, headers=headers)
        head = orjson.dumps({"tenant_id": tenant})[:-1]
        tail = orjson.dumps(
            {"next_cursor": nxt, "complete": page.complete, "tree_size": page.tree_size,
             "redacted": redacted}
        )[1:]  # fmt: skip
        events = ",".join(json_lines(page.frame).to_list()).encode()
        return Response(
            head + b',"events":[' + events + b"]," + tail, status_code=200, media_type=_JSON
        )

    @app.get(
        "/v1/tenants/{tenant}/events/{event_id}",
        response_model=EventDoc,
        responses=_ERRORS,
        tags=["events"],
    )
    @serially
    def get_event(
        caller: Caller,
        tenant: _TENANT,
        event_id: Annotated[str, PathParam(min_length=1, max_length=512)],
    ) -> Response:
        """One event, and its inclusion proof in the tenant's signed tree.

        The proof carries the record's canonical bytes, so it needs the
        ``prove`` permission (and ``read_unredacted``); without it the event
        comes redacted and ``proof`` is null with a note saying why.
        """
        caller.authorize("read", tenant)
        redacted = caller.redacted_for(tenant)
        proof = None
        note = None
        with caller.activity("read", via_api="event", event_id=event_id) as act:
            seq = store.event_seq(tenant, event_id)  # after the read check: no oracle
            if seq is None:
                raise Problem("not-found", f"tenant {tenant!r} has no event {event_id!r}")
            frame = caller.load(tenant, seqs=(seq, seq + 1))
            if not frame.height:
                raise Problem("not-found", f"tenant {tenant!r} has no event {event_id!r}")
            found = frame.get_column("event_id")[0]
            if found != event_id:  # the look-up is an index's; the record is verified
                raise TamperedError(misdirected(tenant, event_id, seq, found))
            if act is not None:
                act.returned(frame)
        try:
            proof = caller.inclusion_proof(tenant, seq).to_dict()
        except AccessDenied as exc:
            note = str(exc)
        public = store.trust().public_key
        from auditkit.integrity import public_key_pem

        event = next(event_dicts(frame))
        return _json(
            {
                "event": event,
                "proof": proof,
                "proof_note": note,
                "public_key": public_key_pem(public),
                "redacted": redacted,
            }
        )

    # -- checkpoints ---------------------------------------------------------------------------
    @app.get(
        "/v1/tenants/{tenant}/checkpoints/latest",
        response_model=CheckpointDoc,
        responses=_ERRORS,
        tags=["integrity"],
    )
    @serially
    def latest_checkpoint(caller: Caller, tenant: _TENANT) -> Response:
        """The tenant's newest signed checkpoint and the store's public key."""
        from auditkit.integrity import key_fingerprint, public_key_pem

        cps = caller.checkpoints(tenant)
        if not cps:
            raise Problem("not-found", f"tenant {tenant!r} has no signed checkpoint")
        cp = max(cps, key=lambda c: c.tree_size)
        public = store.trust().public_key
        return _json(
            {
                "checkpoint": cp.to_dict(),
                "public_key": public_key_pem(public),
                "key_id": key_fingerprint(public),
            }
        )

    @app.get(
        "/v1/tenants/{tenant}/checkpoints/consistency",
        response_model=ConsistencyDoc,
        responses=_ERRORS,
        tags=["integrity"],
    )
    @serially
    def consistency(
        caller: Caller,
        tenant: _TENANT,
        from_: Annotated[int, Query(alias="from", ge=1, le=2**62)],
        to: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> Response:
        """Proof that the tree of size ``from`` is a prefix of the tree of size ``to``."""
        return _json(caller.consistency_proof(tenant, from_, to).to_dict())

    # -- findings, reports, exports ----------------------------------------------------------------
    @app.get(
        "/v1/tenants/{tenant}/findings",
        response_model=FindingsDoc,
        responses=_ERRORS,
        tags=["analysis"],
    )
    @serially
    def findings(
        caller: Caller,
        tenant: _TENANT,
        since: Annotated[str | None, Query(max_length=64)] = None,
        detector: Annotated[
            str | None, Query(max_length=2048, description="comma-separated")
        ] = None,
    ) -> Response:
        """The registered detectors' findings over the tenant's trail."""
        from auditkit.analytics.detectors.registry import available_detectors, run_detectors
        from auditkit.times import parse_instant

        try:
            when = parse_instant(since) if since else None
        except UsageError as exc:
            raise bad_parameter("since", str(exc)) from None
        names = [d.strip() for d in detector.split(",") if d.strip()] if detector else None
        unknown = [n for n in names or () if n not in available_detectors()]
        if unknown:
            raise bad_parameter("detector", f"no detector {unknown[0][:80]!r}")
        caller.authorize("detect", tenant)
        with caller.activity("detect", since=since, detector=detector):
            events = caller.load(tenant)
        found = run_detectors(events, names=names, since=when)
        return _json(
            {
                "tenant_id": tenant,
                "events": events.height,
                "findings": _finding_rows(found),
                "redacted": caller.redacted_for(tenant),
            }
        )

    @app.get(
        "/v1/tenants/{tenant}/reports/{framework}",
        responses={**_ERRORS, 200: {"content": {"text/html": {}, "application/json": {}}}},
        tags=["analysis"],
    )
    @serially
    def report(
        caller: Caller,
        tenant: _TENANT,
        framework: Annotated[str, PathParam(max_length=64)],
        period: Annotated[
            str | None,
            Query(
                max_length=64,
                description="START..END (days, both included), an age such as 30d or 12mo, "
                "or 'all' for the whole history; default 12mo (the last 12 months), as "
                "`auditkit report`",
            ),
        ] = None,
        format: Annotated[str, Query(max_length=16)] = "html",
    ) -> Response:
        """A compliance report on the tenant, in any report format (html, md, json, ...).

        Without ``period``, the last 12 months (as ``auditkit report``);
        ``period=all`` covers the whole history.
        """
        from auditkit.reports import available_formats, build_report, get_framework
        from auditkit.times import Period

        formats = available_formats()
        if format not in formats:
            raise bad_parameter("format", f"expected one of {', '.join(formats)}")
        asked = period or "12mo"  # the command line's default: an audit window
        try:
            span = None if asked == "all" else Period.parse(asked)
        except UsageError as exc:
            raise bad_parameter("period", str(exc).removeprefix("period: ")) from None
        get_framework(framework)
        caller.authorize("report", tenant)
        with caller.activity("report", framework=framework, period=asked, format=format):
            rep = build_report(caller, framework=framework, tenant=tenant, period=span)
        body = rep.render(format)
        media = _REPORT_TYPES.get(format, "application/octet-stream")
        name = f"{tenant}-{framework}.{format if format != 'bundle' else 'zip'}"
        return Response(
            body,
            media_type=media,
            headers={"Content-Disposition": _attachment(name)} if format != "html" else {},
        )

    @app.get(
        "/v1/tenants/{tenant}/export",
        responses={**_ERRORS, 200: {"content": {"application/octet-stream": {}}}},
        tags=["analysis"],
    )
    @serially
    def export(
        caller: Caller,
        tenant: _TENANT,
        format: Annotated[str, Query(max_length=32, description="a registered export format")],
        start: Annotated[str | None, Query(max_length=64)] = None,
        end: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Response:
        """The tenant's verified events (in ``[start, end)``) in any export format, streamed."""
        from auditkit.export import available_export_formats, export_frame

        formats = available_export_formats()
        if format not in formats:
            raise bad_parameter("format", f"expected one of {', '.join(formats)}")
        fmt = formats[format]
        flt = EventFilter.parse(start=start, end=end)
        caller.authorize("export", tenant)
        with caller.activity("export", format=format, **flt.to_dict()):
            frame = caller.load(tenant, start=flt.start, end=flt.end)
        folder = tempfile.mkdtemp(prefix="auditkit-export-")
        path = Path(folder) / f"{tenant}-events{fmt.suffix}"
        try:
            export_frame(frame, path, format=format)
        except BaseException:
            _remove(folder)
            raise
        del frame

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    yield block

        return StreamingResponse(
            chunks(),
            media_type=fmt.media_type,
            headers={"Content-Disposition": _attachment(path.name)},
            background=BackgroundTask(_remove, folder),
        )

    # -- append ----------------------------------------------------------------------------------
    @app.post(
        "/v1/tenants/{tenant}/events",
        response_model=IngestResultDoc,
        responses={**_ERRORS, 413: {"model": ProblemDoc}, 415: {"model": ProblemDoc}},
        tags=["events"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "array", "items": {"type": "object"}},
                        "example": [
                            {
                                "event_id": "e1",
                                "occurred_at": "2026-01-05T09:00:00Z",
                                "action": "user.login",
                                "actor": {"id": "u-17"},
                            }
                        ],
                    },
                    _NDJSON: {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def post_events(caller: Caller, tenant: _TENANT, request: Request) -> Response:
        """Append events: a JSON array or NDJSON, validated as the command line does.

        Each record is stored, a duplicate (its ``event_id`` is already in the
        trail: posting again is safe), or refused with the field and reason
        (and kept in the quarantine). A record naming another tenant is refused.
        """
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > max_body:
                raise Problem("too-large", f"the body is larger than {max_body} bytes")
        ctype = request.headers.get("content-type", _JSON).split(";")[0].strip().lower()
        if ctype not in _POST_TYPES:
            raise Problem(
                "unsupported-media-type",
                f"the body is {ctype[:80] or 'of no media type'}: send the events as "
                "application/json (an array) or application/x-ndjson (one per line)",
            )
        from starlette.concurrency import run_in_threadpool

        with locks_guard:
            lock = write_locks.setdefault(tenant, threading.Lock())

        def ingest() -> dict[str, Any]:
            # the SQLite turn for the work only, never while a body is still arriving
            # (a producer on a slow link held up every other request)
            with turn():
                return _ingest(caller, tenant, bytes(body), _POST_TYPES[ctype], max_records, lock)

        doc = await run_in_threadpool(ingest)
        return _json(doc)

    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """The OpenAPI document without FastAPI's own ``422`` answers: a bad parameter
        is a ``400`` problem document here (documented on every endpoint)."""
        if app.openapi_schema is None:
            doc = plain_openapi()
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    if isinstance(op, dict):
                        op.get("responses", {}).pop("422", None)
            schemas = doc.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                if f'"#/components/schemas/{name}"' not in orjson.dumps(doc).decode():
                    schemas.pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_REPORT_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "bundle": "application/zip",
}


def _fast_page(tenant: str, page: JsonPage, order: str, flt: EventFilter, limit: int) -> Response:
    """The JSON of a page that :meth:`Store.json_page` verified (as ``list_events``
    writes a loaded one: same fields, cursor and completeness)."""
    size = page.tree_size
    if order == "asc":
        nxt: int | None = page.last_seq + 1 if page.full and page.last_seq is not None else size
        complete = nxt is None or nxt >= size
    else:
        nxt = page.last_seq if page.full else None
        nxt = None if nxt == 0 else nxt
        complete = nxt is None
    cursor = encode_cursor(nxt, order, flt) if nxt is not None else None
    head = orjson.dumps({"tenant_id": tenant})[:-1]
    tail = orjson.dumps(
        {"next_cursor": cursor, "complete": complete, "tree_size": size, "redacted": False}
    )[1:]
    body = head + b',"events":[' + b",".join(page.events) + b"]," + tail
    return Response(body, status_code=200, media_type=_JSON)


def _attachment(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return f'attachment; filename="{safe}"'


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _records(body: bytes, kind: str = "json") -> list[tuple[Any, str | None]]:
    """The body's records: ``(value, None)``, or ``(None, why)`` for a line that is not JSON.

    ``kind`` is how the media type says to read it: ``json``, a JSON array (or one
    object; lines of JSON sent as ``application/json`` are read as NDJSON), or
    ``ndjson``, one record per line.  A body that is not JSON at all, in any of these
    readings, is a ``400``: nothing of it is a record to store or to quarantine.

    >>> _records(b'[{"a": 1}, 2]')
    [({'a': 1}, None), (2, None)]
    >>> _records(b'{"a": 1}\\n{oops\\n', "ndjson")[1][0] is None
    True
    >>> try:
    ...     _records(b"hello", "ndjson")
    ... except Problem as exc:
    ...     print(exc.detail.split(" (")[0])
    body: not NDJSON: no line is JSON
    """
    text = body.strip()
    if not text:
        return []
    if text[:1] == b"[":
        try:
            values = loads_json(text)
        except orjson.JSONDecodeError as exc:
            raise Problem("bad-request", f"body: not a JSON array ({exc.msg})") from None
        return [(v, None) for v in values]
    if kind == "json":
        try:
            value = loads_json(text)
        except orjson.JSONDecodeError as exc:
            if b"\n" not in text:  # one line that is not JSON: not a JSON body at all
                raise Problem("bad-request", f"body: not JSON ({exc.msg})") from None
        else:
            if not isinstance(value, dict):
                got = {str: "a string", bool: "true or false", type(None): "null"}.get(
                    type(value), "a number"
                )
                raise Problem("bad-request", f"body: expected a JSON array of events, got {got}")
            return [(value, None)]
    out: list[tuple[Any, str | None]] = []
    first_error = ""
    for n, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((loads_json(line), None))
        except orjson.JSONDecodeError as exc:
            out.append((None, f"not JSON ({exc.msg})"))
            first_error = first_error or f"line {n}: {exc.msg}"
    if all(broken is not None for _, broken in out):
        what = "NDJSON" if kind == "ndjson" else "JSON"
        raise Problem("bad-request", f"body: not {what}: no line is JSON ({first_error})")
    return out


def _finding_rows(found: Any) -> list[dict[str, Any]]:
    """Findings as JSON objects, their times as ``detect --format json`` writes them:
    RFC 3339 UTC with ``Z`` (:func:`auditkit.times.format_instant`)."""
    from datetime import datetime

    from auditkit.times import format_instant

    return [
        {k: format_instant(v) if isinstance(v, datetime) else v for k, v in row.items()}
        for row in found.to_dicts()
    ]


def _ingest(
    caller: Store,
    tenant: str,
    body: bytes,
    kind: str,
    max_records: int,
    lock: threading.Lock,
) -> dict[str, Any]:
    from auditkit.errors import SchemaError
    from auditkit.ingest.registry import get_format
    from auditkit.record import prepare_event
    from auditkit.schema import normalize_for_store

    caller.authorize("write", tenant)
    # a body that is not JSON at all is refused whole (400), before anything is
    # stored or quarantined; records that are JSON but not events are refused one
    # by one (and quarantined), as an ingest does
    records = _records(body, kind)
    if len(records) > max_records:
        raise Problem("too-large", f"{len(records)} records: at most {max_records} per request")
    fmt = get_format("auditkit")
    results: list[dict[str, Any]] = []
    prepared = []
    refused = []
    for i, (value, broken) in enumerate(records):
        try:
            if broken is not None:
                raise SchemaError(broken)
            if not isinstance(value, dict):
                raise SchemaError("expected a JSON object")
            named = value.get("tenant_id")
            if named is not None and named != tenant:
                raise SchemaError(
                    f"names tenant {str(named)[:80]!r}, the URL tenant {tenant!r}",
                    field="tenant_id",
                )
            event, checked = normalize_for_store(
                fmt.to_event({**value, "tenant_id": tenant}, tenant=tenant)
            )
            p = prepare_event(event, checked=checked)
        except SchemaError as exc:
            results.append(
                {"index": i, "status": "refused", "field": exc.field, "reason": exc.reason}
            )
            refused.append(
                {"file": f"POST /v1/tenants/{tenant}/events", "line": i + 1, "field": exc.field,
                 "reason": exc.reason, "record": dumps_json(value)[:65536]}
            )  # fmt: skip
            continue
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            reason = f"could not read this record ({type(exc).__name__})"
            results.append({"index": i, "status": "refused", "field": None, "reason": reason})
            refused.append({"file": f"POST /v1/tenants/{tenant}/events", "line": i + 1,
                            "reason": reason})  # fmt: skip
            continue
        results.append({"index": i, "status": "stored", "event_id": p.event_id})
        prepared.append((len(results) - 1, p))
    seen: set[str] = set()
    fresh = []
    for idx, p in prepared:
        if p.event_id in seen:  # a second copy in the same body
            results[idx]["status"] = "duplicate"
        else:
            seen.add(p.event_id)
            fresh.append((idx, p))
    if fresh:
        # the append says which events the trail held already (in its own transaction,
        # so a concurrent writer cannot make a duplicate look stored)
        held: set[tuple[str, str]] = set()
        with lock:
            caller.append_prepared([p for _, p in fresh], duplicates=held)
        for idx, p in fresh:
            if (tenant, p.event_id) in held:
                results[idx]["status"] = "duplicate"
    if refused:
        caller.quarantine(refused)
    counts = {
        s: sum(1 for r in results if r["status"] == s) for s in ("stored", "duplicate", "refused")
    }
    return {
        "tenant_id": tenant,
        "stored": counts["stored"],
        "duplicates": counts["duplicate"],
        "refused": counts["refused"],
        "results": results,
    }
