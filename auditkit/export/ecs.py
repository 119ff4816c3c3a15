"""Elastic Common Schema (ECS 8.11) NDJSON and Splunk HTTP Event Collector JSON.

ECS
---
One ECS document per line, for Elasticsearch, Elastic Security, Datadog and
anything that reads ECS:

================================  ==============================================
canonical field                   ECS field
================================  ==============================================
``occurred_at``                   ``@timestamp``
``received_at``                   ``event.ingested``
``event_id``                      ``event.id``
``seq``                           ``event.sequence``
``action``                        ``event.action``
(from the action)                 ``event.category``, ``event.type``
``outcome``                       ``event.outcome`` (``denied`` -> ``failure``)
                                  and ``auditkit.outcome`` (as is)
``category``                      ``auditkit.category``
``tenant_id``                     ``organization.id``
``actor.id`` / ``name`` /         ``user.id`` / ``user.name`` / ``user.email`` /
``email`` / ``roles``             ``user.roles``
``actor.type``                    ``auditkit.actor_type``
``targets``                       ``auditkit.targets``; the first target of type
                                  ``user`` also as ``user.target.id``/``name``
``source.ip``                     ``source.ip``
``source.user_agent``             ``user_agent.original``
``source.geo``                    ``source.geo.country_iso_code``, ``city_name``,
                                  ``location`` {lat, lon}
``observer``                      ``observer.product``, ``observer.version``,
                                  ``cloud.region``
``request_id``                    ``http.request.id``
``session_id``                    ``auditkit.session_id``
``description``                   ``message``
``changes``, ``metadata``         ``auditkit.changes``, ``auditkit.metadata``
================================  ==============================================

``event.kind`` is ``event``, ``event.dataset`` ``auditkit.audit``,
``event.module`` ``auditkit``, ``ecs.version`` ``8.11.0``.

Splunk HEC
----------
One HTTP Event Collector event per line (what ``/services/collector/event``
takes, batched by concatenation)::

    {"time": 1767603600.123456, "host": <observer.service or "auditkit">,
     "source": "auditkit", "sourcetype": "auditkit:event",
     "fields": {"tenant_id": ..., "action": ..., "outcome": ..., "category": ...,
                "actor_id": ...},
     "event": <the canonical event>}

``fields`` are indexed fields (searchable without extraction).

Examples
--------
>>> from auditkit.frame import events_to_frame
>>> df = events_to_frame([{"event_id": "e1", "tenant_id": "acme",
...     "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
...     "actor": {"id": "u1"}, "outcome": "denied"}])
>>> doc = orjson.loads(ecs_records(df)[0])
>>> doc["event"]["category"], doc["event"]["outcome"], doc["user"]["id"]
(['authentication'], 'failure', 'u1')
>>> orjson.loads(hec_records(df)[0])["time"]
1767603600.0
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import polars as pl

from auditkit.export._json import json_line_safe, json_line_safe_bytes, json_text, struct_or_null
from auditkit.export.formats import (
    ExportFormat,
    _complete,
    canonical_lines,
    frame_to_events,
    records_of,
    register_export_format,
)

__all__ = [
    "ECS_VERSION", "ecs_category", "ecs_document", "ecs_lines", "ecs_records",
    "ecs_records_reference", "hec_records",
]  # fmt: skip

ECS_VERSION: Final = "8.11.0"
_TS: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"

_AUTH: Final = {
    "user.login": ["start"], "user.logout": ["end"], "session.expire": ["end"],
    "mfa.challenge": ["info"],
}  # fmt: skip
_IAM_USER: Final = {
    "user.create": ["user", "creation"], "user.invite": ["user", "creation"],
    "user.update": ["user", "change"], "user.suspend": ["user", "change"],
    "user.delete": ["user", "deletion"], "account.close": ["user", "deletion"],
    "password.change": ["user", "change"], "password.reset": ["user", "change"],
    "mfa.enroll": ["user", "change"], "mfa.disable": ["user", "change"],
    "mfa.reset": ["user", "change"], "role.grant": ["user", "change"],
    "role.revoke": ["user", "change"], "permission.grant": ["user", "change"],
    "permission.revoke": ["user", "change"], "api_key.create": ["user", "creation"],
    "api_key.revoke": ["user", "deletion"],
    "team.create": ["group", "creation"], "team_member.add": ["group", "change"],
    "team_member.remove": ["group", "change"],
}  # fmt: skip
_VERB_TYPE: Final = {
    "create": "creation", "add": "creation", "delete": "deletion", "remove": "deletion",
    "update": "change", "enable": "change", "disable": "change",
}  # fmt: skip
_OUTCOME: Final = {"success": "success", "failure": "failure", "denied": "failure"}


def ecs_category(action: str, category: str) -> tuple[list[str], list[str]]:
    """ECS ``event.category`` and ``event.type`` of an action.

    Examples
    --------
    >>> ecs_category("role.grant", "admin")
    (['iam'], ['user', 'change'])
    >>> ecs_category("document.export", "user")
    (['web'], ['access'])
    >>> ecs_category("settings.update", "admin")
    (['configuration'], ['change'])
    """
    if action in _AUTH:
        return ["authentication"], _AUTH[action]
    if action in _IAM_USER:
        return ["iam"], _IAM_USER[action]
    verb = action.rsplit(".", 1)[-1]
    if category == "admin":
        return ["configuration"], [_VERB_TYPE.get(verb, "change")]
    return ["web"], [_VERB_TYPE.get(verb, "access")]


def ecs_document(e: dict[str, Any]) -> dict[str, Any]:
    """The ECS document of one canonical event (absent fields left out)."""
    cats, types = ecs_category(e["action"], e.get("category", "user"))
    event: dict[str, Any] = {
        "kind": "event", "id": e["event_id"], "action": e["action"],
        "category": cats, "type": types, "dataset": "auditkit.audit", "module": "auditkit",
    }  # fmt: skip
    outcome = e.get("outcome", "success")
    event["outcome"] = _OUTCOME.get(outcome, "unknown")
    if "seq" in e:
        event["sequence"] = e["seq"]
    if "received_at" in e:
        event["ingested"] = e["received_at"]
    actor = e["actor"]
    user: dict[str, Any] = {"id": actor["id"]}
    for key in ("name", "email", "roles"):
        if key in actor:
            user[key] = actor[key]
    ours: dict[str, Any] = {"tenant_id": e["tenant_id"], "outcome": outcome,
                            "category": e.get("category")}  # fmt: skip
    if "type" in actor:
        ours["actor_type"] = actor["type"]
    targets = e.get("targets")
    if targets is not None:
        ours["targets"] = targets
        for t in targets:
            if t.get("type") == "user":
                user["target"] = {k: t[k] for k in ("id", "name") if k in t}
                break
    doc: dict[str, Any] = {
        "@timestamp": e["occurred_at"],
        "ecs": {"version": ECS_VERSION},
        "event": event,
        "organization": {"id": e["tenant_id"]},
        "user": user,
    }
    source = e.get("source")
    if source:
        src: dict[str, Any] = {}
        if "ip" in source:
            src["ip"] = source["ip"]
        geo = source.get("geo")
        if geo:
            g: dict[str, Any] = {}
            if "country" in geo:
                g["country_iso_code"] = geo["country"]
            if "city" in geo:
                g["city_name"] = geo["city"]
            if "lat" in geo and "lon" in geo:
                g["location"] = {"lat": geo["lat"], "lon": geo["lon"]}
            if g:
                src["geo"] = g
        if src:
            doc["source"] = src
        if "user_agent" in source:
            doc["user_agent"] = {"original": source["user_agent"]}
    observer = e.get("observer")
    if observer:
        obs = {k2: observer[k1] for k1, k2 in (("service", "product"), ("version", "version"))
               if k1 in observer}  # fmt: skip
        if obs:
            doc["observer"] = obs
        if "region" in observer:
            doc["cloud"] = {"region": observer["region"]}
    if "request_id" in e:
        doc["http"] = {"request": {"id": e["request_id"]}}
    if "session_id" in e:
        ours["session_id"] = e["session_id"]
    if "description" in e:
        doc["message"] = e["description"]
    for k in ("changes", "metadata"):
        if k in e:
            ours[k] = e[k]
    doc["auditkit"] = ours
    return doc


def ecs_records(frame: pl.DataFrame) -> list[bytes]:
    """One ECS JSON document (bytes) per event of ``frame``, built column-wise.

    Gives the same bytes as :func:`ecs_document` on each canonical event (a test
    checks it), several times faster.
    """
    return records_of(ecs_lines)(frame)


def ecs_records_reference(frame: pl.DataFrame) -> list[bytes]:
    """:func:`ecs_records`, one event at a time through :func:`ecs_document`."""
    dumps = orjson.dumps
    events = frame_to_events(frame, chunk_size=max(1, frame.height))
    return [json_line_safe_bytes(dumps(ecs_document(e))) for chunk in events for e in chunk]


def ecs_lines(frame: pl.DataFrame) -> pl.Series:
    """One ECS document (JSON text) per event of ``frame`` (a String Series)."""
    df = _complete(frame)
    has = set(df.columns)
    combos = df.select("action", "category", "outcome").unique()
    mapped = [ecs_category(a, c) for a, c in combos.select("action", "category").iter_rows()]
    combos = combos.with_columns(
        _categories=pl.Series([m[0] for m in mapped], dtype=pl.List(pl.String)),
        _types=pl.Series([m[1] for m in mapped], dtype=pl.List(pl.String)),
        _outcome=pl.col("outcome").replace_strict(_OUTCOME, default="unknown"),
    )
    df = df.join(combos, on=["action", "category", "outcome"], how="left", maintain_order="left")
    targets = pl.col("targets")
    first_user = targets.list.eval(
        pl.element().filter(pl.element().struct.field("type") == "user")
    ).list.first()
    lat, lon = pl.col("geo_lat"), pl.col("geo_lon")
    doc = pl.struct(
        pl.col("occurred_at").dt.strftime(_TS).alias("@timestamp"),
        ecs=pl.struct(version=pl.lit(ECS_VERSION)),
        event=pl.struct(
            kind=pl.lit("event"), id=pl.col("event_id"), action=pl.col("action"),
            category=pl.col("_categories"), type=pl.col("_types"),
            dataset=pl.lit("auditkit.audit"), module=pl.lit("auditkit"),
            outcome=pl.col("_outcome"),
            sequence=pl.col("seq") if "seq" in has else pl.lit(None, pl.Int64),
            ingested=pl.col("received_at").dt.strftime(_TS) if "received_at" in has
            else pl.lit(None, pl.String),
        ),
        organization=pl.struct(id=pl.col("tenant_id")),
        user=pl.struct(
            id=pl.col("actor_id"), name=pl.col("actor_name"), email=pl.col("actor_email"),
            roles=pl.col("actor_roles"),
            target=struct_or_null(
                id=first_user.struct.field("id"), name=first_user.struct.field("name")
            ),
        ),
        source=struct_or_null(
            ip=pl.col("source_ip"),
            geo=struct_or_null(
                country_iso_code=pl.col("geo_country"), city_name=pl.col("geo_city"),
                location=pl.when(lat.is_not_null() & lon.is_not_null()).then(
                    pl.struct(lat=lat, lon=lon)
                ),
            ),
        ),
        user_agent=struct_or_null(original=pl.col("user_agent")),
        observer=struct_or_null(
            product=pl.col("observer_service"), version=pl.col("observer_version")
        ),
        cloud=struct_or_null(region=pl.col("observer_region")),
        http=pl.when(pl.col("request_id").is_not_null()).then(
            pl.struct(request=pl.struct(id=pl.col("request_id")))
        ),
        message=pl.col("description"),
        auditkit=pl.struct(
            tenant_id=pl.col("tenant_id"), outcome=pl.col("outcome"),
            category=pl.col("category"), actor_type=pl.col("actor_type"), targets=targets,
            session_id=pl.col("session_id"),
        ),
    )  # fmt: skip
    splice = [("changes", pl.col("changes")), ("metadata", pl.col("metadata"))]
    text = json_line_safe(json_text(doc, splice=splice, depth=2))
    return df.lazy().select(text).collect(engine="streaming").to_series()


def hec_records(frame: pl.DataFrame) -> list[bytes]:
    """One Splunk HEC event (bytes) per event of ``frame``, built column-wise."""
    return records_of(hec_lines)(frame)


def hec_lines(frame: pl.DataFrame) -> pl.Series:
    """One Splunk HEC event (JSON text) per event of ``frame`` (a String Series)."""
    df = _complete(frame)
    df = df.with_columns(canonical_lines(df).alias("_canonical"))
    us = pl.col("occurred_at").dt.epoch("us")
    head = json_text(
        pl.struct(
            host=pl.coalesce(pl.col("observer_service"), pl.lit("auditkit")),
            source=pl.lit("auditkit"),
            sourcetype=pl.lit("auditkit:event"),
            fields=pl.struct("tenant_id", "action", "outcome", "category", "actor_id"),
        )
    )
    line = pl.concat_str(
        [
            pl.lit('{"time":'), (us // 1_000_000).cast(pl.String), pl.lit("."),
            (us % 1_000_000).cast(pl.String).str.zfill(6), pl.lit(","),
            json_line_safe(head.str.slice(1).str.head(-1)), pl.lit(',"event":'),
            pl.col("_canonical"), pl.lit("}"),
        ]
    )  # fmt: skip
    return df.lazy().select(line).collect(engine="streaming").to_series()


register_export_format(
    ExportFormat(
        "ecs",
        ".ecs.ndjson",
        "application/x-ndjson",
        "Elastic Common Schema 8.11 documents, one per line",
        lines=ecs_lines,
    )
)
register_export_format(
    ExportFormat(
        "hec",
        ".hec.ndjson",
        "application/json",
        "Splunk HTTP Event Collector events, one per line",
        lines=hec_lines,
    )
)
