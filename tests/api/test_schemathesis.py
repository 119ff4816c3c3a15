"""Schemathesis over the OpenAPI document: for any generated request, no server
error and no answer that breaks the documented schema."""

from __future__ import annotations

import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from auditkit.api import create_app
from tests.access.conftest import build_marked_store
from tests.access.strategies import TENANTS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _app():  # type: ignore[no-untyped-def]
    import tempfile

    store = build_marked_store(tempfile.mkdtemp() + "/audit.db")
    store.add_principal("fuzz")
    store.grant("fuzz", TENANTS[0], "owner")
    token = store.create_token("fuzz").text
    return create_app(store), token


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: object, value: object) -> bytes:
    import json

    if isinstance(value, str):
        return value.encode()
    items = value if isinstance(value, list) else [value]
    # the standard library writes integers of any size (the API must answer them too)
    return b"".join(json.dumps(v).encode() + b"\n" for v in items)


APP, TOKEN = _app()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_matches_the_schema(case: schemathesis.Case) -> None:
    if (
        case.path_parameters
        and "tenant" in case.path_parameters
        and case.path_parameters["tenant"].startswith("tn-")
    ):
        case.path_parameters["tenant"] = TENANTS[0]
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def test_a_body_with_an_integer_beyond_64_bits_is_answered_per_record() -> None:
    from starlette.testclient import TestClient

    body = b'{"occurred_at": "2026-01-05T09:00:00Z", "action": "user.login", '
    body += b'"actor": {"id": "u1"}, "metadata": {"n": 123456789012345678901234567890}}\n'
    with TestClient(APP) as client:
        r = client.post(
            f"/v1/tenants/{TENANTS[0]}/events",
            content=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
        )
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["status"] == "refused" and result["field"] == "metadata.n"
