"""``remote_execution``: commands, shells and SSH keys pushed onto machines through the
cloud's control plane (Stratus Red Team's ssm-send-command, ssm-start-session,
ec2-instance-connect, ec2-serial-console-send-ssh-public-key and ec2-user-data), read
through the CloudTrail reader; and the administrators' and pipelines' routine that
stays quiet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.remote import remote_execution, runs_on_machines
from auditkit.errors import UsageError
from tests.analytics._producers import cloudtrail as _cloudtrail
from tests.analytics._producers import read_as

OFFICE, AWAY = "198.51.100.23", "45.155.205.233"
#: What a thief runs from AWAY: a client the key's owner never used.
SCRIPT = "Boto3/1.34.1 md/Botocore#1.34.1 Python/3.12.1 Linux/6.8"


def cloudtrail(*args: Any, **kw: Any) -> dict[str, Any]:
    """A CloudTrail record; from AWAY, with the thief's own client."""
    if kw.get("ip") == AWAY:
        kw.setdefault("userAgent", SCRIPT)
    return _cloudtrail(*args, **kw)


SSM, EC2, CONNECT = "ssm.amazonaws.com", "ec2.amazonaws.com", "ec2-instance-connect.amazonaws.com"


def _at(day: int, minute: int = 0, hour: int = 10) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def _session(day: int, machine: str = "i-01", *, user: str = "carol", ip: str = OFFICE,
             minute: int = 0) -> dict[str, Any]:  # fmt: skip
    return cloudtrail("StartSession", _at(day, minute), user=user, source=SSM, ip=ip,
                      request={"target": machine})  # fmt: skip


def _command(day: int, machines: list[str], *, user: str = "carol", ip: str = OFFICE,
             minute: int = 5, error: str | None = None) -> dict[str, Any]:  # fmt: skip
    return cloudtrail("SendCommand", _at(day, minute), user=user, source=SSM, ip=ip,
                      error=error, request={"instanceIds": machines,
                      "documentName": "AWS-RunShellScript",
                      "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"})  # fmt: skip


def _fleet(n: int) -> list[str]:
    return [f"i-0{i:02d}" for i in range(n)]


def _admin_habit(days: range = range(1, 20)) -> list[dict[str, Any]]:
    """An administrator's month: a session a day, the fleet patched every Tuesday."""
    out = [_session(d, f"i-0{d % 3}") for d in days]
    out += [_command(d, _fleet(8)) for d in days if d % 7 == 3]
    return out


def _run(records: list[dict[str, Any]], tmp_path: Path, **kw: Any) -> pl.DataFrame:
    return remote_execution(read_as("cloudtrail", records, tmp_path), **kw)


def test_the_administrators_routine_is_quiet(tmp_path: Path) -> None:
    assert _run(_admin_habit(), tmp_path).is_empty()


def test_a_stolen_admin_key_fanning_out_from_a_new_network_is_high(tmp_path: Path) -> None:
    records = [*_admin_habit(), _command(20, _fleet(15), ip=AWAY)]
    found = _run(records, tmp_path)
    assert found.height == 1
    row = found.row(0, named=True)
    assert row["severity"] == "high"
    assert "on 15 machine(s)" in row["summary"]
    assert "more machines at once than on any earlier day (at most 8)" in row["summary"]
    assert f"from a network it had never used ({AWAY})" in row["summary"]


def test_sessions_on_many_machines_are_wider_than_one_a_day(tmp_path: Path) -> None:
    """Sessions and commands are measured apart: eight commands a week do not make
    six sessions in a minute ordinary."""
    sessions = [_session(20, m, ip=AWAY, minute=i) for i, m in enumerate(_fleet(6))]
    found = _run([*_admin_habit(), *sessions], tmp_path)
    assert found.select("severity").to_series().to_list() == ["high"]
    assert "at most 1" in found["summary"][0]
    # the same from the office: more than ever, but the admin's own network
    sessions = [_session(20, m, minute=i) for i, m in enumerate(_fleet(6))]
    assert _run([*_admin_habit(), *sessions], tmp_path).select("severity").rows() == [("medium",)]


@pytest.mark.parametrize(
    ("name", "source", "request_", "kind"),
    [
        ("SendSSHPublicKey", CONNECT, {"instanceId": "i-01", "instanceOSUser": "ec2-user",
         "sSHPublicKey": "ssh-ed25519 AAAA"}, "SSH key push"),
        ("SendSerialConsoleSSHPublicKey", CONNECT, {"instanceId": "i-01", "serialPort": 0},
         "SSH key push"),
        ("ModifyInstanceAttribute", EC2, {"instanceId": "i-01",
         "userData": "<sensitiveDataRemoved>"}, "start-up script"),
    ],
)  # fmt: skip
def test_a_first_of_its_kind_from_a_new_network_is_high(
    tmp_path: Path, name: str, source: str, request_: dict[str, Any], kind: str
) -> None:
    attack = cloudtrail(name, _at(20, 30, 15), user="carol", source=source, ip=AWAY,
                        request=request_)  # fmt: skip
    found = _run([*_admin_habit(), attack], tmp_path)
    assert found.select("severity").to_series().to_list() == ["high"]
    assert f"its first {kind}" in found["summary"][0]
    # the same from the office is worth a look, not an alarm
    attack["sourceIPAddress"] = OFFICE
    assert _run([*_admin_habit(), attack], tmp_path)["severity"].to_list() == ["medium"]


def test_the_serial_console_is_named(tmp_path: Path) -> None:
    attack = cloudtrail("SendSerialConsoleSSHPublicKey", _at(20), user="dave", source=CONNECT,
                        request={"instanceId": "i-09", "serialPort": 0})  # fmt: skip
    habit = [cloudtrail("DescribeInstances", _at(d), user="dave", source=EC2) for d in range(1, 20)]
    found = _run([*habit, attack], tmp_path)
    assert found["severity"].to_list() == ["high"]
    assert "through the serial console" in found["summary"][0]


def test_new_actors_and_refusals(tmp_path: Path) -> None:
    # a pipeline new to the trail, on two machines: its first deployment, quiet
    habit = [cloudtrail("DescribeInstances", _at(d), user="ops", source=EC2) for d in range(1, 20)]
    assert _run([*habit, _command(20, _fleet(2), user="deploy")], tmp_path).is_empty()
    # on ten: worth a look
    found = _run([*habit, _command(20, _fleet(10), user="deploy")], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    # an established person's first session ever, from their usual network: medium
    habit_ip = [cloudtrail("DescribeInstances", _at(d), user="ops", source=EC2, ip=OFFICE)
                for d in range(1, 20)]  # fmt: skip
    found = _run([*habit_ip, _session(20, user="ops")], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    assert "its first in the trail" in found["summary"][0]
    # a stolen key refused on every machine: medium, and said so
    found = _run([*habit, _command(20, _fleet(12), user="ops", ip=AWAY, error="AccessDenied")],
                 tmp_path)  # fmt: skip
    assert found["severity"].to_list() == ["medium"]
    assert "tried to run" in found["summary"][0]


def test_what_is_not_remote_execution(tmp_path: Path) -> None:
    assert not runs_on_machines("user.session.start")
    assert not runs_on_machines("ssm_command.list")
    assert not runs_on_machines("ssm_command_invocation.get")
    habit = [cloudtrail("DescribeInstances", _at(d), user="ops", source=EC2) for d in range(1, 20)]
    other = cloudtrail(
        "ModifyInstanceAttribute",
        _at(20),
        user="ops",
        source=EC2,
        request={"instanceId": "i-01", "instanceType": {"value": "m5.large"}},
    )
    assert _run([*habit, other], tmp_path).is_empty()


def test_it_runs_in_the_registry_and_rejects_bad_settings(tmp_path: Path) -> None:
    frame = read_as("cloudtrail", [*_admin_habit(), _command(20, _fleet(15), ip=AWAY)], tmp_path)
    found = run_detectors(frame, names=["remote_execution"])
    assert found["detector"].to_list() == ["remote_execution"]
    assert found["score"].is_null().all()
    for bad in ({"min_machines": 0}, {"routine_days": 0}, {"gap": "soon"}):
        with pytest.raises(UsageError):
            remote_execution(frame, **bad)


def test_google_cloud_ssh_keys_and_start_up_scripts_in_metadata(tmp_path: Path) -> None:
    """Stratus Red Team's add-sshkey-instance-metadata: Compute Engine logs which
    metadata keys a ``setMetadata`` added, not their values."""
    from tests.analytics._producers import GCP_PROJECT, gcp

    zone = f"projects/{GCP_PROJECT}/zones/us-central1-a/instances"
    habit = [
        gcp("v1.compute.instances.list", f"2026-03-{d:02d}T09:00:00Z", resource=zone, actor=who)
        for d in range(1, 15)
        for who in ("alice@acme.io", "bob@acme.io", "carl@acme.io", "dana@acme.io")
    ]

    def delta(method: str, who: str, **keys: list[str]) -> dict[str, Any]:
        where = "projectMetadataDelta" if "Common" in method else "instanceMetadataDelta"
        entry = gcp(method, "2026-03-20T15:20:00Z", resource=f"{zone}/api-1", actor=who,
                    ip=AWAY, metadata={where: keys})  # fmt: skip
        entry["protoPayload"]["requestMetadata"]["callerSuppliedUserAgent"] = SCRIPT
        return entry

    records = [
        *habit,
        delta("v1.compute.instances.setMetadata", "alice@acme.io", addedMetadataKeys=["ssh-keys"]),
        delta("v1.compute.projects.setCommonInstanceMetadata", "bob@acme.io",
              modifiedMetadataKeys=["ssh-keys", "enable-oslogin"]),
        delta("v1.compute.instances.setMetadata", "carl@acme.io",
              addedMetadataKeys=["startup-script"]),
        # a label-like key, and keys taken away: nothing runs
        delta("v1.compute.instances.setMetadata", "dana@acme.io", addedMetadataKeys=["owner"],
              removedMetadataKeys=["ssh-keys", "startup-script"]),
    ]  # fmt: skip
    found = remote_execution(read_as("gcp", records, tmp_path))
    got = {r["actor_id"]: r for r in found.iter_rows(named=True)}
    assert set(got) == {"alice@acme.io", "bob@acme.io", "carl@acme.io"}
    assert all(r["severity"] == "high" for r in got.values())
    assert "compute_instances.set_metadata" in got["alice@acme.io"]["summary"]


def test_sagemaker_lifecycle_scripts_are_start_up_scripts(tmp_path: Path) -> None:
    """A lifecycle configuration is a script a notebook instance runs at every start
    (Stratus Red Team's SageMaker persistence): written and attached with a stolen key
    that never did so, from a new network, it is high; a data scientist's weekly update is
    routine."""
    sagemaker = "sagemaker.amazonaws.com"

    def script(day: int, ip: str, minute: int = 0, user: str = "dana") -> list[dict[str, Any]]:
        return [
            cloudtrail("UpdateNotebookInstanceLifecycleConfig", _at(day, minute), user=user,
                       source=sagemaker, ip=ip,
                       request={"notebookInstanceLifecycleConfigName": "setup-env",
                                "onStart": [{"content": "IyEvYmluL2Jhc2g="}]}),
            cloudtrail("UpdateNotebookInstance", _at(day, minute + 2), user=user,
                       source=sagemaker, ip=ip,
                       request={"notebookInstanceName": "research",
                                "lifecycleConfigName": "setup-env"}),
        ]  # fmt: skip

    weekly = [r for d in (1, 4, 8, 12, 16) for r in script(d, OFFICE)]
    assert _run([*_admin_habit(), *weekly], tmp_path).is_empty()
    # the administrator's key, which only ever opened sessions, from a new network
    stolen = script(20, AWAY, user="carol")
    found = _run([*_admin_habit(), *weekly, *stolen], tmp_path)
    assert found["severity"].to_list() == ["high"]
    assert "'research'" in found["summary"][0]
    # changing an instance's size is not a script
    request = {"notebookInstanceName": "research", "instanceType": "ml.t3.large"}
    resize = cloudtrail("UpdateNotebookInstance", _at(20), user="dana", source=sagemaker,
                        ip=AWAY, request=request)  # fmt: skip
    assert _run([*_admin_habit(), *weekly, resize], tmp_path).is_empty()


def test_the_routine_from_a_new_network_with_a_new_client_is_high(tmp_path: Path) -> None:
    """The administrator's own sessions, from a hotel with their laptop, are routine; the
    same sessions from a network and a client the key never used are a stolen key."""
    hotel = [_session(20, "i-01", ip=AWAY, minute=0)]
    hotel[0]["userAgent"] = "aws-cli/2.15.0"
    assert _run([*_admin_habit(), *hotel], tmp_path).is_empty()
    found = _run([*_admin_habit(), _session(20, "i-01", ip=AWAY)], tmp_path)
    assert found["severity"].to_list() == ["high"]
    assert "with a client it had never used" in found["summary"][0]


def test_a_thief_who_tried_the_key_the_day_before_is_still_a_stranger(tmp_path: Path) -> None:
    """One harmless call from the thief's machine days before the attack does not make
    its network and client the key's own (``common.ESTABLISHED_DAYS``: used on three
    days); three days of such calls do."""

    def knock(day: int) -> dict[str, Any]:
        return cloudtrail("DescribeInstances", _at(day, hour=3), user="carol", source=EC2,
                          ip=AWAY)  # fmt: skip

    attack = [_session(20, "i-01", ip=AWAY)]
    found = _run([*_admin_habit(), knock(17), *attack], tmp_path)
    assert found["severity"].to_list() == ["high"]
    # the evidence says what is true: it had been used, on fewer than three days
    summary = found["summary"][0]
    assert f"from a network it had used on fewer than 3 days ({AWAY})" in summary
    assert "with a client it had used on fewer than 3 days" in summary
    settled = [knock(16), knock(17), knock(18), knock(19)]
    assert _run([*_admin_habit(), *settled, *attack], tmp_path).is_empty()
