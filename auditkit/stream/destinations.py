"""Push destinations, named in a TOML file, and how each one delivers a batch.

A config file names each destination in its own table::

    [destinations.soc-webhook]
    type = "webhook"                     # HTTPS POST of the batch, HMAC-signed
    url = "https://siem.example.com/auditkit"
    secret_env = "AUDITKIT_WEBHOOK_SECRET"   # or secret_file = "/run/secrets/webhook"
    format = "ocsf"                      # any export format (default ndjson)

    [destinations.splunk]
    type = "hec"                         # Splunk HTTP Event Collector
    url = "https://splunk.example.com:8088/services/collector/event"
    token_env = "SPLUNK_HEC_TOKEN"

    [destinations.qradar]
    type = "syslog"                      # RFC 5424 over TCP, RFC 6587 octet counting
    format = "leef"                      # syslog (default), or CEF/LEEF inside RFC 5424
    host = "qradar.example.com"
    port = 6514
    tls = true                           # syslog over TLS (RFC 5425)
    ca_file = "/etc/ssl/qradar-ca.pem"

    [destinations.archive]
    type = "folder"                      # one NDJSON file per batch, and its header
    path = "/var/lib/auditkit/outbox"

    [destinations.lake]
    type = "s3"                          # an object per batch (S3 or compatible)
    bucket = "audit-lake"
    prefix = "auditkit/"
    endpoint_url = "https://minio.example.com"   # for S3-compatible stores
    access_key_env = "LAKE_ACCESS_KEY"
    secret_key_env = "LAKE_SECRET_KEY"

Secrets (``secret``, ``token``, S3 keys) come only from an environment variable
(``*_env``) or a file (``*_file``): a config file that holds one in the clear is
refused, and no secret is ever taken from the command line or printed.  Plain
``http://`` is allowed only to a loopback address (tests, a local agent).

Every destination also takes ``batch_size`` (events per batch, default 2,000),
``timeout`` (seconds, default 10), ``max_attempts`` (default 8), ``retry_base``
and ``retry_cap`` (seconds; exponential backoff with full jitter between them).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import tomllib
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import orjson

from auditkit.errors import UsageError
from auditkit.stream.batches import Batch, sign_request

__all__ = [
    "DESTINATION_TYPES",
    "DeliveryError",
    "Destination",
    "DestinationConfig",
    "load_destinations",
    "open_destination",
    "url_destination",
]

#: type -> the export format it sends by default.
DESTINATION_TYPES: Final = {
    "webhook": "ndjson",
    "hec": "hec",
    "syslog": "syslog",
    "folder": "ndjson",
    "s3": "ndjson",
}
_SECRET_KEYS: Final = ("secret", "token", "access_key", "secret_key", "password")
_LOOPBACK: Final = ("127.0.0.1", "localhost", "::1", "[::1]")


class DeliveryError(Exception):
    """A batch was not delivered.  ``retry``: whether trying again may help (time
    outs, refused connections, 5xx, 429); ``after``: seconds the receiver asked
    to wait (``Retry-After``)."""

    def __init__(self, message: str, *, retry: bool, after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.after = after


@dataclass(frozen=True)
class DestinationConfig:
    """One destination of the config file (secrets resolved, never printed)."""

    name: str
    type: str
    options: Mapping[str, Any]
    secrets: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    format: str = "ndjson"
    batch_size: int = 2000
    timeout: float = 10.0
    max_attempts: int = 8
    retry_base: float = 0.5
    retry_cap: float = 30.0


class Destination(Protocol):
    """Something that takes a batch, or raises :class:`DeliveryError`."""

    config: DestinationConfig

    def deliver(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


def _secret(name: str, table: Mapping[str, Any], key: str, *, where: str) -> bytes | None:
    env, file = table.get(f"{key}_env"), table.get(f"{key}_file")
    if env is not None:
        value = os.environ.get(str(env))
        if not value:
            raise UsageError(
                f"{where}: destination {name!r}: environment variable {env} is not set"
            )
        return value.encode()
    if file is not None:
        path = Path(str(file)).expanduser()
        if not path.is_file():
            raise UsageError(f"{where}: destination {name!r}: {key}_file {path} is not a file")
        return path.read_bytes().strip()
    return None


def _config(name: str, table: Mapping[str, Any], *, where: str) -> DestinationConfig:
    kind = table.get("type")
    if kind not in DESTINATION_TYPES:
        raise UsageError(
            f"{where}: destination {name!r}: type: expected one of "
            f"{', '.join(DESTINATION_TYPES)}, got {kind!r}"
        )
    clear = [k for k in table if k in _SECRET_KEYS]
    if clear:
        raise UsageError(
            f"{where}: destination {name!r}: {clear[0]!r} in the clear; use {clear[0]}_env "
            f"(an environment variable) or {clear[0]}_file"
        )
    secrets = {
        k: v for k in _SECRET_KEYS if (v := _secret(name, table, k, where=where)) is not None
    }
    numbers: dict[str, Any] = {}
    for key, kind_of, low in (
        ("batch_size", int, 1),
        ("max_attempts", int, 1),
        ("timeout", float, 0.001),
        ("retry_base", float, 0.0),
        ("retry_cap", float, 0.0),
    ):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
                raise UsageError(
                    f"{where}: destination {name!r}: {key}: expected a number >= {low}"
                )
            numbers[key] = kind_of(value)
    config = DestinationConfig(
        name,
        str(kind),
        dict(table),
        secrets,
        format=str(table.get("format") or DESTINATION_TYPES[str(kind)]),
        **numbers,
    )
    _check(config, where=where)
    return config


def _check(c: DestinationConfig, *, where: str) -> None:
    need = {
        "webhook": ("url",),
        "hec": ("url",),
        "syslog": ("host", "port"),
        "folder": ("path",),
        "s3": ("bucket",),
    }[c.type]
    missing = [k for k in need if k not in c.options]
    if missing:
        raise UsageError(f"{where}: destination {c.name!r}: missing {', '.join(missing)}")
    if c.type in ("webhook", "hec"):
        url = urllib.parse.urlsplit(str(c.options["url"]))
        if url.scheme not in ("https", "http") or not url.hostname:
            raise UsageError(f"{where}: destination {c.name!r}: url: expected https://host/...")
        if url.scheme == "http" and url.hostname not in _LOOPBACK:
            raise UsageError(
                f"{where}: destination {c.name!r}: plain http:// only to a loopback address; "
                "use https://"
            )
        key = "secret" if c.type == "webhook" else "token"
        if key not in c.secrets:
            raise UsageError(f"{where}: destination {c.name!r}: set {key}_env or {key}_file")
    if c.type == "hec" and c.format != "hec":
        raise UsageError(f"{where}: destination {c.name!r}: a hec destination sends format hec")
    if c.type == "syslog" and c.format not in ("syslog", "cef", "leef"):
        raise UsageError(
            f"{where}: destination {c.name!r}: a syslog destination sends syslog, cef or leef"
        )


def load_destinations(
    path: str | os.PathLike[str], only: Iterable[str] | None = None
) -> dict[str, DestinationConfig]:
    """The destinations of a TOML config file, by name; with ``only``, those of these
    names alone, so that streaming to one needs none of the others' secrets (a name the
    file does not hold is a :class:`UsageError` listing those it does).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "stream.toml")
    >>> _ = open(p, "w").write('[destinations.out]\\ntype = "folder"\\npath = "outbox"\\n')
    >>> load_destinations(p)["out"].format
    'ndjson'
    """
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    tables = doc.get("destinations")
    if not isinstance(tables, dict) or not tables:
        raise UsageError(f"{path}: expected [destinations.NAME] tables")
    named = {name: table for name, table in tables.items() if isinstance(table, dict)}
    wanted = set(named) if only is None else set(only)
    unknown = sorted(wanted - set(named))
    if unknown:
        raise UsageError(f"{path}: no destination {unknown[0]!r}; known: {', '.join(named)}")
    return {
        name: _config(name, table, where=str(path))
        for name, table in named.items()
        if name in wanted
    }


def url_destination(url: str) -> DestinationConfig:
    """A webhook destination given as ``--to URL`` (secret from
    ``$AUDITKIT_WEBHOOK_SECRET`` or ``$AUDITKIT_WEBHOOK_SECRET_FILE``); its cursor
    is kept under the URL without query or credentials."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        raise UsageError("--to: put no credentials in the URL; use a config file")
    table = {"type": "webhook", "url": url, "secret_env": "AUDITKIT_WEBHOOK_SECRET"}
    if not os.environ.get("AUDITKIT_WEBHOOK_SECRET") and os.environ.get(
        "AUDITKIT_WEBHOOK_SECRET_FILE"
    ):
        table = {**table, "secret_file": os.environ["AUDITKIT_WEBHOOK_SECRET_FILE"]}
        del table["secret_env"]
    name = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return _config(name[:200], table, where="--to")


def _tls_context(options: Mapping[str, Any]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=options.get("ca_file"))
    if options.get("cert_file"):
        ctx.load_cert_chain(options["cert_file"], options.get("key_file"))
    return ctx


# -- HTTP ---------------------------------------------------------------------------------
class _Http:
    """One keep-alive connection to an HTTP(S) endpoint, reopened after an error."""

    def __init__(self, config: DestinationConfig) -> None:
        self.config = config
        self.url = urllib.parse.urlsplit(str(config.options["url"]))
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            host, port, timeout = self.url.hostname or "", self.url.port, self.config.timeout
            if self.url.scheme == "https":
                self._conn = http.client.HTTPSConnection(
                    host, port, timeout=timeout, context=_tls_context(self.config.options)
                )
            else:
                self._conn = http.client.HTTPConnection(host, port, timeout=timeout)
        return self._conn

    def post(self, body: bytes, headers: Mapping[str, str]) -> None:
        path = self.url.path or "/"
        if self.url.query:
            path += "?" + self.url.query
        try:
            conn = self._connection()
            conn.request("POST", path, body=body, headers=dict(headers))
            resp = conn.getresponse()
            detail = resp.read(2048)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retry=True) from None
        if 200 <= resp.status < 300:
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return
        self.close()
        after = resp.getheader("Retry-After")
        wait = float(after) if after and after.strip().isdigit() else None
        retry = resp.status in (408, 425, 429) or resp.status >= 500
        text = detail.decode("utf-8", "replace").strip().splitlines()[:1]
        raise DeliveryError(
            f"HTTP {resp.status} {resp.reason}{': ' + text[0][:200] if text else ''}",
            retry=retry,
            after=wait,
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Webhook:
    """POST each batch's envelope, signed (see :mod:`auditkit.stream.batches`)."""

    def __init__(self, config: DestinationConfig) -> None:
        self.config = config
        self._http = _Http(config)

    def deliver(self, batch: Batch) -> None:
        body = batch.envelope()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "auditkit-stream",
            **batch.headers(),
            **sign_request(self.config.secrets["secret"], body),
        }
        self._http.post(body, headers)

    def close(self) -> None:
        self._http.close()


class Hec:
    """POST each batch to Splunk's HTTP Event Collector (``Authorization: Splunk``)."""

    def __init__(self, config: DestinationConfig) -> None:
        self.config = config
        self._http = _Http(config)

    def deliver(self, batch: Batch) -> None:
        token = self.config.secrets["token"].decode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Splunk {token}",
            **batch.headers(),
        }
        self._http.post(b"\n".join(batch.records), headers)

    def close(self) -> None:
        self._http.close()


# -- syslog -------------------------------------------------------------------------------
class Syslog:
    """RFC 5424 messages over TCP with RFC 6587 octet counting (``tls = true``: over
    TLS, RFC 5425).  After each batch, a marker message ``auditkit.batch`` carries
    the batch header (seq range, event count, checkpoint).  TCP has no
    application acknowledgement: a batch counts as delivered when the kernel
    accepted all its bytes."""

    def __init__(self, config: DestinationConfig) -> None:
        self.config = config
        self._sock: socket.socket | None = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            o = self.config.options
            raw = socket.create_connection((str(o["host"]), int(o["port"])), self.config.timeout)
            if o.get("tls"):
                raw = _tls_context(o).wrap_socket(raw, server_hostname=str(o["host"]))
            self._sock = raw
        return self._sock

    def deliver(self, batch: Batch) -> None:
        from auditkit.export.syslog import sd_escape

        head = batch.header()
        cp = head["checkpoint"]
        sd = " ".join(
            f'{k}="{sd_escape(str(v))}"'
            for k, v in (
                ("batch_id", batch.batch_id),
                ("tenant_id", batch.tenant_id),
                ("first_seq", batch.first_seq),
                ("end_seq", batch.end_seq),
                ("count", len(batch.records)),
                ("tree_size", cp.get("tree_size")),
                ("root_hash", cp.get("root_hash")),
                ("checkpoint_time", cp.get("timestamp")),
            )
        )
        marker = f"<110>1 - - auditkit - auditkit.batch [auditkit-batch@32473 {sd}]".encode()
        records = batch.records
        if batch.format != "syslog":  # CEF or LEEF as the MSG of an RFC 5424 header
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            prefix = f"<110>1 {now} - auditkit - {batch.format.upper()} - ".encode()
            records = [prefix + r for r in records]
        frames = b"".join(b"%d %s" % (len(m), m) for m in [*records, marker])
        try:
            self._socket().sendall(frames)
        except OSError as exc:
            self.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retry=True) from None

    def close(self) -> None:
        """Close so that nothing sent is lost: a TLS close_notify, then a half-close and
        a drain until the receiver closes too.  Closing a socket with unread data (a TLS
        1.3 session ticket is enough) sends a reset, which can make the receiver drop
        bytes it had not read yet: the last batch, with TCP's lack of acknowledgement."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            sock.settimeout(self.config.timeout)
            if isinstance(sock, ssl.SSLSocket):
                with contextlib.suppress(OSError, ValueError):
                    sock = sock.unwrap()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
        finally:
            sock.close()


# -- files and objects --------------------------------------------------------------------
def _object_name(batch: Batch, suffix: str) -> str:
    tenant = urllib.parse.quote(batch.tenant_id, safe="")
    return f"{tenant}/{batch.first_seq:015d}-{batch.end_seq:015d}{suffix}"


class Folder:
    """One file of records per batch, ``<tenant>/<first>-<end><suffix>``, and its header
    ``.batch.json`` beside it; each written to a temporary name, flushed to disk
    and renamed, so a reader never sees half a file, and a batch sent twice is the
    same file."""

    def __init__(self, config: DestinationConfig) -> None:
        self.config = config
        self.root = Path(str(config.options["path"])).expanduser()

    def deliver(self, batch: Batch) -> None:
        from auditkit.export import get_export_format

        suffix = get_export_format(batch.format).suffix
        target = self.root / _object_name(batch, suffix)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(target, b"".join(r + b"\n" for r in batch.records))
            _atomic_write(
                target.with_name(target.name + ".batch.json"), orjson.dumps(batch.header()) + b"\n"
            )
        except OSError as exc:
            raise DeliveryError(f"{target}: {exc.strerror or exc}", retry=True) from None

    def close(self) -> None:
        pass


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class S3:
    """One object per batch in an S3 (or S3-compatible) bucket, ``<prefix><tenant>/
    <first>-<end><suffix>``, with the batch header in its ``x-amz-meta-auditkit-*``
    metadata and as a ``.batch.json`` object beside it.  Needs ``boto3``."""

    def __init__(self, config: DestinationConfig) -> None:
        try:
            import boto3
        except ImportError:
            raise UsageError(
                f"destination {config.name!r}: the s3 destination needs boto3 "
                "(pip install 'auditkit[s3]')"
            ) from None
        self.config = config
        o = config.options
        self._client = boto3.client(
            "s3",
            endpoint_url=o.get("endpoint_url"),
            region_name=o.get("region", "us-east-1"),
            aws_access_key_id=_text(config.secrets.get("access_key")),
            aws_secret_access_key=_text(config.secrets.get("secret_key")),
        )

    def deliver(self, batch: Batch) -> None:
        from auditkit.export import get_export_format

        o = self.config.options
        key = str(o.get("prefix", "")) + _object_name(batch, get_export_format(batch.format).suffix)
        meta = {
            "auditkit-batch": batch.batch_id,
            "auditkit-tenant": urllib.parse.quote(batch.tenant_id),
            "auditkit-root": str(batch.checkpoint.get("root_hash")),
        }
        try:
            self._client.put_object(
                Bucket=o["bucket"],
                Key=key,
                Metadata=meta,
                Body=b"".join(r + b"\n" for r in batch.records),
            )
            self._client.put_object(
                Bucket=o["bucket"], Key=key + ".batch.json", Body=orjson.dumps(batch.header())
            )
        except Exception as exc:  # botocore's errors: connection, throttling, 5xx
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            retry = status is None or status >= 500 or status in (408, 429)
            raise DeliveryError(f"S3 {type(exc).__name__}: {exc}", retry=retry) from None

    def close(self) -> None:
        pass


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def open_destination(config: DestinationConfig) -> Destination:
    """The destination object of a config."""
    kinds: dict[str, Any] = {
        "webhook": Webhook,
        "hec": Hec,
        "syslog": Syslog,
        "folder": Folder,
        "s3": S3,
    }
    out: Destination = kinds[config.type](config)
    return out
