"""The viewer's key pinning as a unit, in Node (no browser): ``viewer.js`` is run in a
``vm`` context with a stub page, and its ``readKey`` given what a user may paste."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.store import Store

VIEWER_JS = Path(__file__).resolve().parents[2] / "auditkit" / "api" / "viewer" / "viewer.js"

# Runs viewer.js with a stub document, then readKey() on each pasted text (argv JSON):
# prints one line of JSON per text, {"id": ..., "pem": ...} or {"error": ...}.
RUNNER = r"""
const vm = require("vm"), fs = require("fs");
const stub = { addEventListener() {}, getElementById() { return null; } };
const ctx = vm.createContext({
  document: stub, crypto: globalThis.crypto, atob, btoa, TextEncoder, TextDecoder,
  Uint8Array, localStorage: { getItem() { return null; } }, console,
});
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), ctx);
(async () => {
  for (const text of JSON.parse(process.argv[2])) {
    try {
      const { id, pem } = await ctx.readKey(text);
      console.log(JSON.stringify({ id, pem }));
    } catch (err) {
      console.log(JSON.stringify({ error: err.message }));
    }
  }
})();
"""


def read_keys(*texts: str) -> list[dict[str, str]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH")
    run = subprocess.run(
        [node, "-e", RUNNER, str(VIEWER_JS), json.dumps(list(texts))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_read_key_takes_the_pub_file_and_the_checkpoint_output(
    api_store: Store, tmp_path: Path
) -> None:
    from auditkit.integrity import key_fingerprint

    cp = tmp_path / "cp.json"
    assert main(["checkpoint", api_store.location, "-o", str(cp)]) == 0
    doc = json.loads(cp.read_text())
    pub = Path(str(api_store.key_path)[: -len(".key")] + ".pub").read_text()
    key_id = key_fingerprint(api_store.trust().public_key)[:16]
    got = read_keys(
        pub,
        cp.read_text(),  # what `auditkit checkpoint` writes, whole
        f'  "public_key": {json.dumps(doc["public_key"])},',  # one line of it
        "\n\n" + pub.replace("\n", "\r\n") + "  ",  # pasted with stray spacing
    )
    assert [g.get("id") for g in got] == [key_id] * 4, got
    assert {g["pem"] for g in got} == {pub}


@pytest.mark.parametrize(
    ("pasted", "said"),
    [
        ("", "nothing to pin: paste the store's public key"),
        ("hello", "this is not a PEM public key: paste the store's public key"),
        ('{"public_key": ', "this looks like JSON but does not parse"),
        ('{"checkpoints": []}', 'this JSON has no "public_key"'),
        (
            "-----BEGIN PUBLIC KEY-----\nMC*wBQYDK2VwAyEA\n-----END PUBLIC KEY-----",
            "the text between the BEGIN and END lines is damaged (it is not base64)",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----",
            "this PEM key is not an Ed25519 public key",
        ),
    ],
)
def test_read_key_says_plainly_what_it_cannot_pin(pasted: str, said: str) -> None:
    (got,) = read_keys(pasted)
    assert got["error"].startswith(said), got
    assert "atob" not in got["error"] and "Failed to execute" not in got["error"]


def test_read_key_refuses_a_checkpoint_file_whose_key_id_is_not_its_key(
    api_store: Store, tmp_path: Path
) -> None:
    cp = tmp_path / "cp.json"
    assert main(["checkpoint", api_store.location, "-o", str(cp)]) == 0
    doc = json.loads(cp.read_text())
    (got,) = read_keys(json.dumps({**doc, "key_id": "ab" * 32}))
    assert got["error"].startswith("the checkpoint file's key_id is not the fingerprint")
