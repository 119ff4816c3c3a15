"""Home-grown logs: CSV, NDJSON or JSON read through a column mapping file (YAML or TOML).

A mapping file says which source column (or dotted path, for JSON records)
fills each canonical field, how to read timestamps, and how to translate
source values (``LOGIN_FAIL`` -> ``user.login`` with outcome ``failure``)::

    format: csv                 # csv | ndjson | json (default: from the file)
    tenant: acme                # constant tenant (else fields.tenant_id, else --tenant)
    time_format: "%d/%m/%Y %H:%M:%S"   # strptime format, or epoch_s / epoch_ms / rfc3339
    timezone: "+01:00"          # for timestamps written without a zone
    event_id_prefix: "billing:"
    fields:
      occurred_at: ts
      event_id: id
      action: event
      actor.id: user_id
      actor.email: email
      actor.type: {value: user}     # a constant
      source.ip: client_ip
      targets.id: doc_id            # one target: targets.id / .type / .name
      targets.type: {value: document}
      metadata.plan: plan           # any metadata.<key>
    values:
      action:
        LOGIN_OK: user.login
        LOGIN_FAIL: {action: user.login, outcome: failure}
      outcome: {OK: success, FAIL: failure}

``docs/formats.md`` documents every key.  The CLI builds the format with
:func:`load_mapping` (``auditkit ingest STORE FILE --mapping map.yaml``);
the registered ``mapped`` format without a mapping refuses to run.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import yaml

from auditkit.errors import SchemaError, UsageError
from auditkit.ingest._base import RawRecord
from auditkit.ingest._mapping import (
    MAX_ID,
    check_action,
    finish,
    geo,
    json_safe,
    resolve_tenant,
    text,
    timestamp,
)
from auditkit.ingest._readers import iter_csv, iter_ndjson, loads_json, read_head
from auditkit.ingest._readers_extra import iter_json_auto, json_layout
from auditkit.ingest.registry import register
from auditkit.schema import ACTOR_TYPES, CATEGORIES, OUTCOMES, infer_category

__all__ = ["MappedFormat", "load_mapping"]

_TOP_KEYS = frozenset(
    (
        "format",
        "tenant",
        "time_format",
        "timezone",
        "event_id_prefix",
        "fields",
        "values",
        "name",
        "description",
    )
)
_FIELDS = frozenset(
    (
        "tenant_id",
        "event_id",
        "occurred_at",
        "action",
        "category",
        "outcome",
        "actor.id",
        "actor.type",
        "actor.name",
        "actor.email",
        "actor.roles",
        "targets",
        "targets.id",
        "targets.type",
        "targets.name",
        "source.ip",
        "source.user_agent",
        "source.geo.country",
        "source.geo.city",
        "source.geo.lat",
        "source.geo.lon",
        "observer.service",
        "observer.version",
        "observer.region",
        "request_id",
        "session_id",
        "description",
        "changes.before",
        "changes.after",
    )
)
_VALUE_MAPS = frozenset(("action", "outcome", "category", "actor.type"))
_INPUTS = ("csv", "ndjson", "json")
_EPOCHS = {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us", "epoch_ns": "ns", "epoch": "auto"}
_ACTION_RE = re.compile(r"^[a-z0-9_\-]+(\.[a-z0-9_\-]+)+\Z")

Getter = Callable[[Mapping[str, Any]], Any]


def _getter(spec: Any, where: str) -> tuple[Getter, str]:
    """(function reading the value from a record, the source name to cite in errors)."""
    if isinstance(spec, str) and spec:
        path = spec.split(".")

        def get(record: Mapping[str, Any]) -> Any:
            if spec in record:
                value = record[spec]
            else:
                value = record
                for part in path:
                    if not isinstance(value, Mapping):
                        return None
                    value = value.get(part)
            return None if value == "" else value

        return get, spec
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"value", "column", "path", "default"}
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {sorted(unknown)}; expected column, "
                "path, value or default"
            )
        if "value" in spec:
            const = spec["value"]
            return (lambda record: const), where
        column = spec.get("column") or spec.get("path")
        if not isinstance(column, str) or not column:
            raise UsageError(f"{where}: expected a column name, or {{value: ...}}")
        inner, name = _getter(column, where)
        default = spec.get("default")

        def get_default(record: Mapping[str, Any]) -> Any:
            value = inner(record)
            return default if value is None else value

        return get_default, name
    raise UsageError(f"{where}: expected a column name or a mapping, got {spec!r}")


class MappedFormat:
    """CSV/NDJSON/JSON records read through a column mapping (``--format mapped --mapping FILE``).

    Parameters
    ----------
    mapping
        The mapping (as loaded from YAML or TOML); ``None`` makes the entry
        the registry lists, which reads nothing and asks for ``--mapping``.
    source
        Where the mapping came from, for messages.

    Raises
    ------
    UsageError
        When the mapping is not valid (unknown keys, unmapped required
        fields, values that are not canonical), naming the key.

    Examples
    --------
    >>> fmt = MappedFormat({"tenant": "acme", "fields": {
    ...     "occurred_at": "when", "action": "what", "actor.id": "who", "source.ip": "ip"},
    ...     "values": {"action": {"LOGIN_FAIL": {"action": "user.login", "outcome": "failure"}}}})
    >>> e = fmt.to_event({"when": "2024-07-01T10:00:00Z", "what": "LOGIN_FAIL", "who": "u1",
    ...                   "ip": "203.0.113.4"}, tenant=None)
    >>> e["action"], e["outcome"], e["actor"], e["source"]
    ('user.login', 'failure', {'id': 'u1'}, {'ip': '203.0.113.4'})
    """

    name = "mapped"
    description = "CSV, NDJSON or JSON through a column mapping file (needs --mapping FILE)"

    def __init__(
        self, mapping: Mapping[str, Any] | None = None, *, source: str = "<mapping>"
    ) -> None:
        self.source = source
        self.configured = mapping is not None
        self.mapping: dict[str, Any] = dict(mapping or {})
        if mapping is not None:
            self._compile()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MappedFormat:
        """Load a mapping file: ``.toml`` as TOML, anything else as YAML (or JSON).

        Examples
        --------
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.yaml")
        >>> _ = open(p, "w").write("fields: {occurred_at: t, action: a, actor.id: u}\\n")
        >>> MappedFormat.from_file(p).source.endswith("m.yaml")
        True
        """
        name = os.fspath(path)
        try:
            with open(name, "rb") as f:
                raw = f.read(1024 * 1024)
        except OSError as exc:
            raise UsageError(f"{name}: cannot read the mapping file ({exc.strerror})") from None
        try:
            if name.lower().endswith(".toml"):
                data: Any = tomllib.loads(raw.decode("utf-8"))
            else:
                data = yaml.safe_load(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise UsageError(f"{name}: the mapping file is not valid: {exc}") from None
        if not isinstance(data, Mapping):
            raise UsageError(f"{name}: expected a mapping with a 'fields' table")
        return cls(data, source=name)

    # -- compile the mapping once --------------------------------------------------

    def _compile(self) -> None:
        m = self.mapping
        where = self.source
        unknown = set(m) - _TOP_KEYS
        if unknown:
            raise UsageError(
                f"{where}: unknown key(s) {sorted(unknown)}; expected "
                f"{', '.join(sorted(_TOP_KEYS))}"
            )
        fields = m.get("fields")
        if not isinstance(fields, Mapping) or not fields:
            raise UsageError(
                f"{where}: expected a 'fields' table mapping canonical fields to source columns"
            )
        self.getters: dict[str, tuple[Getter, str]] = {}
        for key, spec in fields.items():
            if key not in _FIELDS and not (
                isinstance(key, str) and key.startswith("metadata.") and len(key) > 9
            ):
                raise UsageError(
                    f"{where}: fields.{key}: not a canonical field (expected one "
                    f"of {', '.join(sorted(_FIELDS))}, or metadata.<key>)"
                )
            self.getters[key] = _getter(spec, f"{where}: fields.{key}")
        for required in ("occurred_at", "action", "actor.id"):
            if required not in self.getters:
                raise UsageError(f"{where}: fields.{required} is required")
        fmt = m.get("format")
        if fmt is not None and fmt not in _INPUTS:
            raise UsageError(f"{where}: format: expected one of {', '.join(_INPUTS)}, got {fmt!r}")
        self.input = fmt
        tf = m.get("time_format")
        if tf is not None and not isinstance(tf, str):
            raise UsageError(f"{where}: time_format: expected a string")
        self.epoch = _EPOCHS.get(tf or "")
        self.strptime = None if tf in (None, "rfc3339") or self.epoch else tf
        tz = m.get("timezone")
        if tz is not None and (
            not isinstance(tz, str) or not re.fullmatch(r"(?i:utc|z)|[+-]\d{2}:\d{2}", tz)
        ):
            raise UsageError(f"{where}: timezone: expected 'UTC' or an offset like '+02:00'")
        self.timezone = tz
        tenant = m.get("tenant")
        if tenant is not None and text(tenant) is None:
            raise UsageError(f"{where}: tenant: expected a non-empty string")
        self.tenant = tenant
        prefix = m.get("event_id_prefix", "")
        if not isinstance(prefix, str):
            raise UsageError(f"{where}: event_id_prefix: expected a string")
        self.prefix = prefix
        self.values: dict[str, dict[str, Any]] = {}
        values = m.get("values") or {}
        if not isinstance(values, Mapping):
            raise UsageError(f"{where}: values: expected a table per field")
        for key, table in values.items():
            if key not in _VALUE_MAPS or not isinstance(table, Mapping):
                raise UsageError(
                    f"{where}: values.{key}: expected a table for one of "
                    f"{', '.join(sorted(_VALUE_MAPS))}"
                )
            self.values[key] = {str(k): self._check_value(key, k, v) for k, v in table.items()}

    def _check_value(self, key: str, source_value: Any, value: Any) -> Any:
        where = f"{self.source}: values.{key}.{source_value}"
        if key == "action" and isinstance(value, Mapping):
            extra = set(value) - {"action", "outcome", "category"}
            if extra or "action" not in value:
                raise UsageError(f"{where}: expected {{action: ..., outcome: ..., category: ...}}")
            check_action(value["action"], where=where)
            for sub, allowed in (("outcome", OUTCOMES), ("category", CATEGORIES)):
                if sub in value and value[sub] not in allowed:
                    raise UsageError(f"{where}.{sub}: expected one of {', '.join(allowed)}")
            return dict(value)
        if key == "action":
            return {"action": check_action(value, where=where)}
        choices = {"outcome": OUTCOMES, "category": CATEGORIES, "actor.type": ACTOR_TYPES}[key]
        if value not in choices:
            raise UsageError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
        return value

    # -- the Format protocol -----------------------------------------------------

    def _require(self) -> None:
        if not self.configured:
            raise UsageError(
                "the mapped format needs a mapping file: pass --mapping FILE (see docs/formats.md)"
            )

    def sniff(self, head: bytes, path: str) -> int:
        """Always 0: a mapping is chosen by the user, never guessed."""
        return 0

    def records(self, path: str) -> Iterator[RawRecord]:
        """Stream the file as CSV, NDJSON or JSON (the mapping's ``format``, else guessed)."""
        self._require()
        kind = self._kind(path)
        if kind == "csv":
            return iter_csv(path)
        if kind == "ndjson":
            return iter_ndjson(path)
        return iter_json_auto(path)

    def ndjson(self, path: str) -> bool:
        """Whether ``path`` holds one record per line (a parallel ingest splits it)."""
        self._require()
        kind = self._kind(path)
        return kind == "ndjson" or (kind == "json" and json_layout(path) == "ndjson")

    def _kind(self, path: str) -> str:
        kind = self.input
        if kind is None:
            lower = path.lower().removesuffix(".gz")
            if lower.endswith((".ndjson", ".jsonl")):
                kind = "ndjson"
            elif lower.endswith(".json"):
                kind = "json"
            elif lower.endswith(".csv"):
                kind = "csv"
            else:
                kind = "json" if read_head(path, 64).lstrip()[:1] in (b"{", b"[") else "csv"
        return kind

    def tenant_needed(self, path: str) -> str | None:
        """A mapping with neither ``tenant`` nor ``fields.tenant_id`` gives no record a
        tenant: ``--tenant`` is needed."""
        self._require()
        if self.tenant is not None or "tenant_id" in self.getters:
            return None
        return (
            f"the mapping {self.source} names no tenant; pass --tenant NAME, or set "
            "'tenant' in the mapping file"
        )

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one record through the mapping to an auditkit event mapping."""
        self._require()
        if not isinstance(record, Mapping):
            raise SchemaError(
                f"expected a record (an object or a CSV row), got {type(record).__name__}"
            )
        got: dict[str, Any] = {}
        for key, (get, _name) in self.getters.items():
            value = get(record)
            if value is not None:
                got[key] = value
        occurred_at = timestamp(
            got.get("occurred_at"),
            self._src("occurred_at"),
            epoch=self.epoch,
            fmt=self.strptime,
            tz=self.timezone,
        )
        tenant_id = resolve_tenant(
            got.get("tenant_id"),
            tenant or self.tenant,
            field=self._src("tenant_id") if "tenant_id" in self.getters else "tenant_id",
            source="These",
            hint=", or set 'tenant' in the mapping file",
        )
        raw_action = got.get("action")
        action, overrides = self._action(raw_action)
        outcome = (
            self._enum("outcome", got.get("outcome"), OUTCOMES)
            or overrides.get("outcome")
            or "success"
        )
        category = self._enum("category", got.get("category"), CATEGORIES) or overrides.get(
            "category"
        )
        actor_id = got.get("actor.id")
        if isinstance(actor_id, str) and len(actor_id) > MAX_ID:
            raise SchemaError(
                f"expected at most {MAX_ID} characters, got {len(actor_id)}",
                field=self._src("actor.id"),
            )
        if text(actor_id) is None:
            raise SchemaError(
                "required field is missing"
                if actor_id is None
                else f"expected an id, got {type(actor_id).__name__}",
                field=self._src("actor.id"),
            )
        actor = {
            "id": text(actor_id),
            "type": self._enum("actor.type", got.get("actor.type"), ACTOR_TYPES),
            "name": got.get("actor.name"),
            "email": got.get("actor.email"),
            "roles": _roles(got.get("actor.roles")),
        }
        targets = _targets(got.get("targets"))
        if "targets.id" in got:
            targets.append(
                {
                    "id": text(got["targets.id"]),
                    "type": got.get("targets.type"),
                    "name": got.get("targets.name"),
                }
            )
        meta: dict[str, Any] = {
            "source_format": "mapped",
            "mapping": self.mapping.get("name") or os.path.basename(self.source),
            "source_action": text(raw_action, limit=4096),
        }
        for key, value in got.items():
            if key.startswith("metadata."):
                meta[key[9:]] = json_safe(value)
        meta["original"] = json_safe(record)
        event_id = text(got.get("event_id"))
        changes = None
        if "changes.before" in got or "changes.after" in got:
            changes = {"before": got.get("changes.before"), "after": got.get("changes.after")}
        return finish(
            tenant_id=tenant_id,
            occurred_at=occurred_at,
            action=action,
            category=category or infer_category(action),
            outcome=outcome,
            actor=actor,
            targets=targets,
            source={
                "ip": got.get("source.ip"),
                "user_agent": got.get("source.user_agent"),
                "geo": geo(
                    country=got.get("source.geo.country"),
                    city=got.get("source.geo.city"),
                    lat=_number(got.get("source.geo.lat")),
                    lon=_number(got.get("source.geo.lon")),
                ),
            },
            observer={k: got.get(f"observer.{k}") for k in ("service", "version", "region")},
            request_id=got.get("request_id"),
            session_id=got.get("session_id"),
            description=got.get("description"),
            changes=changes,
            event_id=None if event_id is None else self.prefix + event_id,
            metadata=meta,
        )

    def _src(self, key: str) -> str:
        return self.getters[key][1] if key in self.getters else key

    def _action(self, raw: Any) -> tuple[str, dict[str, Any]]:
        field = self._src("action")
        if raw is None:
            raise SchemaError("required field is missing", field=field)
        key = str(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
        mapped = self.values.get("action", {}).get(key) if key is not None else None
        if mapped is not None:
            return mapped["action"], mapped
        if not isinstance(raw, str):
            raise SchemaError(f"expected an action name, got {type(raw).__name__}", field=field)
        name = re.sub(r"[\s\-/]+", "_", raw.strip().lower())
        if _ACTION_RE.match(name) and len(name) <= 200:
            return name, {}
        shown = raw if len(raw) <= 60 else raw[:57] + "..."
        raise SchemaError(
            f"{shown!r} is not a 'noun.verb' action and values.action has no entry for it",
            field=field,
        )

    def _enum(self, key: str, raw: Any, allowed: tuple[str, ...]) -> str | None:
        if raw is None:
            return None
        table = self.values.get(key, {})
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw) in table:
            return str(table[str(raw)])
        if isinstance(raw, str) and raw.strip().lower() in allowed:
            return raw.strip().lower()
        shown = repr(raw) if len(repr(raw)) <= 60 else repr(raw)[:57] + "..."
        raise SchemaError(
            f"expected one of {', '.join(allowed)} (or an entry in values.{key}), got {shown}",
            field=self._src(key),
        )


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


def _roles(value: Any) -> list[str] | None:
    if isinstance(value, list):
        return [r for r in value if isinstance(r, str) and r]
    if isinstance(value, str):
        if value.startswith("["):
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list):
                return [r for r in parsed if isinstance(r, str) and r]
        return [r.strip() for r in re.split(r"[;,|]", value) if r.strip()]
    return None


def _targets(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            value = loads_json(value)
        except orjson.JSONDecodeError:
            return []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        return []
    return [dict(t) for t in value[:100] if isinstance(t, Mapping)]


def load_mapping(path: str | os.PathLike[str]) -> MappedFormat:
    """Build the ``mapped`` format from a mapping file: what ``--mapping FILE`` calls.

    Raises
    ------
    UsageError
        When the file cannot be read or the mapping is not valid, naming the key.

    Examples
    --------
    >>> load_mapping("/nonexistent.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: /nonexistent.yaml: cannot read the mapping file (No such file...)
    """
    return MappedFormat.from_file(path)


register(MappedFormat())
