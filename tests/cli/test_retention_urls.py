"""``auditkit retention show|apply`` print a cold-tier URL with every secret masked:
the whole user-info part (a secret key written unescaped may hold ``/`` or ``@``) and
every value of its query string (``sig=``, SAS tokens), as ``auditkit.store.display_url``
does everywhere else.  ``show`` had its own, older masking, which stopped at the first
``/`` and kept the query string."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from auditkit.cli import main

SECRET_KEY = "wJal/rXUt+nFEMI"
SIG = "topsecret%2Fsig"
URL = f"s3://AKIAEXAMPLE:{SECRET_KEY}@audit-bucket/cold?sig={SIG}&sv=2022-11-02"
SECRETS = ("AKIAEXAMPLE", SECRET_KEY, "wJal", "rXUt", SIG, "topsecret", "2022-11-02")


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path = str(tmp_path / "audit.db")
    assert main(["init", path, "--cold", URL]) == 0
    capsys.readouterr()
    return path


@pytest.mark.parametrize(
    "argv",
    [["show"], ["show", "--json"], ["apply", "--dry-run"], ["apply", "--dry-run", "--json"],
     ["apply", "--json"], ["apply"]],
)  # fmt: skip
def test_no_secret_of_the_cold_url_is_printed(
    store: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retention", store, *argv, "--no-progress"] if argv[0] == "apply"
                else ["retention", store, *argv]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in out and secret not in err, (argv, secret, out)
    if "--json" in argv:
        assert orjson.loads(out)["cold_url"] == "s3://***@audit-bucket/cold?sig=***&sv=***"
    elif argv == ["show"]:
        assert "cold tier: s3://***@audit-bucket/cold?sig=***&sv=***" in out


def test_show_uses_the_stores_masking() -> None:
    from auditkit.store import display_url

    assert display_url(URL) == "s3://***@audit-bucket/cold?sig=***&sv=***"
