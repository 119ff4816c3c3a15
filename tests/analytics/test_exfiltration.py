"""Mass export/download and mass deletion."""

from __future__ import annotations

from auditkit.analytics.detectors.exfiltration import mass_deletion, mass_export


def test_mass_export_counts_exports_and_downloads(event, frame) -> None:
    rows = [
        event(
            "document.export" if i % 2 else "file.download",
            "leo",
            minutes=i * 0.5,
            target={"id": f"d{i % 40}", "type": "document"},
        )
        for i in range(50)
    ]
    found = mass_export(frame(rows))
    assert found.height == 1
    assert "50 item(s) (40 distinct; document, file)" in found["summary"][0]
    assert mass_export(frame(rows[:49])).height == 0


def test_mass_export_ignores_services_and_failures(event, frame) -> None:
    svc = [
        event("document.export", "svc-backup", minutes=i * 0.1, actor_type="service")
        for i in range(100)
    ]
    denied = [
        event("document.export", "leo", minutes=i * 0.1, outcome="denied") for i in range(100)
    ]
    assert mass_export(frame(svc + denied)).height == 0
    keys = [
        event("document.export", "key-1", minutes=i * 0.1, actor_type="api_key") for i in range(60)
    ]
    assert mass_export(frame(keys))["actor_id"].to_list() == ["key-1"]


def test_mass_deletion_window(event, frame) -> None:
    burst = [event("record.delete", "max", minutes=i) for i in range(30)]
    assert mass_deletion(frame(burst)).height == 1
    spread = [event("record.delete", "max", minutes=i * 3) for i in range(30)]
    assert mass_deletion(frame(spread)).height == 0
    assert mass_deletion(frame(spread), window="2h").height == 1
