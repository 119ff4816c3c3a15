"""RFC 3161 time-stamps of evidence bundles, against a local TSA on loopback."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("rfc3161_client")
pytest.importorskip("asn1crypto")

from auditkit.errors import IntegrityError
from auditkit.reports import build_report, verify_bundle
from auditkit.reports.config import parse_config
from auditkit.reports.timestamps import request_timestamp, verify_timestamp
from auditkit.store import Store
from tests.conftest import make_events
from tests.reports.tsa import local_tsa


def test_a_bundle_is_time_stamped_and_checked(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "audit.db"))
    store.append(make_events(30))
    with local_tsa(tmp_path) as (url, tsa):
        config = parse_config({"timestamp": {"url": url, "roots": str(tsa.roots_pem)}}, "")
        report = build_report(store, framework="soc2", tenant="acme", config=config)
        path = report.write(tmp_path / "e.zip", charts=False)
        assert tsa.requests == 1
    checked = verify_bundle(path, timestamp_roots=tsa.roots_pem)
    assert checked.ok and checked.timestamp and "time-stamped" in checked.timestamp
    from auditkit.cli import main

    pub = str(tmp_path / "audit.db.pub")
    argv = ["report", "verify", str(path), "--public-key", pub]
    assert main([*argv, "--timestamp-roots", str(tsa.roots_pem)]) == 0
    with zipfile.ZipFile(path) as z:
        manifest, token = z.read("manifest.json"), z.read("manifest.tsr")
    # OpenSSL, which the auditor trusts, agrees
    if shutil.which("openssl"):
        (tmp_path / "manifest.json").write_bytes(manifest)
        (tmp_path / "manifest.tsr").write_bytes(token)
        done = subprocess.run(
            ["openssl", "ts", "-verify", "-data", "manifest.json", "-in", "manifest.tsr",
             "-CAfile", str(tsa.roots_pem)],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and "Verification: OK" in done.stdout
    # another authority's roots, or a bundle without its time-stamp, do not pass
    (tmp_path / "other").mkdir()
    with local_tsa(tmp_path / "other") as (_, other):
        wrong = verify_bundle(path, timestamp_roots=other.roots_pem)
    assert [p.kind for p in wrong.problems] == ["bad_timestamp"]
    plain = build_report(store, framework="soc2", tenant="acme").write(
        tmp_path / "plain.zip", charts=False
    )
    missing = verify_bundle(plain, timestamp_roots=tsa.roots_pem)
    assert [p.kind for p in missing.problems] == ["bad_timestamp"]
    assert verify_bundle(plain).ok  # without roots, no time-stamp is asked for


def test_a_time_stamp_covers_only_its_data(tmp_path: Path) -> None:
    with local_tsa(tmp_path) as (url, tsa):
        token, check = request_timestamp(url, b"manifest v1", roots=tsa.roots_pem)
    assert check.serial == 1
    assert verify_timestamp(token, b"manifest v1", roots=tsa.roots_pem).time == check.time
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_timestamp(token, b"manifest v2", roots=tsa.roots_pem)
    with pytest.raises(IntegrityError, match="not an RFC 3161 response"):
        verify_timestamp(b"junk", b"manifest v1", roots=tsa.roots_pem)
