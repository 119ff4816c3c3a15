"""An auditor re-performs the checks without auditkit: the bundle's own script and OpenSSL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.reports import build_report
from auditkit.store import Store
from tests.conftest import make_events

OPENSSL = shutil.which("openssl")


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def unzipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store]:
    folder = tmp_path_factory.mktemp("reperform")
    store = Store.init(str(folder / "audit.db"))
    store.append(make_events(77))
    bundle = build_report(store, framework="pci-dss").write(folder / "e.zip", charts=False)
    out = folder / "evidence"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(out)
    return out, store


def test_bundle_hashes_and_signature_with_public_tools(unzipped: tuple[Path, Store]) -> None:
    folder, _ = unzipped
    script = folder / "reperform" / "reperform.py"
    done = _run(sys.executable, "-I", str(script), "bundle", ".", cwd=folder)  # -I: no auditkit
    assert done.returncode == 0, done.stdout
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    ok = _run(
        OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", "public_key.pem", "-rawin",
        "-in", "manifest.json", "-sigfile", "manifest.sig.bin", cwd=folder,
    )  # fmt: skip
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    # an altered evidence file is named
    target = folder / "evidence" / "samples" / "samples.csv"
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"x")
        bad = _run(sys.executable, "-I", str(script), "bundle", ".", cwd=folder)
        assert bad.returncode == 1 and "evidence/samples/samples.csv: altered" in bad.stdout
    finally:
        target.write_bytes(original)


@pytest.mark.parametrize("seq", [0, 1, 31, 76])
def test_inclusion_proof_with_the_script_and_openssl(
    unzipped: tuple[Path, Store], tmp_path: Path, seq: int
) -> None:
    folder, store = unzipped
    proof = tmp_path / "proof.json"
    argv = ["proof", str(store.location), "--tenant", "acme", "--seq", str(seq), "-o", str(proof)]
    assert main(argv) == 0
    script = folder / "reperform" / "reperform.py"
    done = _run(sys.executable, "-I", str(script), "inclusion", str(proof), cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    if OPENSSL is not None:
        pub = Path(str(store.location) + ".pub")
        ok = _run(
            OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin",
            "-in", "checkpoint.msg", "-sigfile", "checkpoint.sig", cwd=tmp_path,
        )  # fmt: skip
        assert ok.returncode == 0, ok.stdout + ok.stderr
    # a changed record no longer leads to the signed root
    doc = json.loads(proof.read_text())
    doc["canonical"] = doc["canonical"].replace('"outcome":"', '"outcome":"x', 1)
    proof.write_text(json.dumps(doc))
    bad = _run(sys.executable, "-I", str(script), "inclusion", str(proof), cwd=tmp_path)
    assert bad.returncode == 1 and "the path leads to" in bad.stdout
