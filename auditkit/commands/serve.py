"""``auditkit serve STORE [--host 127.0.0.1] [--port 8080]``: the pull API and the viewer.

Loopback by default: to reach it from elsewhere, put a TLS-terminating reverse
proxy in front (see ``docs/api.md``).  On SIGTERM or Ctrl-C the server stops
taking new connections and finishes the requests in flight, so no write it
accepted is lost.  Access log lines carry method, path and status only: never the
``Authorization`` header, the query string (filter values such as e-mail addresses,
a token put in the URL by mistake) nor the client's address.
"""

from __future__ import annotations

import argparse
import copy
import errno
import logging
import os
import re
import socket
from typing import Any, Final

from auditkit.commands.base import command, open_store, store_argument
from auditkit.errors import UsageError

__all__: list[str] = []

#: The largest --max-body-mb: a POST body is held in memory whole.
_MAX_BODY_MB = 4096


def _args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free one)")
    p.add_argument(
        "--max-body-mb", type=int, default=32, metavar="MB", help="largest POST body (default 32)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes (default 1); one per core serves more concurrent requests, "
        "since each process has its own Python interpreter",
    )
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")


def _tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path of a long-lived server.

    A request parses and builds thousands of small dicts and lists (a POST of 1,000
    events, a page), which hold no cycles; with the default thresholds the
    collector runs every 700 allocations and rescans the whole heap, the libraries
    loaded at start-up included, every few of those runs: about a fifth of the
    CPU of a POST.  What was loaded by now is frozen out of its scans, and it runs
    less often; it still collects cycles.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@command("serve", "serve the pull API and the web viewer (loopback by default)")(_args)
def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from auditkit.api import create_app
    except ImportError as exc:  # the api extra is not installed
        raise UsageError(
            f"serve needs the api extra: pip install 'auditkit[api]' ({exc})"
        ) from None
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0..65535, got {args.port}")
    if not 1 <= args.workers <= 64:
        raise UsageError(f"--workers: expected 1..64, got {args.workers}")
    if not 1 <= args.max_body_mb <= _MAX_BODY_MB:
        raise UsageError(f"--max-body-mb: expected 1..{_MAX_BODY_MB}, got {args.max_body_mb}")
    store = open_store(args)  # checked (and upgraded) once, before any worker starts
    sock = _listen(args.host, args.port)  # before any work: a taken port is a usage error
    host, port = sock.getsockname()[:2]
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "access_log": not args.no_access_log,
        "log_config": _log_config(),
        "log_level": "info",
        "timeout_graceful_shutdown": 60,
        "server_header": False,
        "proxy_headers": False,
    }
    shown = f"[{host}]" if ":" in host else host
    workers = f" with {args.workers} worker processes" if args.workers > 1 else ""
    print(
        f"auditkit: serving {store.location} on http://{shown}:{port}/{workers} "
        "(viewer at /, API under /v1, OpenAPI at /openapi.json); Ctrl-C stops",
        flush=True,
    )
    if args.workers > 1:
        # each worker is a new interpreter that opens the store itself (the app is
        # made by _worker_app from these variables); SQLite serialises their writes
        store.close()
        os.environ[_ENV_STORE] = store.location
        os.environ[_ENV_KEY] = str(store.key_path)
        os.environ[_ENV_BODY] = str(args.max_body_mb * 1024 * 1024)
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config(
            f"{__name__}:_worker_app", factory=True, workers=args.workers, **options
        )
        try:
            Multiprocess(config, sockets=[sock]).run()
        finally:
            sock.close()
        return 0
    app = create_app(store, max_body=args.max_body_mb * 1024 * 1024)
    _tune_gc()
    server = uvicorn.Server(uvicorn.Config(app, **options))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn stops on Ctrl-C or SIGTERM by finishing the requests under way, then
        # raises the signal again: the server stopped as asked, a clean stop (exit 0)
        pass
    finally:
        sock.close()
        store.close()
    return 0


class _AccessLogFilter(logging.Filter):
    """Reduce each record of uvicorn's access log to method, path and status.

    uvicorn logs ``(client address, method, path with its query string, HTTP
    version, status)``.  The query string holds what a reader filtered on (an actor's
    e-mail address, free text) and whatever was put in the URL, a refused
    ``?access_token=`` included; the client's address is personal data.  Both are
    left out; the path keeps printable ASCII only (anything else percent-encoded), so
    a request cannot write a line of its own into the log.

    >>> record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0,
    ...     '%s - "%s %s HTTP/%s" %d',
    ...     ("10.0.0.7:5123", "GET", "/v1/tenants/a/events?actor=ann@x.com", "1.1", 200), None)
    >>> _AccessLogFilter().filter(record), record.getMessage()
    (True, '- - "GET /v1/tenants/a/events HTTP/1.1" 200')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, path, version, status = args
            record.args = ("-", method, _path_only(path), version, status)
        return True


_NOT_PRINTABLE: Final = re.compile(r"[^\x21-\x7e]")


def _path_only(path: object) -> str:
    """The path of a request target, without its query string, printable ASCII only.

    >>> _path_only("/v1/x?access_token=akt_1"), _path_only("/a\\x85b\\nc?q")
    ('/v1/x', '/a%85b%0Ac')
    """
    text = str(path).split("?", 1)[0].split("#", 1)[0]
    return _NOT_PRINTABLE.sub(_percent, text)


def _percent(m: re.Match[str]) -> str:
    char = m.group()
    data = char.encode("latin-1") if ord(char) < 256 else char.encode("utf-8", "replace")
    return "".join(f"%{b:02X}" for b in data)


def _log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, its access log reduced to method, path and
    status (:class:`_AccessLogFilter`).  Given to uvicorn's ``Config``, so that each
    worker process of ``--workers N`` configures its logging the same way."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["auditkit_access"] = {"()": f"{__name__}._AccessLogFilter"}
    config["formatters"]["access"]["fmt"] = '%(levelprefix)s "%(request_line)s" %(status_code)s'
    config["loggers"]["uvicorn.access"]["filters"] = ["auditkit_access"]
    return config


_ENV_STORE: Final = "AUDITKIT_SERVE_STORE"
_ENV_KEY: Final = "AUDITKIT_SERVE_KEY"
_ENV_BODY: Final = "AUDITKIT_SERVE_MAX_BODY"


def _worker_app() -> Any:
    """The application of one worker process of ``serve --workers N``."""
    from auditkit.api import create_app
    from auditkit.store import Store

    store = Store.open(os.environ[_ENV_STORE], key=os.environ[_ENV_KEY])
    app = create_app(store, max_body=int(os.environ[_ENV_BODY]))
    _tune_gc()
    return app


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or a usage error that
    says why not (a port in use, an address not on this machine, a name unknown).

    >>> s = _listen("127.0.0.1", 0)
    >>> _listen("127.0.0.1", s.getsockname()[1])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --port ...: 127.0.0.1:... is in use (another server?); ...
    >>> s.close()
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"--port {port}: {host}:{port} is in use (another server?); choose another "
                "--port, or 0 for any free one"
            ) from None
        if exc.errno == errno.EACCES:
            raise UsageError(
                f"--port {port}: not allowed to listen on it (ports below 1024 need "
                "privileges); choose a port of 1024 or more"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"--host {host}: not an address of this machine") from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock
