"""Frameworks as data: control catalogs (``catalogs/*.yaml``) and event classes.

A framework is registered by dropping one YAML file in ``catalogs/``; each control
names its evidence sections and a status rule (or several: the worst status wins).
Catalogs are checked when they load: every rule exists in :mod:`auditkit.reports.rules`
and accepts its parameters, every evidence name is a section, every event class a rule
names is defined in ``event_classes.yaml``.

Examples
--------
>>> sorted(available_frameworks())
['gdpr', 'hipaa', 'iso27001', 'nist-800-53', 'pci-dss', 'soc2']
>>> get_framework("pci-dss").control("10.5.1").title
'Audit log history retained for a year, three months at hand'
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import polars as pl
import yaml

from auditkit.errors import UsageError
from auditkit.plugins import GROUPS, Registry

__all__ = [
    "Control",
    "EventClass",
    "Framework",
    "FRAMEWORKS",
    "RuleSpec",
    "available_frameworks",
    "crosswalk",
    "event_classes",
    "get_framework",
    "load_catalog",
    "register_builtin_catalogs",
    "register_framework",
]


@dataclass(frozen=True)
class EventClass:
    """A kind of event frameworks ask for, matched by action globs, outcomes, categories.

    Examples
    --------
    >>> event_classes()["login_failure"].matches("user.login", "failure", "management")
    True
    """

    name: str
    title: str
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def matches(self, action: str, outcome: str, category: str) -> bool:
        """Whether one event (by action, outcome and category) is of this class."""
        return (
            (not self.actions or any(fnmatch.fnmatchcase(action, p) for p in self.actions))
            and (not self.outcomes or outcome in self.outcomes)
            and (not self.categories or category in self.categories)
        )

    def expr(self) -> pl.Expr:
        """A Polars predicate on ``action``, ``outcome`` and ``category``.

        Examples
        --------
        >>> import polars as pl
        >>> df = pl.DataFrame({"action": ["doc.read", "doc.update"], "outcome": ["success"] * 2,
        ...                    "category": ["user"] * 2})
        >>> df.filter(event_classes()["data_read"].expr())["action"].to_list()
        ['doc.read']
        """
        cond = pl.lit(True)
        if self.actions:
            regex = "|".join(
                re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in self.actions
            )
            cond = cond & pl.col("action").str.contains(f"^(?:{regex})$")
        if self.outcomes:
            cond = cond & pl.col("outcome").is_in(list(self.outcomes))
        if self.categories:
            cond = cond & pl.col("category").is_in(list(self.categories))
        return cond


@dataclass(frozen=True)
class RuleSpec:
    """A rule name and its parameters, as written in a catalog."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Control:
    """One control of a framework: what it asks, its evidence sections and rules."""

    id: str
    title: str
    summary: str
    evidence: tuple[str, ...]
    rules: tuple[RuleSpec, ...]


@dataclass(frozen=True)
class Framework:
    """A framework's catalog: its controls that concern audit logging."""

    id: str
    name: str
    title: str
    version: str
    description: str
    controls: tuple[Control, ...]
    aliases: tuple[str, ...] = ()
    source: str = ""

    def control(self, control_id: str) -> Control:
        """One control by id.

        Examples
        --------
        >>> get_framework("soc2").control("CC9.9")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        auditkit.errors.UsageError: soc2 has no control 'CC9.9'; it has: CC6.1, CC6.2, ...
        """
        for c in self.controls:
            if c.id == control_id:
                return c
        raise UsageError(
            f"{self.id} has no control {control_id!r}; it has: "
            f"{', '.join(c.id for c in self.controls)}"
        )

    def required_classes(self) -> tuple[str, ...]:
        """Event classes that this framework's rules ask for, in catalog order.

        Examples
        --------
        >>> "login_failure" in get_framework("pci-dss").required_classes()
        True
        """
        out: dict[str, None] = {}
        for c in self.controls:
            for r in c.rules:
                for name in r.params.get("classes", ()):
                    out[name] = None
        return tuple(out)


def _load_yaml(name: str) -> Any:
    text = resources.files("auditkit.reports").joinpath(name).read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{name}: invalid YAML: {exc}") from exc


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


@cache
def event_classes() -> dict[str, EventClass]:
    """The event classes of ``event_classes.yaml``, by name.

    Examples
    --------
    >>> event_classes()["privilege_granted"].actions
    ('role.grant', 'permission.grant')
    """
    doc = _load_yaml("event_classes.yaml")
    out = {}
    for name, spec in doc.items():
        where = f"event_classes.yaml: {name}"
        if not isinstance(spec, dict) or "title" not in spec:
            raise UsageError(f"{where}: expected a mapping with a title")
        out[name] = EventClass(
            name,
            str(spec["title"]),
            _strings(spec.get("actions"), f"{where}.actions"),
            _strings(spec.get("outcomes"), f"{where}.outcomes"),
            _strings(spec.get("categories"), f"{where}.categories"),
        )
    return out


def _rule_specs(
    value: Any, where: str, rules: Mapping[str, Callable[..., Any]]
) -> tuple[RuleSpec, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            raise UsageError(f"{where}: expected a rule mapping with a name, got {item!r}")
        params = {k: v for k, v in item.items() if k != "name"}
        name = item["name"]
        if name not in rules:
            raise UsageError(f"{where}: unknown rule {name!r}; known: {', '.join(rules)}")
        try:
            inspect.signature(rules[name]).bind(None, **params)
        except TypeError as exc:
            raise UsageError(f"{where}: rule {name!r}: {exc}") from None
        for cls in params.get("classes", ()):
            if cls not in event_classes():
                raise UsageError(
                    f"{where}: unknown event class {cls!r}; known: {', '.join(event_classes())}"
                )
        out.append(RuleSpec(name, params))
    if not out:
        raise UsageError(f"{where}: expected at least one rule")
    return tuple(out)


def load_catalog(
    filename: str,
    *,
    rules: Mapping[str, Callable[..., Any]],
    sections: Collection[str],
) -> Framework:
    """Read and check ``catalogs/<filename>`` against the known ``rules`` (name ->
    function, whose signature checks the parameters) and ``sections`` (ids).

    The rules and sections sit above the catalogs, so they are passed in.

    Examples
    --------
    >>> load_catalog("soc2.yaml", rules={}, sections=())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: catalogs/soc2.yaml: controls[0] (CC6.1): unknown evidence ...
    """
    available_sections = list(sections)
    doc = _load_yaml(f"catalogs/{filename}")
    where = f"catalogs/{filename}"
    try:
        controls = []
        ids: set[str] = set()
        for i, c in enumerate(doc["controls"]):
            cw = f"{where}: controls[{i}] ({c.get('id', '?')})"
            evidence = _strings(c.get("evidence"), f"{cw}.evidence")
            unknown = [e for e in evidence if e not in available_sections]
            if unknown:
                raise UsageError(
                    f"{cw}: unknown evidence section(s) {unknown}; known: "
                    f"{', '.join(available_sections)}"
                )
            if c["id"] in ids:
                raise UsageError(f"{cw}: duplicate control id")
            ids.add(str(c["id"]))
            controls.append(
                Control(
                    str(c["id"]),
                    str(c["title"]),
                    " ".join(str(c["summary"]).split()),
                    evidence,
                    _rule_specs(c.get("rule"), cw, rules),
                )
            )
        return Framework(
            id=str(doc["id"]),
            name=str(doc["name"]),
            title=str(doc["title"]),
            version=str(doc.get("version", "")),
            description=" ".join(str(doc.get("description", "")).split()),
            controls=tuple(controls),
            aliases=_strings(doc.get("aliases"), f"{where}.aliases"),
            source=where,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{where}: malformed catalog ({type(exc).__name__}: {exc})") from None


#: The frameworks, filled from the ``auditkit.frameworks`` entry points: the
#: built-in module :mod:`auditkit.reports.frameworks` registers one per
#: ``catalogs/*.yaml``; another package registers its own catalogs the same way.
FRAMEWORKS: Registry[Framework] = Registry(
    "framework", group=GROUPS["frameworks"], normalize=lambda n: n.strip().lower()
)


def register_framework(framework: Framework) -> Framework:
    """Register a framework (under its id) and return it."""
    return FRAMEWORKS.register(framework.id, framework)


def register_builtin_catalogs(
    *, rules: Mapping[str, Callable[..., Any]], sections: Collection[str]
) -> None:
    """Register every catalog shipped in ``auditkit/reports/catalogs``, checked against
    ``rules`` and ``sections`` (see :func:`load_catalog`)."""
    folder = resources.files("auditkit.reports").joinpath("catalogs")
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml")):
        register_framework(load_catalog(name, rules=rules, sections=sections))


def available_frameworks() -> dict[str, Framework]:
    """The registered frameworks, by id.

    Examples
    --------
    >>> len(available_frameworks()["pci-dss"].controls)
    22
    """
    return FRAMEWORKS.all()


def get_framework(name: str | Framework) -> Framework:
    """The framework called ``name`` (its id or an alias, any case).

    Examples
    --------
    >>> get_framework("PCI").id
    'pci-dss'
    >>> get_framework("sox")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown framework 'sox'; known: gdpr, hipaa, ...
    """
    if isinstance(name, Framework):
        return name
    key = name.strip().lower()
    for f in available_frameworks().values():
        if key == f.id or key in f.aliases:
            return f
    raise UsageError(f"unknown framework {name!r}; known: {', '.join(available_frameworks())}")


def _test_key(spec: RuleSpec) -> str:
    """A rule and the parameters that say *what* it tests (not how strictly)."""
    what = [
        f"{k}={','.join(v) if isinstance(v, list | tuple) else v}"
        for k, v in sorted(spec.params.items())
        if k in ("classes", "fields", "detectors", "request")
    ]
    return spec.name + (f" ({'; '.join(what)})" if what else "")


def crosswalk() -> pl.DataFrame:
    """One row per test and framework control that uses it: a control tested once serves
    every framework that asks for it.

    Examples
    --------
    >>> cw = crosswalk()
    >>> row = cw.filter(pl.col("test") == "logging_active")
    >>> sorted(set(row["framework"].to_list()))[:3]
    ['hipaa', 'iso27001', 'nist-800-53']
    """
    rows = [
        (_test_key(r), fw.id, c.id, c.title)
        for fw in available_frameworks().values()
        for c in fw.controls
        for r in c.rules
    ]
    return (
        pl.DataFrame(
            rows,
            schema={
                "test": pl.String,
                "framework": pl.String,
                "control": pl.String,
                "title": pl.String,
            },
            orient="row",
        )
        .unique(maintain_order=True)
        .sort("test", "framework", "control")
    )
