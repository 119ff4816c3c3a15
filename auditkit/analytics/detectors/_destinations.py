"""Which way an audit destination's update goes: a Google Cloud log sink's filter,
exclusions, destination and ``disabled`` flag, a CloudTrail trail's bucket.

A sink update (``UpdateSink``) sends the sink as it is to be, and its ``updateMask`` says
which fields change; the sink as it was is not in the record.  Its earlier state is read
from the trail (the last ``CreateSink``/``UpdateSink`` of the same sink, and the sink as
those calls' responses give it), and the update is judged against it:

* ``off``: ``disabled: true``;
* ``redirected``: the destination moved to another project (or, for a Cloud Storage
  destination, another bucket) than the sink's earlier one; a trail's bucket named for
  another AWS account than the trail's;
* ``narrowed``: exclusions added, or a filter that only adds restrictions (an ``AND``
  term, a ``NOT`` term, a narrower ``logName``) or drops alternatives (``OR`` terms);
* ``widened``: a filter that only adds alternatives or drops restrictions, exclusions
  removed; and, when the earlier state is not in the trail, a filter that still selects
  every Cloud Audit log (activity, data access, system event, policy) with no negation;
* ``changed``: what cannot be told (the earlier state unknown, or a filter both added
  to and cut).

Used by :func:`~auditkit.analytics.detectors.tampering.audit_tampering`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import polars as pl

from auditkit.analytics.detectors.common import json_or_none

__all__ = [
    "destination_effects",
    "filter_direction",
    "keeps_audit_logs",
    "sink_effect",
    "spares_audit_logs",
]

#: The calls whose requests (and responses) give a sink's or a trail's state.
SOURCE_CALLS: Final = r'"source_action"\s*:\s*"[^"]*(?:(?:Create|Update)(?:Sink|Trail))"'
_AUDIT_LOGS: Final = ("activity", "data_access", "system_event", "policy")
_OPERATOR: Final = re.compile(r"\s*(=~|!~|!=|<=|>=|=|<|>|:)\s*")
_TERM: Final = re.compile(r'^([A-Za-z_][\w.\[\]"-]*?)(=~|!~|!=|<=|>=|=|<|>|:)(.*)$', re.S)
_ACCOUNT: Final = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_ORDER: Final = ("off", "redirected", "narrowed", "changed", "widened")

Term = tuple[bool, str, str, str]  # negated, field, operator, value (or "", "", text)


def _split(text: str, separator: re.Pattern[str]) -> list[str]:
    """``text`` split where ``separator`` matches outside quotes and parentheses."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0:
            m = separator.match(text, i)
            if m and m.end() > i:
                parts.append(text[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _unwrap(text: str) -> str:
    text = text.strip()
    while (
        text.startswith("(") and text.endswith(")") and len(_split(text, re.compile(r"\s+"))) == 1
    ):
        inner = text[1:-1].strip()
        depth = 0
        for c in inner:  # "(a) OR (b)" is not wrapped as a whole
            depth += c == "("
            depth -= c == ")"
            if depth < 0:
                return text
        text = inner
    return text


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace("%2F", "/").replace("%2f", "/").lower()


def _term(text: str) -> Term:
    negated = False
    text = _unwrap(text)
    while True:
        if text.startswith("-"):
            negated, text = not negated, text[1:].strip()
        elif re.match(r"NOT\s+", text):
            negated, text = not negated, text[3:].strip()
        else:
            break
    m = _TERM.match(text)
    if not m:
        return negated, "", "", _unquote(text)
    field, op, value = m.groups()
    if op in ("!=", "!~"):
        negated, op = not negated, "=" if op == "!=" else "=~"
    return negated, field.lower().replace("_", ""), op, _unquote(value)


def parse_filter(text: str | None) -> list[frozenset[Term]]:
    """A log filter as alternatives (its top-level ``OR`` parts), each the set of its
    terms (``AND``, written or implied by a space).  An empty filter is one alternative
    with no terms: every entry.

    >>> [sorted(t[1:] for t in alt) for alt in parse_filter(
    ...     'logName:"cloudaudit.googleapis.com%2Factivity" OR severity>=ERROR')]
    [[('logname', ':', 'cloudaudit.googleapis.com/activity')], [('severity', '>=', 'error')]]
    """
    text = _OPERATOR.sub(lambda m: m.group(1), (text or "").strip())
    if not text:
        return [frozenset()]
    out = []
    for alternative in _split(_unwrap(text), re.compile(r"\s+OR\s+")):
        terms: list[str] = []
        pending = ""
        for word in _split(_unwrap(alternative), re.compile(r"\s+")):
            if word == "AND":
                continue
            if word == "NOT":
                pending = "NOT "
                continue
            terms.append(pending + word)
            pending = ""
        out.append(frozenset(_term(t) for t in terms))
    return out


def _implies(a: Term, b: Term) -> bool:
    """Whether every entry term ``a`` selects is selected by ``b``."""
    if a == b:
        return True
    if a[0] != b[0] or not a[1] or a[1] != b[1]:
        return False
    narrow, wide = (a, b) if not a[0] else (b, a)  # NOT x => NOT y when y => x
    return wide[2] == ":" and narrow[2] in (":", "=") and wide[3] in narrow[3]


def _conj_implies(a: frozenset[Term], b: frozenset[Term]) -> bool:
    return all(any(_implies(x, y) for x in a) for y in b)


def _dnf_implies(a: list[frozenset[Term]], b: list[frozenset[Term]]) -> bool:
    return all(any(_conj_implies(x, y) for y in b) for x in a)


def filter_direction(before: str | None, after: str | None) -> str | None:
    """``"same"``, ``"wider"`` (the new filter selects all the old one did), ``"narrower"``
    or None (both added to and cut) for a log filter's change.

    >>> act = 'logName:"cloudaudit.googleapis.com%2Factivity"'
    >>> filter_direction(act, act + ' OR logName:"cloudaudit.googleapis.com%2Fdata_access"')
    'wider'
    >>> filter_direction(act, act + ' AND NOT protoPayload.methodName:"SetIamPolicy"')
    'narrower'
    >>> filter_direction("logName:cloudaudit.googleapis.com", act)
    'narrower'
    >>> filter_direction(act + " -resource.type=gce_instance", act)
    'wider'
    >>> filter_direction(act, 'logName:"cloudaudit.googleapis.com%2Fdata_access"') is None
    True
    """
    old, new = parse_filter(before), parse_filter(after)
    wider, narrower = _dnf_implies(old, new), _dnf_implies(new, old)
    if wider and narrower:
        return "same"
    return "wider" if wider else "narrower" if narrower else None


def _negates(alternatives: Iterable[frozenset[Term]]) -> bool:
    return any(t[0] for alt in alternatives for t in alt)


def keeps_audit_logs(text: str | None) -> bool:
    """Whether a sink's filter, read alone, selects every Cloud Audit log (activity, data
    access, system event, policy) and excludes nothing: whatever it was before, the sink
    still exports the whole audit trail.

    >>> keeps_audit_logs("logName:cloudaudit.googleapis.com OR logName:data_access")
    True
    >>> keeps_audit_logs('logName:"cloudaudit.googleapis.com%2Fdata_access"')
    False
    >>> keeps_audit_logs('logName:cloudaudit.googleapis.com AND NOT severity=DEBUG')
    False
    """
    alternatives = parse_filter(text)
    if _negates(alternatives):
        return False

    def selects(term: Term, log: str) -> bool:
        name = f"projects/p/logs/cloudaudit.googleapis.com/{log}"
        if term[1] == "logname" and term[2] == ":":
            return term[3] in name
        if term[1] == "logname" and term[2] == "=":
            return term[3].endswith(f"cloudaudit.googleapis.com/{log}")
        if not term[1]:  # LOG_ID("cloudaudit.googleapis.com/activity")
            m = re.fullmatch(r'log_id\("?([^")]*)"?\)', term[3])
            return m is not None and m.group(1) == f"cloudaudit.googleapis.com/{log}"
        return False

    return all(
        any(all(selects(t, log) for t in alt) for alt in alternatives) for log in _AUDIT_LOGS
    )


#: Resource types whose entries are a workload's own logs, never a Cloud Audit log.
_WORKLOAD_LOGS: Final = frozenset(
    ("k8s_container", "k8s_pod", "k8s_node", "http_load_balancer", "dataflow_step")
)


def spares_audit_logs(text: str | None) -> bool:
    """Whether an exclusion's filter, read alone, can match no Cloud Audit log entry: each
    of its alternatives names a log that is not an audit log (``logName``, ``LOG_ID``) or
    a workload's own resource type (a container's output, a load balancer's requests).

    >>> spares_audit_logs('resource.type="k8s_container" severity<WARNING')
    True
    >>> spares_audit_logs('logName="projects/p/logs/stdout" OR resource.type=k8s_pod')
    True
    >>> spares_audit_logs("logName:cloudaudit.googleapis.com")
    False
    >>> spares_audit_logs('severity<WARNING')
    False
    >>> spares_audit_logs('NOT resource.type="k8s_container"')
    False
    """
    if not text or not text.strip():
        return False

    def spares(term: Term) -> bool:
        negated, field, op, value = term
        if negated or not value:
            return False
        if field == "logname" and op in (":", "="):
            return "cloudaudit" not in value and not any(
                value in f"projects/p/logs/cloudaudit.googleapis.com/{log}" for log in _AUDIT_LOGS
            )
        if field == "resource.type" and op == "=":
            return value in _WORKLOAD_LOGS
        if not field:
            m = re.fullmatch(r'log_id\("?([^")]*)"?\)', value)
            return m is not None and "cloudaudit" not in m.group(1)
        return False

    return all(any(spares(t) for t in alt) for alt in parse_filter(text))


def _mask(request: Mapping[str, Any]) -> set[str] | None:
    raw = request.get("updateMask", request.get("update_mask"))
    if isinstance(raw, Mapping):
        raw = raw.get("paths")
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list):
        return None
    return {re.sub(r"[^a-z]", "", str(p).lower()) for p in raw if str(p).strip()}


def _project(destination: str) -> str:
    """The project (or Cloud Storage bucket) a sink's destination is in."""
    text = destination.strip().lower()
    m = re.search(r"projects/([^/]+)", text)
    if m:
        return m.group(1)
    return re.sub(r"^storage\.googleapis\.com/", "", text).split("/")[0]


def _exclusions(value: Any) -> set[str]:
    items = value if isinstance(value, list) else []
    return {
        str(x.get("filter", "")).strip()
        for x in items
        if isinstance(x, Mapping) and not x.get("disabled")
    }


_SINK_FIELDS: Final = ("destination", "filter", "disabled", "exclusions")


def sink_effect(request: Any, earlier: Mapping[str, Any] | None) -> str | None:
    """What a sink update (Google Cloud's ``UpdateSinkRequest``) does, against the sink's
    earlier state when the trail has it (``earlier``, None when not): ``"off"``,
    ``"redirected"``, ``"narrowed"``, ``"changed"``, ``"widened"`` (see the module); None
    when the request touches none of those fields.

    >>> act = 'logName:"cloudaudit.googleapis.com%2Factivity"'
    >>> was = {"destination": "pubsub.googleapis.com/projects/sec/topics/siem", "filter": act}
    >>> sink_effect({"sink": {"filter": act + " OR severity>=ERROR"}, "updateMask": "filter"}, was)
    'widened'
    >>> sink_effect({"sink": {"filter": act + " AND severity>=ERROR"}, "updateMask": "filter"}, was)
    'narrowed'
    >>> sink_effect({"sink": {"destination": "storage.googleapis.com/drop"},
    ...              "updateMask": "destination"}, was)
    'redirected'
    >>> sink_effect({"sink": {"disabled": True}, "updateMask": "disabled"}, None)
    'off'
    >>> sink_effect({"sink": {"filter": act}, "updateMask": "filter"}, None)
    'changed'
    """
    if not isinstance(request, Mapping):
        return None
    sink = request.get("sink")
    if not isinstance(sink, Mapping):
        return None
    mask = _mask(request)

    def touched(field: str) -> bool:
        if mask is None:  # the API's default mask, and the fields the request names
            return field in sink or field in ("destination", "filter")
        return field in mask

    found: set[str] = set()
    was_off = earlier is not None and earlier.get("disabled") is True
    if touched("disabled") and sink.get("disabled") is True and not was_off:
        found.add("off")
    if touched("exclusions"):
        new = _exclusions(sink.get("exclusions"))
        if earlier is not None and "exclusions" in earlier:
            old = _exclusions(earlier.get("exclusions"))
            found.add("narrowed" if new - old else "widened")
        else:
            found.add("changed" if new else "widened")
    if touched("destination"):
        dest = str(sink.get("destination") or "")
        old_dest = str(earlier.get("destination") or "") if earlier else ""
        if not dest or not old_dest:
            found.add("changed")
        elif dest.strip().lower() != old_dest.strip().lower():
            found.add("redirected" if _project(dest) != _project(old_dest) else "changed")
    if touched("filter"):
        new_filter = str(sink.get("filter") or "")
        if earlier is not None and "filter" in earlier:
            way = filter_direction(str(earlier.get("filter") or ""), new_filter)
            found.add({"narrower": "narrowed", "same": "widened", "wider": "widened"}.get(
                way or "", "changed"))  # fmt: skip
        else:
            found.add("widened" if keeps_audit_logs(new_filter) else "changed")
    return next((k for k in _ORDER if k in found), None)


def trail_effect(params: Any, account: str | None, earlier: Mapping[str, Any] | None) -> str | None:
    """``"redirected"`` when a trail's update (CloudTrail's ``UpdateTrail``) delivers to a
    bucket named for another AWS account than the trail's (a twelve-digit account id in
    the bucket's name or ARN), else None (the other settings are
    :func:`~auditkit.analytics.detectors.tampering.request_effect`'s).

    >>> trail_effect({"name": "t", "s3BucketName": "aws-logs-999988887777"}, "111122223333", None)
    'redirected'
    >>> trail_effect({"name": "t", "s3BucketName": "aws-logs-111122223333"}, "111122223333", None)
    """
    if not isinstance(params, Mapping) or not account:
        return None
    bucket = params.get("s3BucketName")
    if not isinstance(bucket, str) or not bucket.strip():
        return None
    if earlier and str(earlier.get("s3BucketName", "")).strip() == bucket.strip():
        return None
    owners = set(_ACCOUNT.findall(bucket))
    return "redirected" if owners and account not in owners else None


def _key(original: Mapping[str, Any]) -> tuple[str, str] | None:
    """(``sink`` or ``trail``, its name) of a sink's or a trail's creation or update."""
    payload = original.get("protoPayload")
    if isinstance(payload, Mapping):
        raw = payload.get("request")
        request: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        inner = request.get("sink")
        sink: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
        name = request.get("sinkName") or request.get("sink_name")
        if not name and request.get("parent") and sink.get("name"):
            name = f"{request['parent']}/sinks/{sink['name']}"
        name = name or payload.get("resourceName")
        if isinstance(name, str) and "/sinks/" in name:
            return "sink", re.sub(r"^//logging\.googleapis\.com/", "", name.strip())
        return None
    params = original.get("requestParameters")
    if isinstance(params, Mapping):
        name = params.get("name") or params.get("trailName")
        if isinstance(name, str) and name.strip():
            return "trail", name.strip().rpartition("trail/")[2] or name.strip()
    return None


def _account(original: Mapping[str, Any]) -> str | None:
    for value in (
        original.get("recipientAccountId"),
        (original.get("userIdentity") or {}).get("accountId")
        if isinstance(original.get("userIdentity"), Mapping)
        else None,
    ):
        if isinstance(value, str) and _ACCOUNT.fullmatch(value):
            return value
    return None


def destination_effects(rows: pl.DataFrame) -> pl.DataFrame:
    """``event_id`` and ``_dest_effect`` for the sink and trail creations and updates of
    ``rows`` (``tenant_id``, ``occurred_at``, ``event_id``, ``outcome``, ``metadata``):
    each update judged against the state the tenant's earlier successful creations and
    updates of the same sink or trail left (:func:`sink_effect`, :func:`trail_effect`)."""
    effects: list[tuple[str, str]] = []
    state: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows.sort("occurred_at", "event_id").iter_rows(named=True):
        meta = json_or_none(row["metadata"])
        original = meta.get("original") if isinstance(meta, Mapping) else None
        if not isinstance(original, Mapping):
            continue
        key = _key(original)
        if key is None:
            continue
        where = (str(row["tenant_id"]), *key)
        earlier = state.get(where)
        ok = row["outcome"] == "success"
        if key[0] == "sink":
            payload = original["protoPayload"]
            method = str(payload.get("methodName", ""))
            request = payload.get("request")
            if method.endswith("UpdateSink"):
                effect = sink_effect(request, earlier)
                if effect:
                    effects.append((row["event_id"], effect))
            if ok and isinstance(request, Mapping) and isinstance(request.get("sink"), Mapping):
                created = {"filter": "", "exclusions": [], "disabled": False}
                new = dict(earlier or (created if method.endswith("CreateSink") else {}))
                mask = _mask(request) if method.endswith("UpdateSink") else None
                sink = request["sink"]
                for field in _SINK_FIELDS:
                    if field in sink and (mask is None or field in mask):
                        new[field] = sink[field]
                response = payload.get("response")
                if isinstance(response, Mapping):
                    new.update({f: response[f] for f in _SINK_FIELDS if f in response})
                state[where] = new
        else:
            params = original.get("requestParameters")
            if str(original.get("eventName", "")) == "UpdateTrail":
                effect = trail_effect(params, _account(original), earlier)
                if effect:
                    effects.append((row["event_id"], effect))
            if ok and isinstance(params, Mapping) and params.get("s3BucketName"):
                state[where] = {"s3BucketName": params["s3BucketName"]}
    return pl.DataFrame(
        effects, schema={"event_id": pl.String, "_dest_effect": pl.String}, orient="row"
    )
