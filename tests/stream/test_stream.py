"""``auditkit stream``: every destination against loopback receivers that fail, time
out, answer 5xx and 429 and restart, and a sender killed with SIGKILL mid-stream.
Each time the receiver ends with every event, none missing, in order per tenant."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.cli import main
from auditkit.errors import AccessDenied, UsageError
from auditkit.store import Store
from auditkit.stream import (
    SignatureMismatch,
    StreamError,
    load_destinations,
    open_destination,
    stream_store,
    url_destination,
    verify_request,
)
from tests.conftest import make_events, store_sealed_while_read
from tests.stream.receivers import SyslogServer, WebhookServer, self_signed

SECRET = "s3cret"
FAST = "timeout = 0.5\nretry_base = 0.01\nretry_cap = 0.05\nmax_attempts = 12\n"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.init(str(tmp_path / "audit.db"))
    s.append(make_events(120) + make_events(45, "globex") + make_events(7, "initech"))
    return s


EXPECTED = {"acme": 120, "globex": 45, "initech": 7}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("HEC_TOKEN", "tok-123")


def config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "stream.toml"
    path.write_text(body)
    return path


def webhook_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    return config(
        tmp_path,
        f'[destinations.hook]\ntype = "webhook"\nurl = "{url}"\nsecret_env = "HOOK_SECRET"\n'
        f"batch_size = 25\n{FAST}{extra}",
    )


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    srv = WebhookServer(secret=SECRET.encode())
    yield srv
    srv.stop()


def run(store: Store, path: Path, *extra: str) -> int:
    return main(["stream", store.location, "--to", "hook", "--config", str(path), "--once",
                 "--no-progress", *extra])  # fmt: skip


# -- the webhook --------------------------------------------------------------------------
def test_webhook_once_delivers_every_event_signed_with_its_checkpoint(
    store: Store, server: WebhookServer, tmp_path: Path, env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = webhook_config(tmp_path, server.url)
    assert run(store, path) == 0
    assert "sent 172 events in 8 batch(es) to hook (3 tenant(s)" in capsys.readouterr().out
    server.received.check_complete(EXPECTED)
    assert not server.received.refused
    roots = {cp.tenant_id: cp.root_hash for cp in store.latest_checkpoints().values()}
    for batch in server.received.batches:
        assert batch["checkpoint"]["root_hash"] == roots[batch["tenant_id"]]
        assert len(batch["event_ids"]) == batch["count"]
    # nothing new: nothing sent; new events: only those
    assert run(store, path) == 0
    assert "sent 0 events" in capsys.readouterr().out
    store.append(make_events(3, "globex", prefix="new"))
    assert run(store, path) == 0
    assert server.received.seqs["globex"][-3:] == [45, 46, 47]
    assert store.stream_cursors("hook") == {"acme": 120, "globex": 48, "initech": 7}


def test_receiver_that_fails_times_out_and_throttles(
    store: Store, tmp_path: Path, env: None
) -> None:
    script = {0: 500, 1: "drop", 2: 429, 3: 503, 5: "slow", 6: 502, 9: 500, 10: 500}
    srv = WebhookServer(secret=SECRET.encode(), plan=lambda n: script.get(n, "ok"))
    try:
        assert run(store, webhook_config(tmp_path, srv.url)) == 0
        srv.received.check_complete(EXPECTED)
        assert srv.received.requests >= 8 + len(script)
    finally:
        srv.stop()


def test_receiver_that_restarts_mid_stream(store: Store, tmp_path: Path, env: None) -> None:
    srv = WebhookServer(secret=SECRET.encode(), delay=0.02)
    path = webhook_config(tmp_path, srv.url, "")
    restarted = threading.Event()

    def bounce() -> None:
        while srv.received.requests < 3:
            time.sleep(0.005)
        srv.restart()
        restarted.set()

    t = threading.Thread(target=bounce)
    t.start()
    try:
        assert run(store, path) == 0
        t.join()
        assert restarted.is_set()
        srv.received.check_complete(EXPECTED)
    finally:
        srv.stop()


def test_refusal_stops_with_exit_1_and_keeps_the_cursor(
    store: Store, tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    srv = WebhookServer(secret=b"another secret")
    try:
        assert run(store, webhook_config(tmp_path, srv.url)) == 1
        err = capsys.readouterr().err
        assert "HTTP 401" in err and SECRET not in err
        assert srv.received.requests == 1  # a 401 is not retried
        assert store.stream_cursors("hook") == {}
    finally:
        srv.stop()


def test_outage_longer_than_the_retries_then_resume(
    store: Store, tmp_path: Path, env: None
) -> None:
    down = {"on": True}
    srv = WebhookServer(secret=SECRET.encode(), plan=lambda n: 503 if down["on"] else "ok")
    try:
        path = webhook_config(tmp_path, srv.url, "")
        assert run(store, path) == 1
        down["on"] = False
        assert run(store, path) == 0
        srv.received.check_complete(EXPECTED)
    finally:
        srv.stop()


def test_sender_killed_with_sigkill_mid_stream_loses_nothing(tmp_path: Path, env: None) -> None:
    store = Store.init(str(tmp_path / "big.db"))
    expected = {"acme": 700, "globex": 400, "initech": 100}
    store.append([e for t, n in expected.items() for e in make_events(n, t)])
    srv = WebhookServer(secret=SECRET.encode(), delay=0.01)
    path = webhook_config(tmp_path, srv.url)
    cmd = [sys.executable, "-m", "auditkit.cli", "stream", store.location, "--to", "hook",
           "--config", str(path), "--once", "--no-progress"]  # fmt: skip
    try:
        kills = 0
        for wait_for in (6, 20, 34):  # kill three times, at different points
            proc = subprocess.Popen(cmd, env={**os.environ}, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while srv.received.requests < wait_for and time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                time.sleep(0.002)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait()
        assert kills >= 2
        done = subprocess.run(cmd, env={**os.environ}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        srv.received.check_complete(expected)
    finally:
        srv.stop()


def test_follow_sends_new_events_and_stops_on_sigterm(tmp_path: Path, env: None) -> None:
    store = Store.init(str(tmp_path / "f.db"))
    store.append(make_events(10))
    srv = WebhookServer(secret=SECRET.encode())
    path = webhook_config(tmp_path, srv.url)
    cmd = [sys.executable, "-m", "auditkit.cli", "stream", store.location, "--to", "hook",
           "--config", str(path), "--follow", "--poll", "0.1", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(srv.received.seqs.get("acme", [])) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        store.append(make_events(5, prefix="new"))
        while len(srv.received.seqs.get("acme", [])) < 15 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "sent 15 events" in out
        srv.received.check_complete({"acme": 15})
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.stop()


def test_webhook_over_tls(store: Store, tmp_path: Path, env: None) -> None:
    cert, key = self_signed(tmp_path)
    srv = WebhookServer(secret=SECRET.encode(), tls=(cert, key))
    try:
        path = webhook_config(tmp_path, srv.url, f'ca_file = "{cert}"\n')
        assert run(store, path, "--tenant", "globex") == 0
        srv.received.check_complete({"globex": 45})
        # without the CA the certificate is refused (not retried into success)
        other = webhook_config(tmp_path, srv.url.replace("/hook", "/x"))
        assert run(store, other) == 1
    finally:
        srv.stop()


def test_url_destination_with_secret_from_the_environment(
    store: Store, server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITKIT_WEBHOOK_SECRET", SECRET)
    argv = ["stream", store.location, "--to", server.url, "--once", "--no-progress"]
    assert main(argv) == 0
    server.received.check_complete(EXPECTED)
    assert store.stream_cursors(url_destination(server.url).name) == EXPECTED


# -- other destinations --------------------------------------------------------------------
def test_splunk_hec_with_token(store: Store, tmp_path: Path, env: None) -> None:
    srv = WebhookServer(token="tok-123", plan=lambda n: 503 if n == 1 else "ok")
    try:
        path = config(
            tmp_path,
            f'[destinations.hook]\ntype = "hec"\nurl = "{srv.url}"\ntoken_env = "HEC_TOKEN"\n'
            f"batch_size = 50\n{FAST}",
        )
        assert run(store, path) == 0
        srv.received.check_complete(EXPECTED)
    finally:
        srv.stop()


@pytest.mark.parametrize("tls", [False, True])
def test_syslog_tcp_octet_counting(store: Store, tmp_path: Path, tls: bool) -> None:
    pair = self_signed(tmp_path) if tls else None
    srv = SyslogServer(tls=pair)
    try:
        extra = f'tls = true\nca_file = "{pair[0]}"\n' if pair else ""
        path = config(
            tmp_path,
            f'[destinations.hook]\ntype = "syslog"\nhost = "127.0.0.1"\nport = {srv.port}\n'
            f"batch_size = 40\n{FAST}{extra}",
        )
        assert run(store, path) == 0
        deadline = time.monotonic() + 60  # the receiver's thread may lag on a busy machine
        while len(srv.messages) < 172 + 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        events = [m for m in srv.messages if b" auditkit.batch " not in m]
        markers = [m for m in srv.messages if b" auditkit.batch " in m]
        assert len(events) == 172 and len(markers) == 6
        by_tenant: dict[str, list[int]] = {}
        for m in events:
            e = orjson.loads(m.split(b"\xef\xbb\xbf", 1)[1])
            by_tenant.setdefault(e["tenant_id"], []).append(e["seq"])
        assert by_tenant == {t: list(range(n)) for t, n in EXPECTED.items()}
        assert b'first_seq="0" end_seq="40" count="40"' in markers[0]
    finally:
        srv.stop()


def test_folder_of_batches(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "outbox"
    path = config(
        tmp_path, f'[destinations.hook]\ntype = "folder"\npath = "{out}"\nformat = "ocsf"\n'
    )
    assert run(store, path, "--batch-size", "50") == 0
    files = sorted(out.glob("*/*.ocsf.ndjson"))
    assert len(files) == 3 + 1 + 1
    seqs: dict[str, list[int]] = {}
    for f in files:
        header = orjson.loads(f.with_name(f.name + ".batch.json").read_bytes())
        for line in f.read_bytes().splitlines():
            e = orjson.loads(line)
            seqs.setdefault(e["metadata"]["tenant_uid"], []).append(e["metadata"]["sequence"])
        assert header["format"] == "ocsf" and header["count"] == len(f.read_bytes().splitlines())
    assert seqs == {t: list(range(n)) for t, n in EXPECTED.items()}


def test_a_folder_of_batches_ingests_back_without_its_manifests(
    store: Store, tmp_path: Path
) -> None:
    """Restoring from the archive: every ``.batch.json`` manifest beside its batch was
    quarantined as a file of unknown format, and ``--strict`` failed on auditkit's own
    output."""
    out = tmp_path / "outbox"
    path = config(tmp_path, f'[destinations.hook]\ntype = "folder"\npath = "{out}"\n')
    assert run(store, path, "--batch-size", "50") == 0
    assert list(out.glob("*/*.batch.json"))
    again = str(tmp_path / "again.db")
    assert main(["init", again]) == 0
    assert main(["ingest", again, str(out), "--strict", "--no-progress"]) == 0
    assert Store.open(again).load().height == sum(EXPECTED.values())


def test_streaming_to_one_destination_needs_no_other_s_secret(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """The docs' stream.toml names five destinations: a folder refused to run while the
    webhook's secret variable was unset."""
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    out = tmp_path / "outbox"
    path = config(
        tmp_path,
        '[destinations.soc]\ntype = "webhook"\nurl = "https://127.0.0.1:9/x"\n'
        'secret_env = "NO_SUCH_SECRET"\n'
        f'[destinations.hook]\ntype = "folder"\npath = "{out}"\n',
    )
    assert run(store, path) == 0
    assert list(out.glob("*/*.ndjson"))
    argv = ["stream", store.location, "--to", "soc", "--config", str(path), "--once"]
    assert main(argv) == 2  # the one asked for still needs its own
    assert "NO_SUCH_SECRET is not set" in capsys.readouterr().err
    assert main([*argv[:3], "nope", *argv[4:]]) == 2
    assert "known: soc, hook" in capsys.readouterr().err


def test_a_receiver_may_give_the_secret_as_text() -> None:
    """docs/siem.md's receiver reads the secret from the environment (text): hmac raised
    TypeError, not SignatureMismatch, and every delivery failed."""
    from auditkit.stream.batches import sign_request

    headers = sign_request(b"s3cret", b"{}")
    assert verify_request("s3cret", headers, b"{}") > 0
    with pytest.raises(SignatureMismatch):
        verify_request("other", headers, b"{}")


def test_s3_bucket_on_a_loopback_moto_server(store: Store, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    srv.start()
    try:
        host, port = srv.get_host_and_port()
        url = f"http://{host}:{port}"
        monkeypatch.setenv("LAKE_KEY", "testing")
        monkeypatch.setenv("LAKE_SECRET", "testing")
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        s3.create_bucket(Bucket="lake")
        path = config(
            tmp_path,
            f'[destinations.hook]\ntype = "s3"\nbucket = "lake"\nprefix = "audit/"\n'
            f'endpoint_url = "{url}"\naccess_key_env = "LAKE_KEY"\nsecret_key_env = "LAKE_SECRET"\n'
            "batch_size = 100\n",
        )
        assert run(store, path) == 0
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]]
        data = [k for k in keys if k.endswith(".ndjson")]
        assert len(data) == 2 + 1 + 1 and all(k.startswith("audit/") for k in data)
        body = s3.get_object(Bucket="lake", Key="audit/acme/000000000000000-000000000000100.ndjson")
        lines = body["Body"].read().splitlines()
        assert [orjson.loads(x)["seq"] for x in lines] == list(range(100))
    finally:
        srv.stop()


# -- configuration, secrets, cursors -------------------------------------------------------
def test_secrets_are_never_in_the_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config(tmp_path, '[destinations.x]\ntype = "webhook"\nurl = "https://a.example/"\n'
                  'secret = "hunter2"\n')  # fmt: skip
    with pytest.raises(UsageError, match="in the clear") as exc:
        load_destinations(path)
    assert "hunter2" not in str(exc.value)
    path = config(tmp_path, '[destinations.x]\ntype = "webhook"\nurl = "https://a.example/"\n'
                  'secret_env = "NOPE_NOT_SET"\n')  # fmt: skip
    with pytest.raises(UsageError, match="NOPE_NOT_SET is not set"):
        load_destinations(path)
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    path = config(tmp_path, '[destinations.x]\ntype = "webhook"\nurl = "https://a.example/"\n'
                  f'secret_file = "{secret_file}"\n')  # fmt: skip
    dest = load_destinations(path)["x"]
    assert dest.secrets["secret"] == b"from-a-file" and "from-a-file" not in repr(dest)
    path = config(tmp_path, '[destinations.x]\ntype = "webhook"\nurl = "http://siem.example/"\n'
                  f'secret_file = "{secret_file}"\n')  # fmt: skip
    with pytest.raises(UsageError, match="only to a loopback"):
        load_destinations(path)
    with pytest.raises(UsageError, match="no credentials"):
        url_destination("https://user:pw@siem.example/")


def test_usage_errors(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path, '[destinations.out]\ntype = "folder"\npath = "x"\n')
    assert main(["stream", store.location, "--to", "nope", "--config", str(path), "--once"]) == 2
    assert "no destination 'nope'" in capsys.readouterr().err
    assert main(["stream", store.location, "--to", "out", "--once"]) == 2
    assert main(["stream", store.location, "--to", "out", "--config", str(path)]) == 2
    argv = ["stream", store.location, "--to", "out", "--config", str(path), "--once", "--tenant"]
    assert main([*argv, "umbrella"]) == 2
    assert "umbrella" in capsys.readouterr().err


def test_cursor_only_moves_forward(store: Store) -> None:
    assert store.stream_cursor("d", "acme") == 0
    assert store.advance_stream_cursor("d", "acme", 50) == 50
    assert store.advance_stream_cursor("d", "acme", 20) == 50
    assert store.stream_cursors("d") == {"acme": 50}
    assert store.stream_cursors("other") == {}
    with pytest.raises(UsageError):
        store.advance_stream_cursor("d", "acme", -1)


def test_cursors_need_the_export_permission(store: Store) -> None:
    store.add_principal("ann")
    store.grant("ann", "acme", "analyst")
    store.grant("ann", "globex", "viewer")
    store.advance_stream_cursor("d", "acme", 5)
    store.advance_stream_cursor("d", "globex", 6)
    ann = store.bind(principal="ann")
    perms: dict[str, Any] = {t: ann.context().permissions_on(t) for t in ("acme", "globex")}
    allowed = {t for t, p in perms.items() if any(x.value == "export" for x in p)}
    assert set(ann.stream_cursors("d")) == allowed
    for t in {"acme", "globex"} - allowed:
        with pytest.raises(AccessDenied):
            ann.advance_stream_cursor("d", t, 9)


def test_python_api(store: Store, server: WebhookServer, tmp_path: Path, env: None) -> None:
    dest = open_destination(load_destinations(webhook_config(tmp_path, server.url))["hook"])
    result = stream_store(store, dest, tenants=["initech"])
    assert (result.events, result.batches, sorted(result.tenants)) == (7, 1, ["initech"])
    with pytest.raises(StreamError):
        bad = load_destinations(webhook_config(tmp_path, server.url.replace(str(server.port), "9")))
        stream_store(store, open_destination(bad["hook"]))


def test_syslog_carries_cef(store: Store, tmp_path: Path) -> None:
    srv = SyslogServer()
    try:
        path = config(
            tmp_path,
            f'[destinations.hook]\ntype = "syslog"\nhost = "127.0.0.1"\nport = {srv.port}\n'
            f'format = "cef"\n{FAST}',
        )
        assert run(store, path, "--tenant", "initech") == 0
        deadline = time.monotonic() + 10
        while len(srv.messages) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        cef = [m for m in srv.messages if b" CEF - CEF:0|auditkit|" in m]
        assert len(cef) == 7 and b"cs1=initech" in cef[0] and b"cn1=0 " in cef[0]
    finally:
        srv.stop()


def test_rows_sealed_while_a_window_is_read_are_still_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retention run sealing rows into the cold tier while the stream read its window
    left them out of the frame, and the cursor passed them: never sent, though still in
    the store.  A short window is read again, and every event goes out."""
    store, sealed = store_sealed_while_read(tmp_path, monkeypatch)
    out = tmp_path / "outbox"
    path = config(
        tmp_path, f'[destinations.hook]\ntype = "folder"\npath = "{out}"\nformat = "ndjson"\n'
    )
    result = stream_store(store, open_destination(load_destinations(path)["hook"]))
    assert sealed[-1] > 0
    sent = [
        orjson.loads(line)["seq"]
        for f in sorted(out.glob("*/*.ndjson"))
        for line in f.read_bytes().splitlines()
    ]
    assert sorted(sent) == list(range(3001)) and result.events == 3001
