"""Evidence bundles: signed, complete, and every alteration named."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.errors import IntegrityError, UsageError
from auditkit.integrity import generate_key, public_key_pem
from auditkit.reports import Report, build_report, verify_bundle
from auditkit.store import Store
from tests.conftest import make_events


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    s = Store.init(str(tmp_path_factory.mktemp("bundle") / "audit.db"))
    s.append(make_events(120) + make_events(30, "globex"))
    return s


@pytest.fixture(scope="module")
def report(store: Store) -> Report:
    return build_report(store, framework="pci-dss", tenant="acme")


@pytest.fixture
def bundle(report: Report, tmp_path: Path) -> Path:
    return report.write(tmp_path / "evidence.zip", charts=False)


def _rewrite(
    src: Path,
    dst: Path,
    change: Callable[[str, bytes], bytes | None],
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Copy a zip, passing each member through ``change`` (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dst


def test_bundle_holds_reports_evidence_and_a_signed_manifest(bundle: Path, store: Store) -> None:
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        manifest = orjson.loads(z.read("manifest.json"))
        checkpoints = orjson.loads(z.read("checkpoints.json"))
        pem = z.read("public_key.pem").decode()
    assert {
        "report.html",
        "report.json",
        "report.md",
        "evidence/controls.csv",
        "evidence/integrity/checkpoints.csv",
        "evidence/coverage/matrix.csv",
        "evidence/detections/findings.csv",
        "evidence/control_evidence.csv",
        "checkpoints.json",
        "manifest.json",
        "manifest.sig",
        "public_key.pem",
    } <= names
    assert set(manifest["files"]) == names - {"manifest.json", "manifest.sig", "public_key.pem"}
    public, _ = store.trusted_public_key()
    assert pem == public_key_pem(public)
    assert {c["tenant_id"] for c in checkpoints["checkpoints"]} == {"acme"}
    result = verify_bundle(bundle, public)
    assert result.ok, result.summary()
    assert result.files_checked == len(manifest["files"])
    assert result.key_source == "the given public key"
    # the saved checkpoints re-verify the store, as the attestation says
    assert store.verify("acme", checkpoint=checkpoints).ok


def test_edited_file_is_named(bundle: Path, tmp_path: Path) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name == "evidence/integrity/problems.csv":
            return data + b"nothing,to,see,here,,\n"
        return data

    result = verify_bundle(_rewrite(bundle, tmp_path / "t.zip", edit))
    assert not result.ok
    assert [(p.kind, p.path) for p in result.problems] == [
        ("altered", "evidence/integrity/problems.csv")
    ]
    assert "TAMPERED" in result.summary() and "problems.csv" in result.summary()
    with pytest.raises(IntegrityError, match="altered"):
        result.raise_for_problems()


def test_missing_and_extra_files_are_named(bundle: Path, tmp_path: Path) -> None:
    def drop(name: str, data: bytes) -> bytes | None:
        return None if name == "report.html" else data

    result = verify_bundle(
        _rewrite(bundle, tmp_path / "t.zip", drop, extra={"evidence/planted.csv": b"a,b\n"})
    )
    assert {(p.kind, p.path) for p in result.problems} == {
        ("missing", "report.html"),
        ("extra", "evidence/planted.csv"),
    }


def test_appended_duplicate_member_is_named(bundle: Path, tmp_path: Path) -> None:
    import warnings

    target = tmp_path / "t.zip"
    target.write_bytes(bundle.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(target, "a") as z:
            z.writestr("report.md", b"# all controls pass\n")
    kinds = {(p.kind, p.path) for p in verify_bundle(target).problems}
    assert ("duplicate", "report.md") in kinds


def test_manifest_edit_breaks_the_signature(bundle: Path, tmp_path: Path) -> None:
    def forge(name: str, data: bytes) -> bytes:
        if name == "manifest.json":
            return data.replace(b'"needs_review"', b'"pass"', 1)
        return data

    result = verify_bundle(_rewrite(bundle, tmp_path / "t.zip", forge))
    assert [(p.kind, p.path) for p in result.problems] == [("bad_signature", "manifest.json")]


def test_resigned_bundle_fails_against_the_store_key(
    bundle: Path, tmp_path: Path, report: Report, store: Store
) -> None:
    # a forger re-signs with their own key and swaps public_key.pem: the bundle is
    # self-consistent, but not signed by the store's key
    forged = report.write(tmp_path / "forged.zip", signing_key=generate_key(), charts=False)
    assert verify_bundle(forged).ok
    result = verify_bundle(forged, store.trusted_public_key()[0])
    assert {p.kind for p in result.problems} == {"wrong_key", "bad_signature"}


def test_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert [p.kind for p in verify_bundle(junk).problems] == ["malformed"]
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w"):
        pass
    assert [(p.kind, p.path) for p in verify_bundle(empty).problems] == [
        ("missing", "manifest.json")
    ]
    with pytest.raises(UsageError, match="cannot read the bundle"):
        verify_bundle(tmp_path / "absent.zip")


def test_cli_verify_exit_codes(bundle: Path, tmp_path: Path, store: Store, capsys: Any) -> None:
    from auditkit.cli import main

    pub = tmp_path / "store.pub"
    pub.write_text(public_key_pem(store.trusted_public_key()[0]))
    assert main(["report", "verify", str(bundle), "--public-key", str(pub)]) == 0
    assert "INTACT" in capsys.readouterr().out
    bad = _rewrite(bundle, tmp_path / "bad.zip", lambda n, d: d + b" " if n == "report.json" else d)
    assert main(["report", "verify", str(bad)]) == 1
    assert "altered       report.json" in capsys.readouterr().out
    assert main(["report-verify", str(bad), "--json"]) == 1
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["problems"][0]["path"] == "report.json"
    assert main(["report", "verify", str(tmp_path / "nope.zip")]) == 2
    assert main(["report", "verify"]) == 2


def test_bundle_needs_a_key(report: Report, tmp_path: Path) -> None:
    from dataclasses import replace

    with pytest.raises(UsageError, match="must be signed"):
        replace(report, signer=None).write(tmp_path / "x.zip")


def test_populations_are_in_the_bundle_as_csv_and_xlsx(tmp_path: Path) -> None:
    import io

    import polars as pl

    events = make_events(60)
    events[1]["actor"]["id"] = '=HYPERLINK("http://evil")'  # a formula in a cell
    store = Store.init(str(tmp_path / "audit.db"))
    store.append(events)
    report = build_report(store, framework="pci-dss", tenant="acme")
    path = report.write(tmp_path / "evidence.zip", charts=False)
    assert verify_bundle(path).ok
    population = report.section("samples").table("population_10_2_1_1").frame
    assert population.height == 12  # every document.read of the factory's events
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {
            "evidence/samples/population_10_2_1_1.csv",
            "evidence/samples/population_10_2_1_1.xlsx",
            "evidence/samples/samples.xlsx",
        } <= names
        csv = pl.read_csv(io.BytesIO(z.read("evidence/samples/population_10_2_1_1.csv")))
        assert csv["event_id"].to_list() == population["event_id"].to_list()
        xlsx = z.read("evidence/samples/population_10_2_1_1.xlsx")
        openpyxl = pytest.importorskip("openpyxl")
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
        rows = [[c.value for c in r] for r in sheet.iter_rows()]
        assert rows[0] == csv.columns
        assert [r[rows[0].index("event_id")] for r in rows[1:]] == csv["event_id"].to_list()
        assert all(not str(v).startswith("=") for r in rows for v in r if v is not None)
        # the formula is written as text, never as something a spreadsheet runs
        texts = [z.read(n).decode(errors="replace") for n in names if n.endswith(".csv")]
        cells = [c for t in texts for c in t.replace("\n", ",").split(",") if "HYPERLINK" in c]
        assert cells and all(c.lstrip('"').startswith("'=") for c in cells), cells
