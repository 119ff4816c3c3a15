"""``auditkit report verify BUNDLE`` says when the bundle holds an RFC 3161 time-stamp
(``manifest.tsr``) that it did not check (no ``--timestamp-roots``), and how to check
it; it used not to mention it at all.  The exit code does not change."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

pytest.importorskip("rfc3161_client")
pytest.importorskip("asn1crypto")

from auditkit.cli import main
from auditkit.reports import build_report, verify_bundle
from auditkit.reports.config import parse_config
from auditkit.store import Store
from tests.conftest import make_events
from tests.reports.tsa import local_tsa


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("tsr")
    store = Store.init(str(tmp / "audit.db"))
    store.append(make_events(30))
    with local_tsa(tmp) as (url, tsa):
        config = parse_config({"timestamp": {"url": url, "roots": str(tsa.roots_pem)}}, "")
        report = build_report(store, framework="soc2", tenant="acme", config=config)
        stamped = report.write(tmp / "stamped.zip", charts=False)
    plain = build_report(store, framework="soc2", tenant="acme").write(
        tmp / "plain.zip", charts=False
    )
    return Path(stamped), Path(plain), tmp / "audit.db.pub", Path(tsa.roots_pem)


def test_an_unchecked_time_stamp_is_named_with_how_to_check_it(
    bundles: tuple[Path, Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    stamped, _, pub, _ = bundles
    assert main(["report", "verify", str(stamped), "--public-key", str(pub)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("INTACT")
    (line,) = [ln for ln in out.splitlines() if ln.startswith("not checked:")]
    assert "manifest.tsr" in line and "--timestamp-roots" in line
    # without a trusted key: still UNANCHORED (exit 3), and the time-stamp still named
    assert main(["report", "verify", str(stamped)]) == 3
    assert "not checked:" in capsys.readouterr().out
    # JSON says it too
    assert main(["report", "verify", str(stamped), "--public-key", str(pub), "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["timestamp_unchecked"] is True and doc["timestamp"] is None
    assert doc["not_checked"] and "manifest.tsr" in doc["not_checked"][0]
    assert verify_bundle(stamped).timestamp_unchecked


def test_nothing_is_said_when_it_was_checked_or_is_absent(
    bundles: tuple[Path, Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    stamped, plain, pub, roots = bundles
    argv = ["report", "verify", str(stamped), "--public-key", str(pub)]
    assert main([*argv, "--timestamp-roots", str(roots)]) == 0
    out = capsys.readouterr().out
    assert "not checked" not in out and "time-stamped" in out
    assert main(["report", "verify", str(plain), "--public-key", str(pub)]) == 0
    assert "not checked" not in capsys.readouterr().out
    assert not verify_bundle(plain).timestamp_unchecked
