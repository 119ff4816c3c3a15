"""Network exposure: a firewall or security group rule that lets any address in.

An SSH, RDP or database port opened to ``0.0.0.0/0`` is how a cloud host is taken
over by whoever scans for it next, and how an intruder keeps a door of their own
without a key to revoke.  Each source writes the rule its own way: AWS an API call
(``AuthorizeSecurityGroupIngress`` with ``ipPermissions``, ``ModifySecurityGroupRules``,
``CreateNetworkAclEntry``) whose request the CloudTrail format keeps under the
metadata's ``original``; Google Cloud a ``firewalls.insert`` or ``patch`` with
``sourceRanges`` and ``allowed``; Azure a network security rule with
``sourceAddressPrefix`` and ``destinationPortRange``; an application a ``changes``
object.  The detector reads the request (and the ``after`` of ``changes``) of every
event whose action names a firewall, a security group, a network ACL or an ingress
rule, and reports the rules that admit any address to a port other than the web's
(80, 443).  Outbound rules, denying rules and rules removed are not exposure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    action_words,
    actions_matching,
    classified,
    classified_episodes,
    duration,
    empty,
    finalize,
    first_few,
    fmt_between,
    json_or_none,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["network_exposure", "network_exposures"]

#: Actions about inbound network rules (a regular expression on the action).
_RULE_ACTIONS: Final = (
    r"(?i)security_?groups?|firewall|ingress|inbound|network_?acl|nsg|network_?security|"
    r"security_?rules?|ip_?permissions?"
)
#: Verbs that add or change a rule (a rule revoked, deleted or read is not exposure).
_OPENING: Final = frozenset(
    ("authorize", "create", "insert", "add", "update", "patch", "modify", "put", "replace",
     "set", "write", "apply", "upsert")
)  # fmt: skip
#: Keys (lower case, letters and digits only) that hold a rule's source addresses.
_SOURCE_KEYS: Final = frozenset(
    ("cidrip", "cidripv4", "cidripv6", "cidr", "cidrs", "cidrblock", "ipv6cidrblock",
     "sourceranges", "sourcerange", "sourceaddressprefix", "sourceaddressprefixes",
     "sourcecidr", "sourcecidrs", "sourceiprange", "sourceipranges", "remoteipprefix",
     "source", "sources", "sourceaddress", "sourceaddresses", "fromaddress", "srcaddr")
)  # fmt: skip
#: Values that mean any address.
_ANYWHERE: Final = frozenset(("0.0.0.0/0", "::/0", "0.0.0.0", "*", "any", "internet", "anywhere"))
#: Keys of a rule's ports and protocol.
_FROM_PORT: Final = frozenset(("fromport", "portfrom", "startport", "from"))
_TO_PORT: Final = frozenset(("toport", "portto", "endport", "to"))
_PORTS: Final = frozenset(
    ("port", "ports", "portrange", "portranges", "destinationportrange",
     "destinationportranges", "dstport", "dstports", "destinationport", "destinationports")
)  # fmt: skip
_PROTOCOL: Final = frozenset(("ipprotocol", "protocol", "ipprotocolname"))
#: Keys whose subtree is not the rule asked for: the response, who asked, denials.
_SKIP: Final = frozenset(
    ("responseelements", "response", "useridentity", "authenticationinfo",
     "authorizationinfo", "requestmetadata", "denied", "denieds", "egress", "ipv6egress",
     "ippermissionsegress", "egressrules", "outboundrules", "before")
)  # fmt: skip
#: Ports an administrator or a database listens on: open to anyone, they are high.
_SENSITIVE: Final = {
    20: "FTP", 21: "FTP", 22: "SSH", 23: "Telnet", 25: "SMTP", 135: "RPC", 137: "NetBIOS",
    139: "SMB", 445: "SMB", 1433: "SQL Server", 1521: "Oracle", 2049: "NFS",
    2375: "Docker", 2376: "Docker", 2379: "etcd", 3306: "MySQL", 3389: "RDP",
    5432: "PostgreSQL", 5601: "Kibana", 5900: "VNC", 5984: "CouchDB", 5985: "WinRM",
    5986: "WinRM", 6379: "Redis", 6443: "Kubernetes API", 8888: "Jupyter",
    9042: "Cassandra", 9200: "Elasticsearch", 9300: "Elasticsearch", 10250: "kubelet",
    11211: "memcached", 27017: "MongoDB",
}  # fmt: skip
#: Ports that are meant to be open to anyone (a web server).
_WEB: Final = frozenset((80, 443))
_DEEPEST: Final = 24
#: JSON kept as text is read up to this length (a request, not a document).
_LONGEST_TEXT: Final = 1 << 20
_NOT_KEY: Final = re.compile(r"[^a-z0-9]")

Ports = tuple[int, int]


def _key(name: object) -> str:
    return _NOT_KEY.sub("", str(name).lower())


def _anywhere(value: Any) -> list[str]:
    """The any-address values among a source field's value (a text, a list of texts)."""
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip().lower() in _ANYWHERE]


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _port_ranges(value: Any) -> list[Ports] | None:
    """``"22"``, ``"8000-8080"``, ``"*"``, ``22``, a list of those, or an object with
    ``from``/``to``; ``None`` when the value says nothing of ports."""
    if isinstance(value, list):
        out = [r for v in value for r in (_port_ranges(v) or [])]
        return out or None
    if isinstance(value, Mapping):
        lo = next((_int(v) for k, v in value.items() if _key(k) in _FROM_PORT), None)
        hi = next((_int(v) for k, v in value.items() if _key(k) in _TO_PORT), None)
        return _span(lo, hi)
    n = _int(value)
    if n is not None:
        return _span(n, n)
    if isinstance(value, str):
        text = value.strip()
        if text in ("*", "all", "any"):
            return [(0, 65535)]
        lo_text, dash, hi_text = text.partition("-")
        lo, hi = _int(lo_text), _int(hi_text)
        if dash and lo is not None and hi is not None:
            return _span(lo, hi)
    return None


def _span(lo: int | None, hi: int | None) -> list[Ports] | None:
    if lo is None and hi is None:
        return None
    lo = hi if lo is None else lo
    hi = lo if hi is None else hi
    assert lo is not None and hi is not None
    if lo < 0 or hi < 0:  # AWS: -1 is every port (of every protocol)
        return [(0, 65535)]
    return [(min(lo, hi), max(lo, hi))]


def _protocol(node: Mapping[str, Any]) -> str | None:
    value = next((v for k, v in node.items() if _key(k) in _PROTOCOL), None)
    return str(value).strip().lower() if isinstance(value, str | int) else None


def _ports_of(node: Mapping[str, Any], depth: int = 0) -> tuple[list[Ports], str | None] | None:
    """The ports a rule (an object) admits and its protocol: its own port fields, else
    those of its ``allowed`` entries (Google Cloud); all ports for a protocol of
    ``-1``/``all``."""
    found: list[Ports] = []
    lo = hi = None
    for k, v in node.items():
        key = _key(k)
        if key in _PORTS:
            found += _port_ranges(v) or []
        elif key in _FROM_PORT and not isinstance(v, Mapping):
            lo = _int(v)
        elif key in _TO_PORT and not isinstance(v, Mapping):
            hi = _int(v)
        elif key in _FROM_PORT | _TO_PORT:
            found += _port_ranges(v) or []
    found += _span(lo, hi) or []
    protocol = _protocol(node)
    if found:
        return found, protocol
    if protocol in ("-1", "all", "*"):
        return [(0, 65535)], None
    if depth < 2:
        for k, v in node.items():
            key = _key(k)
            if key not in ("allowed", "alloweds", "allow", "rules", "permissions"):
                continue
            items = [item for item in v if isinstance(item, Mapping)] if isinstance(v, list) else []
            inner = [r for item in items for r in [_ports_of(item, depth + 1)] if r is not None]
            if inner:
                return [p for ports, _ in inner for p in ports], inner[0][1]
            if items and key in ("allowed", "alloweds", "allow"):
                # an allowed protocol without ports admits all of them
                return [(0, 65535)], _protocol(items[0])
    return None


def _blocked(node: Mapping[str, Any]) -> bool:
    """A rule that denies, or goes out rather than in."""
    keys = {_key(k) for k in node}
    if keys & {"denied", "denieds"} and not keys & {"allowed", "alloweds"}:
        return True  # Google Cloud: a rule of denials only
    for k, v in node.items():
        key = _key(k)
        if key in ("egress", "isegress") and v is True:
            return True
        if (
            isinstance(v, str)
            and key in ("direction", "ruleaction", "access", "action", "type")
            and v.strip().lower() in ("egress", "outbound", "deny", "denied", "drop", "reject")
        ):
            return True
    return False


def _rules(node: Any, path: tuple[Mapping[str, Any], ...] = (), depth: int = 0) -> Iterator[str]:
    """``"22/tcp (SSH) from 0.0.0.0/0"``-like texts for each rule of ``node`` that
    admits any address, prefixed ``H|`` (an administration or database port, or every
    port) or ``M|`` (another port, or ports not said); web ports are left out."""
    if depth > _DEEPEST:
        return
    if isinstance(node, str) and node[:1] == "{" and len(node) < _LONGEST_TEXT:
        node = json_or_none(node)  # a request kept as JSON text (BigQuery's requestJson)
    if isinstance(node, list):
        for item in node:
            yield from _rules(item, path, depth + 1)
        return
    if not isinstance(node, Mapping):
        return
    if _blocked(node):
        return
    sources = [a for k, v in node.items() if _key(k) in _SOURCE_KEYS for a in _anywhere(v)]
    if sources:
        # the rule's ports are on the object itself, under it, or on an enclosing one
        got = next((r for rule in (node, *reversed(path)) if (r := _ports_of(rule))), None)
        ports, protocol = got if got is not None else ([], None)
        yield _describe(sorted(set(ports)), protocol, sources[0])
    for k, v in node.items():
        if _key(k) not in _SKIP:
            yield from _rules(v, (*path, node), depth + 1)


def _describe(ports: list[Ports], protocol: str | None, source: str) -> str:
    proto = f"/{protocol}" if protocol and protocol not in ("-1", "*", "all") else ""
    if not ports:
        return f"M|a rule{proto} without ports to {source}"
    if any(lo == 0 and hi >= 65535 for lo, hi in ports) or any(hi - lo >= 1000 for lo, hi in ports):
        lo, hi = ports[0]
        shown = "every port" if lo == 0 and hi >= 65535 else f"ports {lo}-{hi}"
        return f"H|{shown}{proto} to {source}"
    if all(lo == hi and lo in _WEB for lo, hi in ports):
        return ""
    named = [
        f"{p}{proto} ({_SENSITIVE[p]})"
        for lo, hi in ports
        for p in range(lo, hi + 1)
        if p in _SENSITIVE
    ]
    if named:
        return f"H|{', '.join(named)} to {source}"
    shown = ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in ports)
    return f"M|port {shown}{proto} to {source}"


def _opening(action: str) -> bool:
    """Whether an action adds or changes an inbound rule (by its verb and noun)."""
    noun, verb = action_words(action)
    if {"egress", "outbound"} & {*noun, *verb}:
        return False
    return bool(verb) and (verb[0] in _OPENING or "".join(verb) in _OPENING)


#: Google Cloud's spellings of a firewall's fields, as its audit log and its API write them.
_GCP_FIELDS: Final = {"alloweds": "allowed", "denieds": "denied"}


def _gcp_fields(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {
        _GCP_FIELDS.get(str(k), str(k)): v for k, v in rule.items() if not str(k).startswith("@")
    }


def _gcp_request(metadata: str | None) -> dict[str, Any] | None:
    meta = json_or_none(metadata)
    original = meta.get("original") if isinstance(meta, Mapping) else None
    payload = original.get("protoPayload") if isinstance(original, Mapping) else None
    request = payload.get("request") if isinstance(payload, Mapping) else None
    return _gcp_fields(request) if isinstance(request, Mapping) else None


def firewall_states(rows: pl.DataFrame) -> pl.DataFrame:
    """For each Google Cloud firewall patch or update of ``rows`` (``tenant_id``,
    ``target_id``, ``event_id``, ``occurred_at``, ``action``, ``outcome``, ``metadata``),
    the rule as the trail last knew it before (``_prior``, JSON text): its insert with
    the later patches and updates of the same rule laid over it.  A patch sends only the
    fields it changes (``sourceRanges`` alone), so its ports are the rule's earlier ones.

    >>> import json
    >>> def row(i, verb, request):
    ...     return {"tenant_id": "p", "target_id": "projects/p/global/firewalls/ssh",
    ...             "event_id": f"e{i}", "occurred_at": i, "action": f"compute_firewalls.{verb}",
    ...             "outcome": "success", "metadata": json.dumps({"original": {"protoPayload":
    ...             {"request": request}}})}
    >>> rows = pl.DataFrame([row(1, "insert", {"sourceRanges": ["35.235.240.0/20"],
    ...     "alloweds": [{"IPProtocol": "tcp", "ports": ["22"]}]}),
    ...     row(2, "patch", {"sourceRanges": ["0.0.0.0/0"]})])
    >>> firewall_states(rows)["_prior"].to_list()
    ['{"sourceRanges": ["35.235.240.0/20"], "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]}']
    """
    state: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[tuple[str, str]] = []
    for row in rows.sort("occurred_at", "event_id").iter_rows(named=True):
        key = (str(row["tenant_id"]), str(row["target_id"]))
        verb = action_words(str(row["action"]))[1]
        first = verb[0] if verb else ""
        if first in ("delete", "remove"):
            if row["outcome"] == "success":
                state.pop(key, None)
            continue
        request = _gcp_request(row["metadata"])
        if request is None:
            continue
        if first in ("patch", "update") and key in state:
            out.append((row["event_id"], json.dumps(state[key])))
        if row["outcome"] == "success":
            state[key] = request if first == "insert" else {**state.get(key, {}), **request}
    return pl.DataFrame(out, schema={"event_id": pl.String, "_prior": pl.String}, orient="row")


def _stateful(metadata: str | None, prior: str) -> list[str] | None:
    """The rules a firewall patch or update opened, the rule's earlier state (``prior``)
    laid under the request: what the merged rule admits that the earlier did not.  None
    when the request cannot be read."""
    request, before = _gcp_request(metadata), json_or_none(prior)
    if request is None or not isinstance(before, Mapping):
        return None
    after = {**before, **request}

    def opened(rule: Mapping[str, Any]) -> set[str]:
        return set() if rule.get("disabled") is True else set(_rules(rule))

    was = opened(before)
    return [r for r in _rules(after) if r not in was] if after.get("disabled") is not True else []


def network_exposures(
    action: str, changes: str | None, metadata: str | None, prior: str | None = None
) -> list[str]:
    """The inbound rules an event opened to any address, each as ``H|text`` (an
    administration or database port, or every port) or ``M|text``.

    Examples
    --------
    >>> import json
    >>> network_exposures("ec2_security_group_ingress.authorize", None, json.dumps({
    ...     "original": {"requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [
    ...         {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
    ...          "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}}}))
    ['H|22/tcp (SSH) to 0.0.0.0/0']
    >>> network_exposures("compute.firewalls.insert", None, json.dumps({"original": {
    ...     "protoPayload": {"request": {"sourceRanges": ["0.0.0.0/0"],
    ...                                  "allowed": [{"IPProtocol": "tcp", "ports": ["443"]}]}}}}))
    []
    >>> network_exposures("ec2_security_group_ingress.revoke", None, json.dumps({"original": {
    ...     "requestParameters": {"cidrIp": "0.0.0.0/0", "fromPort": 22, "toPort": 22}}}))
    []

    A patch that sends only the source ranges is read with the rule's earlier state
    (``prior``, from :func:`firewall_states`):

    >>> network_exposures("compute_firewalls.patch", None, json.dumps({"original": {
    ...     "protoPayload": {"request": {"sourceRanges": ["0.0.0.0/0"]}}}}),
    ...     json.dumps({"sourceRanges": ["35.235.240.0/20"],
    ...                 "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}]}))
    ['H|22/tcp (SSH) to 0.0.0.0/0']
    """
    if not _opening(action):
        return []
    found: list[str] = []
    merged = _stateful(metadata, prior) if prior else None
    if merged is not None:
        found += merged
        metadata = None  # the request was read with the rule's earlier state
    for text in (changes, metadata):
        parsed = json_or_none(text)
        if not isinstance(parsed, Mapping):
            continue
        if text is changes:
            before = set(_rules(parsed.get("before")))
            found += [r for r in _rules(parsed.get("after")) if r not in before]
        else:
            found += _rules(parsed.get("original"))
    return [r for r in dict.fromkeys(found) if r]


def _forgetting(events: Events) -> list[str]:
    """Firewall deletions, which end what the trail knows of a rule."""
    rules = actions_matching(events, pl.col("action").str.contains(_RULE_ACTIONS))
    return [a for a in rules if action_words(a)[1][:1] in (["delete"], ["remove"])]


@register_detector("network_exposure", title="Network port opened to the internet", severity="high")
def network_exposure(events: Events, *, gap: str | timedelta = "1h") -> pl.DataFrame:
    """A firewall, security group or network ACL rule that admits any address
    (``0.0.0.0/0``, ``::/0``, ``*``, ``Internet``) to a port.

    High for an administration or database port (SSH, RDP, SMB, MySQL, PostgreSQL,
    Redis, Elasticsearch, the Kubernetes API...), a range of a thousand ports or more,
    or every port; medium for other ports, for ports not given, and for attempts
    that were all refused.  The web's ports (80 and 443) alone are what a web server
    is for and are not reported.  One actor's such events no more than ``gap`` apart
    make one finding.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "firewall_rule.create", "actor": {"id": "mallory"},
    ...     "changes": {"after": {"direction": "inbound", "source": "0.0.0.0/0",
    ...                           "port": 3389, "protocol": "tcp"}}}])
    >>> print(network_exposure(df)["summary"][0])
    'mallory' opened 3389/tcp (RDP) to 0.0.0.0/0 at 2026-01-05 09:00 UTC.
    """
    g = duration(gap, name="gap")
    rules = actions_matching(events, pl.col("action").str.contains(_RULE_ACTIONS))
    rules = [a for a in rules if _opening(a)]
    if not rules:
        return empty()
    lf = subset(
        events,
        ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "changes",
         "metadata", "target_id"),
        pl.col("action").is_in(rules) | pl.col("action").is_in(_forgetting(events)),
    )  # fmt: skip
    # Google Cloud firewalls: a patch sends only the fields it changes, so each patch or
    # update is read over the rule's last state in the trail (firewall_states)
    gcp = (
        lf.filter(
            pl.col("target_id").str.contains("/firewalls/", literal=True).fill_null(False)
            & pl.col("metadata").str.contains('"protoPayload"', literal=True).fill_null(False)
        )
        .select("tenant_id", "target_id", "event_id", "occurred_at", "action", "outcome",
                "metadata")
        .collect()
    )  # fmt: skip
    lf = (
        lf.filter(pl.col("action").is_in(rules))
        .join(firewall_states(gcp).lazy(), on="event_id", how="left", maintain_order="left")
        .drop("target_id")
    )
    hits = classified(lf, ["action", "changes", "metadata", "_prior"], network_exposures)
    if hits is None:
        return empty()
    found = (
        classified_episodes(hits, g)
        .with_columns(
            _high=pl.col("_what").list.eval(pl.element().str.starts_with("H|")).list.any(),
            _what=pl.col("_what").list.eval(pl.element().str.slice(2)),
        )
        .with_columns(
            severity=pl.when(pl.col("_done") & pl.col("_high"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} {} {}.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("opened")).otherwise(pl.lit("tried to open")),
                first_few(pl.col("_what"), 5),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
            ),
        )
    )
    return finalize(found, "network_exposure")
