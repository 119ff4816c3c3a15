"""The API's documents, as pydantic models: they are what ``/openapi.json`` shows
(with examples), and what the responses are checked against in the tests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CheckpointDoc",
    "ConsistencyDoc",
    "EventDoc",
    "EventsPage",
    "FindingsDoc",
    "HealthDoc",
    "IngestResultDoc",
    "ProblemDoc",
    "RecordResult",
    "TenantsDoc",
]

_EVENT_EXAMPLE: dict[str, Any] = {
    "event_id": "01JH3Z8Q6X7M2T9V4R5N8K1PQA",
    "tenant_id": "acme",
    "seq": 41,
    "occurred_at": "2026-01-05T09:00:00.000000Z",
    "received_at": "2026-01-05T09:00:01.250000Z",
    "action": "user.login",
    "category": "management",
    "outcome": "success",
    "actor": {"id": "u-17", "type": "user", "name": "Ann Lee"},
    "source": {"ip": "hmac:3f2a9c0e51b4d7a8c6e2f0a1b9d8c7e6"},
    "metadata": {"auditkit_redaction": {"fields": ["source.ip"], "key_id": "60e05bd1b195af2f"}},
}


class ProblemDoc(BaseModel):
    """An error (RFC 9457 problem details)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://auditkit.dev/problems/forbidden",
                    "title": "Access denied",
                    "status": 403,
                    "detail": "principal 'ann' may not export on tenant 'acme': needs "
                    "permission 'export' (roles there: viewer)",
                    "instance": "/v1/tenants/acme/export",
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    parameter: str | None = Field(
        default=None, description="the query or path parameter at fault (a 400 about one)"
    )


class TenantsDoc(BaseModel):
    """The tenants the caller may read, with its permissions there."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "principal": "ann@example.com",
                    "tenants": [
                        {"tenant_id": "acme", "permissions": ["read", "detect"], "redacted": True}
                    ],
                }
            ]
        }
    )

    principal: str
    tenants: list[dict[str, Any]]


class EventsPage(BaseModel):
    """A page of events and the cursor to the next one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "acme",
                    "events": [_EVENT_EXAMPLE],
                    "next_cursor": "MTphc2M6NDI6ZTNiMGM0NDI5OGZj",
                    "complete": False,
                    "tree_size": 1200,
                    "redacted": True,
                }
            ]
        }
    )

    tenant_id: str
    events: list[dict[str, Any]]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null when there is none"
    )
    complete: bool = Field(description="the page reached the end of the trail as it was read")
    tree_size: int
    redacted: bool


class EventDoc(BaseModel):
    """One event, with the proof that it is in the signed log (when the caller may prove)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event": _EVENT_EXAMPLE,
                    "proof": {
                        "tenant_id": "acme",
                        "seq": 41,
                        "event_id": "01JH3Z8Q6X7M2T9V4R5N8K1PQA",
                        "canonical": '{"action":"user.login",...}',
                        "tree_size": 1200,
                        "path": ["9f1c...", "a07e..."],
                        "checkpoint": {"tenant_id": "acme", "tree_size": 1200},
                    },
                    "proof_note": None,
                    "public_key": "-----BEGIN PUBLIC KEY-----\n...",
                    "redacted": False,
                }
            ]
        }
    )

    event: dict[str, Any]
    proof: dict[str, Any] | None
    proof_note: str | None = None
    public_key: str | None = None
    redacted: bool


class CheckpointDoc(BaseModel):
    """The tenant's newest signed checkpoint, and the key it is signed with."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "checkpoint": {
                        "store_id": "5d0c...",
                        "tenant_id": "acme",
                        "tree_size": 1200,
                        "root_hash": "4c7e...",
                        "timestamp": "2026-01-05T09:00:01.250000Z",
                        "key_id": "e3b0c442",
                        "signature": "MEUCIQ...",
                    },
                    "public_key": "-----BEGIN PUBLIC KEY-----\n...",
                    "key_id": "e3b0c442",
                }
            ]
        }
    )

    checkpoint: dict[str, Any]
    public_key: str
    key_id: str


class ConsistencyDoc(BaseModel):
    """Proof that the tree at ``old_size`` is a prefix of the tree at ``new_size``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "acme",
                    "old_size": 1000,
                    "new_size": 1200,
                    "old_root": "aa11...",
                    "new_root": "4c7e...",
                    "path": ["9f1c..."],
                }
            ]
        }
    )

    tenant_id: str
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: list[str]


class FindingsDoc(BaseModel):
    """Findings of the registered detectors over the tenant's trail."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "acme",
                    "events": 1200,
                    "findings": [
                        {
                            "detector": "brute_force",
                            "severity": "high",
                            "tenant_id": "acme",
                            "actor_id": "u-17",
                            "first_seen": "2026-01-05T09:00:00Z",
                            "last_seen": "2026-01-05T09:04:00Z",
                            "event_ids": ["e1", "e2"],
                            "summary": "12 failed logins for u-17 in 4 minutes",
                        }
                    ],
                    "redacted": False,
                }
            ]
        }
    )

    tenant_id: str
    events: int
    findings: list[dict[str, Any]]
    redacted: bool


class RecordResult(BaseModel):
    """What happened to one posted record."""

    index: int = Field(description="0-based position in the body")
    status: Literal["stored", "duplicate", "refused"]
    event_id: str | None = None
    field: str | None = None
    reason: str | None = None


class IngestResultDoc(BaseModel):
    """The outcome of a POST: counts, and one result per record, in order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_id": "acme",
                    "stored": 1,
                    "duplicates": 1,
                    "refused": 1,
                    "results": [
                        {"index": 0, "status": "stored", "event_id": "e1"},
                        {"index": 1, "status": "duplicate", "event_id": "e0"},
                        {
                            "index": 2,
                            "status": "refused",
                            "field": "occurred_at",
                            "reason": "expected RFC 3339 timestamp, got '12/31'",
                        },
                    ],
                }
            ]
        }
    )

    tenant_id: str
    stored: int
    duplicates: int
    refused: int
    results: list[RecordResult]


class HealthDoc(BaseModel):
    """Liveness or readiness."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str
    detail: str | None = None
