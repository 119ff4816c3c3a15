"""Records as YAML documents one after another: ``gcloud logging read``'s default
output (``--format=yaml``).  Each document gives the event the same entry gives in
``gcloud logging read --format=json``; a broken document is quarantined alone at the
line it starts on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.ingest._yaml import iter_yaml_documents, looks_like_yaml
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store

from . import FIXTURES

GCLOUD_YAML = FIXTURES / "exports" / "gcloud_logging_read.yaml"
GCLOUD_JSON = FIXTURES / "gcp" / "gcloud_logging_read.json"


def _gcloud_yaml(entries: list[dict[str, Any]], *, leading: bool = True) -> str:
    """What ``gcloud logging read`` prints: each entry a document, keys sorted, text
    quoted where YAML would read it otherwise (times), ``---`` between documents."""
    docs = [yaml.safe_dump(e, sort_keys=True, default_flow_style=False) for e in entries]
    return ("---\n" if leading else "") + "---\n".join(docs)


def _ingest(tmp_path: Path, text: str, name: str = "entries.yaml", **kw: Any) -> Any:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], **kw)
    return result, store


def _events(store: Store) -> list[dict[str, Any]]:
    frame = store.load()
    rows = frame.to_dicts() if hasattr(frame, "to_dicts") else frame.to_dict("records")
    return sorted(
        (
            {k: r[k] for k in ("event_id", "tenant_id", "action", "outcome", "actor_id")}
            | {"occurred_at": str(r["occurred_at"]), "source_ip": r["source_ip"]}
            for r in rows
        ),
        key=lambda e: e["event_id"],
    )


@pytest.mark.parametrize("leading", [True, False])
def test_gcloud_yaml_gives_the_events_of_its_json_output(tmp_path: Path, leading: bool) -> None:
    """The default output of ``gcloud logging read`` was a file of unknown format,
    quarantined whole; its entries are the events ``--format=json`` gives, with or
    without a ``---`` before the first."""
    entries = json.loads(GCLOUD_JSON.read_text())
    got, store = _ingest(tmp_path / "y", _gcloud_yaml(entries, leading=leading))
    _, json_store = _ingest(tmp_path / "j", GCLOUD_JSON.read_text(), "entries.json")
    assert (got.stored, got.quarantined) == (len(entries), 0)
    assert got.files == {str(tmp_path / "y" / "entries.yaml"): "gcp"}
    assert _events(store) == _events(json_store)


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    (tmp_path / "y").mkdir()
    (tmp_path / "j").mkdir()


def test_the_fixture_as_gcloud_prints_it(tmp_path: Path) -> None:
    """Entries as gcloud prints them (``'@type'`` and times quoted, a 64-bit id as
    text, a denied Data Access entry): each gives its event, the nanoseconds of its
    time in its id, the original entry kept."""
    result, store = _ingest(tmp_path, GCLOUD_YAML.read_text())
    assert (result.stored, result.quarantined) == (2, 0)
    events = {e["action"]: e for e in _events(store)}
    assert events["compute_instances.delete"]["actor_id"] == "alice@example.com"
    assert events["storage_objects.get"]["outcome"] == "denied"
    meta = json.loads(store.load().to_dicts()[0]["metadata"])
    assert meta["original"]["resource"]["labels"]["instance_id"] == "1234567890123456789"
    assert meta["source_format"] == "gcp"


def test_unquoted_times_keep_their_nanoseconds(tmp_path: Path) -> None:
    """A time written without quotes is not read as a date (which keeps microseconds
    at most): the entry's id, which holds the time to the nanosecond, is the one its
    JSON gives."""
    text = GCLOUD_YAML.read_text()
    unquoted = text.replace("timestamp: '2024-04-03T08:00:00.987654321Z'",
                            "timestamp: 2024-04-03T08:00:00.987654321Z")  # fmt: skip
    assert unquoted != text
    a, quoted_store = _ingest(tmp_path / "y", text)
    b, unquoted_store = _ingest(tmp_path / "j", unquoted)
    assert (a.stored, b.stored) == (2, 2)
    assert _events(quoted_store) == _events(unquoted_store)


def test_a_broken_document_is_quarantined_alone_at_its_line(tmp_path: Path) -> None:
    """A document that is not YAML, or not a mapping, is quarantined alone, at the line
    it starts on; the documents around it are read.  Nulls and empty values in an
    entry are ordinary input."""
    entries = json.loads(GCLOUD_JSON.read_text())
    nulls = dict(entries[0], insertId="nulls1", severity=None, operation=None)
    nulls["protoPayload"] = dict(entries[0]["protoPayload"], request=None, status={})
    nulls["protoPayload"]["requestMetadata"] = {"callerIp": "", "callerSuppliedUserAgent": None}
    text = _gcloud_yaml([entries[0]])
    broken_at = text.count("\n") + 2
    text += "---\ninsertId: broken\nprotoPayload:\n  methodName: [unclosed\n"
    scalar_at = text.count("\n") + 2
    text += (
        "---\njust some text\n---\n" + yaml.safe_dump(nulls) + "---\n" + yaml.safe_dump(entries[1])
    )
    result, store = _ingest(tmp_path, text)
    assert (result.read, result.stored, result.quarantined) == (5, 3, 2)
    problems = sorted((p.line, p.reason) for p in result.problems)
    assert problems[0][0] == broken_at and problems[0][1].startswith("invalid YAML")
    assert problems[1] == (scalar_at, "expected a YAML mapping (a record), got str")
    assert all(p.file == str(tmp_path / "entries.yaml") for p in result.problems)
    assert "nulls1" in {e["event_id"].split(".")[0] for e in _events(store)}


def test_format_gcp_reads_yaml_too(tmp_path: Path) -> None:
    """``--format gcp`` on the YAML output had every line quarantined as invalid JSON."""
    result, _ = _ingest(tmp_path, GCLOUD_YAML.read_text(), format="gcp")
    assert (result.stored, result.quarantined) == (2, 0)


def test_yaml_of_no_known_format_says_what_it_holds(tmp_path: Path) -> None:
    """YAML documents no format reads are one quarantined file, the reason naming the
    first document's keys, as for a JSON file of unknown format."""
    result, _ = _ingest(tmp_path, "---\nname: web-1\nzone: europe-west1-b\n---\nname: db\n")
    assert (result.stored, result.quarantined) == (0, 1)
    reason = result.problems[0].reason
    assert "YAML documents" in reason and "name, zone" in reason


def test_other_text_is_not_taken_for_yaml() -> None:
    for head in (
        b'{"insertId": "x"}\n',
        b"[]",
        b"eventTime,eventName\n2024,x\n",
        b"Mar  7 18:30:00 host sshd[1]: Accepted publickey\n",
        b"just a line\n",
    ):
        assert not looks_like_yaml(head), head


#: text as a YAML dumper writes it back unchanged (not its line breaks NEL, LS, PS)
_TEXT = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029\ufeff"
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.text(_TEXT, max_size=12),
    st.sampled_from(["2024-04-03T08:00:00.123456789Z", "yes", "no", "on", "1:30", "0o17", "~"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(_TEXT, min_size=1, max_size=8), inner, max_size=3),
    ),
    max_leaves=12,
)
_DOCS = st.lists(
    st.dictionaries(st.text(_TEXT, min_size=1, max_size=10), _VALUES, min_size=1, max_size=5),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(docs=_DOCS, leading=st.booleans(), crlf=st.booleans())
def test_yaml_documents_read_back_as_their_json(
    tmp_path: Path, docs: list[dict[str, Any]], leading: bool, crlf: bool
) -> None:
    """Whatever the documents hold (times, YAML 1.1 booleans and numbers written as
    text, nesting, nulls, CRLF line ends), a stream written by a YAML dumper reads
    back document by document as the JSON values they were, each located at the line
    it starts on."""
    parts = [yaml.safe_dump(d, allow_unicode=True) for d in docs]
    text = ("---\n" if leading else "") + "---\n".join(parts)
    if crlf:
        text = text.replace("\n", "\r\n")
    path = tmp_path / "docs.yaml"
    path.write_bytes(text.encode("utf-8"))
    got = list(iter_yaml_documents(str(path)))
    assert [r.error for r in got] == [None] * len(docs)
    assert [r.value for r in got] == docs
    line = 2 if leading else 1
    starts = []
    for part in parts:
        starts.append(line)
        line += part.count("\n") + 1
    assert [r.line for r in got] == starts
