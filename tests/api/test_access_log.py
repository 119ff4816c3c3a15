"""``auditkit serve``'s access log holds method, path and status (docs/api.md): never
the query string (filter values such as e-mail addresses, a token put in the URL by
mistake, which is refused but used to be logged), nor the client's address."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

import httpx
import pytest

from auditkit.store import Store
from tests.api.conftest import A, Server, auth

EMAIL = "ann.secret@example.com"


def _requests(server: Server, tokens: dict[str, str]) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        # a token in the URL: refused (401), and it must not reach the log either
        r = c.get(f"/v1/tenants/{A}/events", params={"access_token": tokens["auditor"]})
        assert r.status_code == 401
        r = c.get(
            f"/v1/tenants/{A}/events",
            params={"actor": EMAIL, "q": "payroll-secret", "limit": 5},
            headers=auth(tokens["auditor"]),
        )
        assert r.status_code == 200, r.text
        r = c.get(f"/v1/tenants/{A}/events/no-such-event?prove=1", headers=auth(tokens["auditor"]))
        assert r.status_code == 404
        # a path that holds a line break (percent-encoded) and a byte outside ASCII
        r = c.get(f"/v1/tenants/{A}/events/x%0AINFO:%20forged%0D")
        assert r.status_code == 401


def _access_lines(server: Server) -> list[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [ln for ln in server.log.read_text().splitlines() if '"GET /v1/' in ln]
        if len(lines) >= 4:
            return lines
        time.sleep(0.1)
    raise AssertionError(server.log.read_text()[-3000:])


@pytest.mark.parametrize("workers", [1, 2])
def test_the_access_log_has_method_path_and_status_only(
    api_store: Store, tokens: dict[str, str], serve: Callable[..., Server], workers: int
) -> None:
    server = serve(api_store, "--workers", str(workers))
    _requests(server, tokens)
    lines = _access_lines(server)
    server.stop()
    log = server.log.read_text()
    assert tokens["auditor"] not in log
    assert EMAIL not in log and "ann.secret" not in log and "payroll-secret" not in log
    assert "access_token" not in log and "?" not in "".join(lines)
    assert "127.0.0.1:" not in "".join(lines)  # no client address
    assert len(log.splitlines()) == len(log.split("\n")) - 1  # no stray line breaks
    shape = re.compile(r'^INFO: +"GET /v1/tenants/[^ ?]+ HTTP/1\.1" \d{3}( [A-Za-z ]+)?$')
    for line in lines:
        assert shape.match(line), line
    assert any(f'"GET /v1/tenants/{A}/events HTTP/1.1" 401' in ln for ln in lines)
    assert any(f'"GET /v1/tenants/{A}/events HTTP/1.1" 200' in ln for ln in lines)
    assert any("/events/x%0AINFO:%20forged%0D HTTP/1.1" in ln for ln in lines)


def test_the_filter_reduces_uvicorn_records(caplog: pytest.LogCaptureFixture) -> None:
    from auditkit.commands.serve import _AccessLogFilter, _log_config

    logger = logging.getLogger("auditkit-test.access")
    logger.addFilter(_AccessLogFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info(
            '%s - "%s %s HTTP/%s" %d',
            "192.0.2.9:40000", "GET", f"/v1/tenants/acme/events?actor={EMAIL}&q=a", "1.1", 200,
        )  # fmt: skip
    (record,) = caplog.records
    assert record.getMessage() == '- - "GET /v1/tenants/acme/events HTTP/1.1" 200'
    config = _log_config()
    assert config["loggers"]["uvicorn.access"]["filters"] == ["auditkit_access"]
    assert "client_addr" not in config["formatters"]["access"]["fmt"]
