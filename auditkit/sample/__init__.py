"""Realistic, labelled sample audit trails for demos, notebooks, tests and benchmarks.

>>> from auditkit.sample import generate
>>> sample = generate(days=14, actors=60, events=3_000)
>>> len(sample.events), len(sample.incidents) > 0
(3000, True)
"""

from auditkit.sample.generator import (
    MIN_PER_TENANT,
    Event,
    Incident,
    IncidentKind,
    SampleSet,
    generate,
    iter_events,
    plan_incidents,
    write_incidents,
    write_ndjson,
)

__all__ = [
    "Event",
    "Incident",
    "IncidentKind",
    "MIN_PER_TENANT",
    "SampleSet",
    "generate",
    "iter_events",
    "plan_incidents",
    "write_incidents",
    "write_ndjson",
]
