"""Audit trail tampering: logging disabled, audit records or their destinations deleted,
retention shortened, audit settings changed.

An attacker who covers their tracks touches the audit trail itself.  The detector
matches the *family* of such actions rather than a list of names, so that every
source's spelling is covered once imported: an action whose noun is about the audit
trail (``audit``, ``log``, ``logs``, ``logging``, ``trail``, ``cloudtrail``, ``sink``,
``retention``, ``siem``...) with a verb that removes or stops it (``disable``,
``delete``, ``purge``, ``stop``, ``remove``, ``pause``, ``truncate``...), or a verb
that changes it (``update``, ``put``, ``set``...) unless the change is shown to be
harmless; any update whose ``changes`` shorten a retention; and a lifecycle rule that
deletes the objects of the trail's bucket within a year.  These events are reported
whatever their outcome: a denied attempt is an attempt.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import polars as pl

from auditkit.analytics.detectors._destinations import (
    SOURCE_CALLS,
    destination_effects,
    spares_audit_logs,
)
from auditkit.analytics.detectors.common import (
    Events,
    T,
    actions_matching,
    duration,
    episodes,
    finalize,
    finding_span,
    fmt_float,
    fmt_time,
    json_or_none,
    noun,
    q,
    subset,
    verb,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = [
    "AUDIT_NOUN_PATTERN",
    "LONG_RETENTION_DAYS",
    "audit_tampering",
    "expiry_days",
    "is_audit_action",
    "request_effect",
    "retention_days",
]

_DAYS_PER_UNIT: Final = {"y": 365.0, "m": 30.0, "w": 7.0, "d": 1.0, "h": 1 / 24}
#: Nouns about the audit trail: a word of the action's noun (words split at ``_``, ``-``
#: and ``.``).  ``login``, ``catalog`` or ``blog`` are other words.
AUDIT_NOUN_PATTERN: Final = (
    r"(?:^|[._-])(?:audit(?:s|ing|log|logs|trail|trails)?|logs?|logging|logger|"
    r"(?:cloud)?trails?|sinks?|retention|siem|journal|flow_?logs?|log_?streams?)(?:$|[._-])"
)
_WORD_END: Final = r"(?:e?d|s|ing)?(?:$|[_-])"
#: Verbs that switch logging off or destroy records or their destinations.
_OFF_VERBS: Final = r"(?:^|[_-])(?:disable|stop|stopp|pause|deactivate|suspend|off|mute|silence)"
_GONE_VERBS: Final = (
    r"(?:^|[_-])(?:delete|purge|remove|truncate|clear|wipe|erase|destroy|drop|detach|"
    r"unlink|disconnect|unsubscribe|shorten|reduce|exclude|expire|rotate_out)"
)
#: Verbs that change a setting: harmless only when the change shows it.
_CHANGE_VERBS: Final = (
    r"(?:^|[_-])(?:update|change|modify|edit|set|put|patch|configure|reconfigure|save|"
    r"replace|write|upsert|apply|adjust)"
)
#: Nouns of updates that may carry a retention among other settings.
_SETTINGS_NOUNS: Final = (
    r"(?:^|[._-])(?:settings?|config(?:uration)?s?|polic(?:y|ies)|org(?:anization)?s?|"
    r"tenants?|workspaces?|accounts?|preferences|data|storage|compliance|security)(?:$|[._-])"
)
#: A flag in ``changes.after`` that says logging is off.
_FLAG_OFF: Final = (
    r'"(?:[^"]*(?:audit|logging|trail)[^"]*|enabled|active|is_logging|status|state)"\s*:\s*'
    r'(?:false|0|"(?:false|off|disabled|inactive|stopped|paused|none)")'
)
_FLAG_ON: Final = (
    r'"(?:[^"]*(?:audit|logging|trail)[^"]*|enabled|active|is_logging|status|state)"\s*:\s*'
    r'(?:true|1|"(?:true|on|enabled|active|running|logging)")'
)


#: Verbs written together with what they act on, as a producer's CamelCase name reads once
#: lower-cased (``cloudtrail.StopLogging`` -> ``cloudtrail.stoplogging``): the verb, then a
#: noun about the trail.
_JOINED: Final = (
    r"^(?:disable|stop|pause|deactivate|suspend|delete|purge|remove|truncate|clear|wipe|erase|"
    r"destroy|drop|detach|update|put|set|modify|patch|change|configure|replace)[a-z0-9]*?"
    r"(?:audit|logging|loggroups?|logstreams?|logsinks?|logbuckets?|logdelivery|flowlogs?|"
    r"trails?|sinks?|retention|siem|journal|eventselectors?|recorder|deliverychannel|"
    r"eventdatastore)"
)
#: What an audit noun may name that is not the trail: its tags, labels, saved views and
#: queries.  Removing a trail's tag or a saved log query leaves the trail as it was.
_ATTRIBUTE_NOUNS: Final = (
    r"(?:^|[._-])(?:tags?|labels?|descriptions?|views?|quer(?:y|ies)|saved_?searche?s?|"
    r"dashboards?|annotations?|bookmarks?)$"
)
#: Nouns that hold an audit word in another sense: a product's own records called logs
#: (a phone's call log, a chat log, a time or food log), a subscription business's
#: retention offers, a hiking app's trails.  Their deletion is a user's, not the trail's.
_OTHER_SENSE: Final = (
    r"(?:^|[._-])(?:chat|call|calls|sms|text|message|phone|voicemail|food|diet|meal|workout|"
    r"exercise|training|sleep|time|timesheet|work|mileage|fuel|maintenance|visitor|guest|"
    r"travel|reading|baby|feeding|symptom|mood|water)[._-]?logs?(?:$|[._-])"
    r"|(?:^|[._-])retention[._-]?(?:offers?|campaigns?|discounts?|coupons?|promotions?|"
    r"flows?|emails?|rates?|metrics?|cohorts?|surveys?|bonus(?:es)?|specialists?)(?:$|[._-])"
    r"|(?:^|[._-])(?:hiking|ski|bike|biking|cycling|running|walking|nature|mountain|bridle)"
    r"[._-]?trails?(?:$|[._-])|(?:^|[._-])trails?[._-]?(?:maps?|heads?|runs?|races?|guides?)"
    r"(?:$|[._-])"
)
#: Log *content* (events, entries, records): putting or writing it appends to the trail.
_CONTENT_NOUNS: Final = r"(?:^|[._-])(?:events?|entries|entry|records?|lines?|messages?|batch)$"
_WRITE_VERBS: Final = r"^(?:put|write|upsert|save|append|ingest|send|create)"


def is_audit_action(action: pl.Expr) -> pl.Expr:
    """True for actions that switch off, destroy or change the audit trail or its
    destinations (see the module).  Retention shortened through another update is
    read from ``changes`` by :func:`audit_tampering`.

    Case does not matter, and a verb written together with its noun counts
    (``cloudtrail.stoplogging``, ``ec2.deleteflowlogs``).  A trail's tags, labels, saved
    views and queries are not the trail, and putting log events is writing to it.

    >>> names = ["audit_log.delete", "log_sink.delete", "logging.disable", "audit_log.update",
    ...          "audit_logs.purge", "audit_log.enable", "audit_log.export", "user.login",
    ...          "catalog.delete", "logs_retention_policy.put"]
    >>> pl.select(is_audit_action(pl.lit(pl.Series(names)))).to_series().to_list()
    [True, True, True, True, True, False, False, False, False, True]
    >>> names = ["CloudTrail.StopLogging", "ec2.deleteflowlogs", "Audit-Log.Purge",
    ...          "cloudtrail_tags.remove", "logs_log_events.put", "cloudtrail.gettrailstatus",
    ...          "iam.deleteloginprofile", "logging_view.delete"]
    >>> pl.select(is_audit_action(pl.lit(pl.Series(names)))).to_series().to_list()
    [True, True, True, False, False, False, False, False]

    Words of the trail in another sense are not the trail: a product's call or chat
    log, a retention offer, a hiking trail.

    >>> names = ["call_log.delete", "chat_logs.purge", "time_log.delete", "retention_offer.delete",
    ...          "retention_campaign.update", "ski_trail.update", "trail_map.delete",
    ...          "error_log.delete", "log_retention.update", "paper_trail.disable"]
    >>> pl.select(is_audit_action(pl.lit(pl.Series(names)))).to_series().to_list()
    [False, False, False, False, False, False, False, True, True, True]
    """
    lowered = action.str.to_lowercase()
    v, n = verb(lowered), noun(lowered)
    acting = (
        v.str.contains(_OFF_VERBS + _WORD_END)
        | v.str.contains(_GONE_VERBS + _WORD_END)
        | v.str.contains(_CHANGE_VERBS + _WORD_END)
    )
    about = n.str.contains(AUDIT_NOUN_PATTERN)
    not_the_trail = (
        n.str.contains(_ATTRIBUTE_NOUNS)
        | n.str.contains(_OTHER_SENSE)
        | (n.str.contains(_CONTENT_NOUNS) & v.str.contains(_WRITE_VERBS))
    )
    return ((about & acting) | v.str.contains(_JOINED)) & ~not_the_trail.fill_null(False)


#: A retention of at least this many days, set where the earlier value is not known, is
#: not reported: a year of logs kept is what frameworks ask, and cutting a trail short
#: sets days or weeks.
LONG_RETENTION_DAYS: Final = 365.0
#: Trail settings that only add to what is recorded when switched on.
_STRENGTHENING: Final = (
    "isMultiRegionTrail",
    "includeGlobalServiceEvents",
    "enableLogFileValidation",
    "isOrganizationTrail",
)
_TRAIL_NAMES: Final = frozenset(("name", "trailName", "kmsKeyId"))


def _full_selector(selector: object) -> bool:
    """A CloudTrail event selector recording every management event, reads and writes."""
    if not isinstance(selector, dict):
        return False
    if "fieldSelectors" in selector:  # advanced: only eventCategory = Management
        fields = selector.get("fieldSelectors")
        return isinstance(fields, list) and all(
            isinstance(f, dict)
            and f.get("field") == "eventCategory"
            and set(f) <= {"field", "equals"}
            and f.get("equals") == ["Management"]
            for f in fields
        )
    return (
        str(selector.get("readWriteType", "All")) == "All"
        and selector.get("includeManagementEvents", True) is True
        and not selector.get("excludeManagementEventSources")
    )


def _management_cut(selectors: object) -> bool:
    """Whether advanced event selectors (none of which records every management event)
    select management events but only some of them: only reads or only writes
    (``readOnly``), or not some event sources (``NotEquals``, ``NotStartsWith``...)."""
    if not isinstance(selectors, list):
        return False
    for selector in selectors:
        fields = selector.get("fieldSelectors") if isinstance(selector, dict) else None
        if not isinstance(fields, list):
            continue
        named = {str(f.get("field")): f for f in fields if isinstance(f, dict)}
        category = named.get("eventCategory", {})
        if "Management" not in (category.get("equals") or []):
            continue
        if "readOnly" in named or any(
            k.lower().startswith("not") for f in named.values() for k in f
        ):
            return True
    return False


def request_effect(request: str | None) -> str | None:
    """What a trail's configuration request does, read from its parameters (CloudTrail's
    ``requestParameters``): ``"harmless"`` when it only adds to what is recorded,
    ``"narrowed"`` when it records less, ``"off"`` when it switches logging off,
    ``"spared"`` for a Google Cloud exclusion that matches no audit log
    (:func:`~auditkit.analytics.detectors._destinations.spares_audit_logs`), None when it
    cannot be told.

    >>> request_effect('{"trailName": "t", "eventSelectors": [{"readWriteType": "All"}]}')
    'harmless'
    >>> request_effect('{"trailName": "t", "eventSelectors": [{"readWriteType": "ReadOnly"}]}')
    'narrowed'
    >>> request_effect('{"name": "t", "enableLogFileValidation": true}')
    'harmless'
    >>> request_effect('{"name": "t", "isMultiRegionTrail": false}')
    'narrowed'
    >>> request_effect('{"name": "t", "s3BucketName": "elsewhere"}') is None
    True
    >>> request_effect('{"bucketName": "b", "bucketLoggingStatus": {}}')
    'off'
    >>> request_effect('{"exclusion": {"filter": "resource.type=k8s_container"}}')
    'spared'

    Advanced event selectors that keep management events but only their reads (or
    writes), or leave some event sources out, record less:

    >>> request_effect('{"trailName": "t", "advancedEventSelectors": [{"fieldSelectors": ['
    ...     '{"field": "eventCategory", "equals": ["Management"]},'
    ...     '{"field": "readOnly", "equals": ["true"]}]}]}')
    'narrowed'
    """
    params = json_or_none(request)
    if not isinstance(params, dict):
        return None
    exclusion = params.get("exclusion")
    if isinstance(exclusion, dict) and spares_audit_logs(exclusion.get("filter")):
        return "spared"  # a Google Cloud exclusion of a workload's own logs
    if any(params.get(k) is False for k in _STRENGTHENING):
        return "narrowed"
    for key in ("eventSelectors", "advancedEventSelectors"):
        if key in params:
            selectors = params[key]
            if isinstance(selectors, list) and any(_full_selector(x) for x in selectors):
                return "harmless"
            if key == "eventSelectors" or _management_cut(selectors):
                return "narrowed"
            return None
    if "insightSelectors" in params:
        insights = params["insightSelectors"]
        return "harmless" if isinstance(insights, list) and insights else None
    if "bucketLoggingStatus" in params:
        status = params["bucketLoggingStatus"]
        enabled = isinstance(status, dict) and status.get("loggingEnabled")
        return "harmless" if enabled else "off"
    switched = [k for k in _STRENGTHENING if k in params]
    if switched and set(params) <= {*_STRENGTHENING, *_TRAIL_NAMES}:
        return "harmless"
    return None


#: Actions a Google Cloud ``SetIamPolicy`` is imported as (its binding deltas decide),
#: any of which may also change the policy's audit configs.
_IAM_POLICY_ACTIONS: Final = (
    "policy.update", "role.grant", "role.revoke", "audit_log.disable", "audit_log.enable"
)  # fmt: skip
#: Literal marks of audit config changes in an event's metadata: the GCP import's
#: ``audit_logging_reduced`` / ``audit_logging_added``, the record's own deltas.
_AUDIT_CONFIG_MARKS: Final = ("audit_logging_reduced", "audit_logging_added", "auditConfigDeltas")


def _config_deltas(original: Any) -> list[Any] | None:
    """The ``auditConfigDeltas`` of a Google Cloud log entry as exported (``protoPayload``
    or BigQuery's ``protopayload_auditlog``), or None."""
    if not isinstance(original, dict):
        return None
    payload = original.get("protoPayload", original.get("protopayload_auditlog"))
    if not isinstance(payload, dict):
        return None
    holders = [payload.get("serviceData"), payload.get("metadata")]
    holders += [v for k, v in payload.items() if k.startswith("servicedata_")]
    for holder in holders:
        delta = holder.get("policyDelta") if isinstance(holder, dict) else None
        deltas = delta.get("auditConfigDeltas") if isinstance(delta, dict) else None
        if isinstance(deltas, list):
            return deltas
    return None


def audit_config_cut(metadata: str | None) -> str | None:
    """What an IAM policy change does to the audit logs, whatever else it changes (a
    Google Cloud ``SetIamPolicy`` that grants a role may remove the project's audit
    configs in the same call): ``"off|..."`` when a log type is removed, ``"narrowed|..."``
    when a member is only exempted from one, ``"more"`` when it only logs more, None when
    it does not touch them.  Read from the GCP import's ``audit_logging_reduced`` /
    ``audit_logging_added``, else from the record's ``auditConfigDeltas``.

    >>> audit_config_cut('{"audit_logging_reduced": ["DATA_READ of allServices"]}')
    'off|DATA_READ of allServices'
    >>> audit_config_cut('{"original": {"protoPayload": {"serviceData": {"policyDelta": '
    ...     '{"auditConfigDeltas": [{"action": "ADD", "service": "allServices", '
    ...     '"logType": "DATA_READ", "exemptedMember": "user:eve@x.io"}]}}}}}')
    'narrowed|DATA_READ of allServices, exempting user:eve@x.io'
    >>> audit_config_cut('{"audit_logging_added": ["DATA_READ of allServices"]}')
    'more'
    """
    meta = json_or_none(metadata)
    if not isinstance(meta, dict):
        return None
    reduced, added = meta.get("audit_logging_reduced"), meta.get("audit_logging_added")
    if not isinstance(reduced, list) and not isinstance(added, list):
        deltas = _config_deltas(meta.get("original"))
        if deltas is None:
            return None
        reduced, added = [], []
        for d in deltas:
            if not isinstance(d, dict) or str(d.get("action", "")).upper() not in ("ADD", "REMOVE"):
                continue
            exempted = d.get("exemptedMember")
            what = f"{d.get('logType') or 'all log types'} of {d.get('service') or '?'}"
            if exempted:
                what = f"{what}, exempting {exempted}"
            logs_less = (str(d.get("action")).upper() == "REMOVE") != bool(exempted)
            (reduced if logs_less else added).append(what)
    cut = [str(r) for r in reduced] if isinstance(reduced, list) else []
    if cut:
        removed = [c for c in cut if ", exempting " not in c]
        return f"{'off' if removed else 'narrowed'}|{'; '.join(cut)}"
    return "more" if isinstance(added, list) and added else None


def _number_of_days(raw: pl.Expr) -> pl.Expr:
    parts = raw.str.strip_chars().str.extract_groups(r"^(?i)P?(\d+(?:\.\d+)?)\s*([a-z]*)$")
    number = parts.struct.field("1").cast(pl.Float64, strict=False)
    unit = parts.struct.field("2").str.to_lowercase().str.slice(0, 1)
    factor = unit.replace_strict({"": 1.0, **_DAYS_PER_UNIT}, default=None, return_dtype=pl.Float64)
    return number * factor


def _own_retention(side: str) -> pl.Expr:
    """Days auditkit's own ``audit_retention.update`` record keeps the trail on its
    ``side`` (``old`` or ``new`` of ``metadata``): ``keep_days``, unlimited when none is
    set or a legal hold is on; null for any other record.

    >>> import polars as pl
    >>> df = pl.DataFrame({"action": ["audit_retention.update"] * 3 + ["x.update"],
    ...     "metadata": ['{"old": {"hot_days": null, "keep_days": 400, "legal_hold": false}}',
    ...                  '{"old": {"hot_days": 30, "keep_days": null, "legal_hold": false}}',
    ...                  '{"old": {"hot_days": 30, "keep_days": 90, "legal_hold": true}}',
    ...                  '{"old": {"keep_days": 5}}']})
    >>> df.select(_own_retention("old")).to_series().to_list()
    [400.0, inf, inf, None]
    """
    meta = pl.col("metadata")
    ours = (pl.col("action") == "audit_retention.update") & meta.str.contains(
        rf'"{side}"\s*:\s*\{{[^}}]*"keep_days"'
    ).fill_null(False)
    keep = meta.str.json_path_match(f"$.{side}.keep_days").cast(pl.Float64, strict=False)
    held = meta.str.json_path_match(f"$.{side}.legal_hold") == "true"
    unlimited = held.fill_null(False) | keep.is_null()
    return pl.when(ours).then(pl.when(unlimited).then(pl.lit(float("inf"))).otherwise(keep))


def retention_days(side: str) -> pl.Expr:
    """Retention in days from ``changes.before`` or ``changes.after`` (``side``).

    Understands a number of days (``{"before": 365}``), an object with
    ``retention_days``, ``days``, ``retention`` or any key naming a retention
    (``{"before": {"audit_log_retention": "90d", "theme": "dark"}}``, as a settings
    update carries it), the key's own before and after (``{"retention_days":
    {"before": 365, "after": 7}}``), and text such as ``"90d"``, ``"1 year"``,
    ``"6 months"`` or ISO 8601 ``"P30D"``.  Null when unreadable.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"changes": ['{"before": 365, "after": "P30D"}',
    ...                                '{"before": {"retention_days": 90}, "after": "1 year"}',
    ...                                '{"before": {"log_retention": "1y", "x": 1},'
    ...                                ' "after": {"log_retention": "7d", "x": 2}}',
    ...                                '{"retention_days": {"before": 400, "after": 30}}']})
    >>> df.select(retention_days("before"), retention_days("after")).rows()
    [(365.0, 30.0), (90.0, 365.0), (365.0, 7.0), (400.0, 30.0)]
    """
    changes = pl.col("changes")
    whole = changes.str.json_path_match(f"$.{side}")
    named = r'"[^"]*retention[^"]*"\s*:\s*'
    per_key = changes.str.extract(named + r"(\{[^{}]*\})").str.json_path_match(f"$.{side}")
    raw = pl.coalesce(
        *(
            changes.str.json_path_match(f"$.{side}.{k}")
            for k in ("retention_days", "days", "retention")
        ),
        whole.str.extract(named + r'"?([^",}\]]*)'),
        per_key,
        whole,
    )
    return _number_of_days(raw).alias(f"{side}_days")


#: Buckets named for the trail: a word of the name (split at ``-``, ``_`` and ``.``).
_TRAIL_BUCKET: Final = (
    r"(?i)(?:^|[._-])(?:cloudtrail|trails?|audit(?:s|logs?|trails?)?|siem)(?:$|[._-])"
)
#: Where a producer's request names the bucket a trail, access logs, flow logs or a
#: configuration recorder deliver to (CloudTrail's ``CreateTrail``/``UpdateTrail``,
#: ``PutBucketLogging``, ``CreateFlowLogs``, ``PutDeliveryChannel``).
_DESTINATION_PATHS: Final = (
    "$.original.requestParameters.s3BucketName",
    "$.original.requestParameters.bucketLoggingStatus.loggingEnabled.targetBucket",
    "$.original.requestParameters.CreateFlowLogsRequest.LogDestination",
    "$.original.requestParameters.logDestination",
    "$.original.requestParameters.deliveryChannel.s3BucketName",
    "$.original.protoPayload.request.sink.destination",
    "$.original.protoPayload.request.destination",
)
#: Keys of the requests that may switch a resource's logging off.
_LOGGING_KEYS: Final = ('"logConfig"', '"log_config"', '"logging"', '"enableLogging"')
#: A request switching a resource's logging off (Google Cloud's VPC flow logs,
#: firewall and load balancer logging: ``logConfig.enable``; Cloud DNS's
#: ``enableLogging``).
_LOGGING_OFF: Final = (
    r'"(?:logConfig|log_config|logging)"\s*:\s*\{[^{}]*"enable"\s*:\s*false'
    r'|"enableLogging"\s*:\s*false'
)


def _bucket(name: pl.Expr) -> pl.Expr:
    """A bucket's name from its name, ARN (with a key prefix), Google Cloud resource name
    or a log sink's ``storage.googleapis.com/`` destination."""
    return name.str.replace(
        r"^(?:arn:aws[\w-]*:s3:::|(?:projects/[^/]+/buckets/)|storage\.googleapis\.com/)", ""
    ).str.replace(r"/.*$", "")


def expiry_days(request: str | None, when: datetime | None = None) -> float | None:
    """The fewest days after which an S3 lifecycle configuration deletes objects: its
    enabled rules' ``Expiration`` (``Days``, or a ``Date`` counted from ``when``), as
    CloudTrail records ``PutBucketLifecycle``; None when no rule deletes current objects
    (transitions to colder storage, expired delete markers, old versions only).

    >>> expiry_days('{"LifecycleConfiguration": {"Rule": {"Status": "Enabled",'
    ...             ' "Expiration": {"Days": 1}}}}')
    1.0
    >>> expiry_days('{"LifecycleConfiguration": {"Rule": [{"Status": "Enabled",'
    ...             ' "Transition": {"Days": 90, "StorageClass": "GLACIER"}},'
    ...             ' {"Status": "Disabled", "Expiration": {"Days": 1}}]}}') is None
    True
    """
    params = json_or_none(request)
    days: list[float] = []
    gcs = params.get("lifecycle") if isinstance(params, dict) else None
    if isinstance(gcs, dict):
        return _gcs_expiry(gcs, when)
    config = params.get("LifecycleConfiguration") if isinstance(params, dict) else None
    rules = config.get("Rule", config.get("Rules")) if isinstance(config, dict) else None
    for rule in rules if isinstance(rules, list) else [rules]:
        if not isinstance(rule, dict) or str(rule.get("Status", "")).lower() != "enabled":
            continue
        expiration = rule.get("Expiration")
        if not isinstance(expiration, dict):
            continue
        try:
            if expiration.get("Days") is not None:
                days.append(max(0.0, float(expiration["Days"])))
            elif expiration.get("Date") is not None:
                until = _days_until(expiration["Date"], when)
                if until is not None:
                    days.append(until)
        except (TypeError, ValueError, OverflowError):
            continue
    return min(days) if days else None


def _days_until(date_text: object, when: datetime | None) -> float | None:
    if when is None:
        return None
    try:
        date = datetime.fromisoformat(str(date_text).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    date = date if date.tzinfo else date.replace(tzinfo=UTC)
    moment = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (date - moment).total_seconds() / 86400)


def _gcs_expiry(lifecycle: dict[str, Any], when: datetime | None) -> float | None:
    """The fewest days after which a Cloud Storage lifecycle deletes live objects: its
    ``Delete`` rules' ``age`` or ``createdBefore`` (rules for old versions left out).

    >>> _gcs_expiry({"rule": [{"action": {"type": "Delete"}, "condition": {"age": 1}},
    ...     {"action": {"type": "Delete"}, "condition": {"age": 0, "isLive": False}}]}, None)
    1.0
    """
    days: list[float] = []
    rules = lifecycle.get("rule")
    for rule in rules if isinstance(rules, list) else [rules]:
        if not isinstance(rule, dict):
            continue
        action, condition = rule.get("action"), rule.get("condition")
        if not isinstance(action, dict) or str(action.get("type", "")).lower() != "delete":
            continue
        if not isinstance(condition, dict) or condition.get("isLive") is False:
            continue
        if any(k in condition for k in ("numNewerVersions", "daysSinceNoncurrentTime",
                                        "noncurrentTimeBefore")):  # fmt: skip
            continue
        try:
            if condition.get("age") is not None:
                days.append(max(0.0, float(condition["age"])))
            elif condition.get("createdBefore") is not None:
                until = _days_until(condition["createdBefore"], when)
                if until is not None:
                    days.append(until)
        except (TypeError, ValueError, OverflowError):
            continue
    return min(days) if days else None


def _expiries() -> pl.Expr:
    return pl.struct("_request", "occurred_at").map_elements(
        lambda r: expiry_days(r["_request"], r["occurred_at"]),
        return_dtype=pl.Float64,
        skip_nulls=True,
    )


def _log_buckets(events: Events, known: pl.DataFrame) -> pl.LazyFrame:
    """``(tenant_id, _bucket)`` of every bucket the tenant's trail history names as where
    audit records, access logs or flow logs are delivered."""
    action = pl.col("action")
    about = known.filter(
        (
            noun(action).str.contains(AUDIT_NOUN_PATTERN)
            | noun(action).str.contains(r"(?:^|[._-])delivery_?channels?(?:$|[._-])")
        )
        # writing log events (CloudWatch's PutLogEvents, as frequent as the logs) names
        # no destination
        & ~noun(action).str.contains(_CONTENT_NOUNS)
    ).get_column("action")
    meta = pl.col("metadata").str.json_path_match
    return (
        subset(events, ("tenant_id", "action", "metadata"), action.is_in(about.implode()))
        .select("tenant_id", _bucket=pl.concat_list(*(meta(p) for p in _DESTINATION_PATHS)))
        .explode("_bucket")
        .select("tenant_id", _bucket(pl.col("_bucket")))
        .drop_nulls()
        .unique()
    )


#: The verb at the start of a source's call name (CloudTrail's ``eventName``).
_CALL_VERB: Final = r"^(?:Delete|Remove|Create|Add|Put|Associate|Disassociate)"


#: The noun of a Cloud DNS policy (``dns_policies.delete``), whose chief use is the query
#: log.
_DNS_POLICY: Final = r"(?i)(?:^|[._-])dns[._-]?polic(?:y|ies)$"


def _logging_on(events: Events, setters: list[str]) -> pl.LazyFrame:
    """When the trail first saw each item's logging switched on by one of the actions
    ``setters`` (a request with ``enableLogging`` true): ``tenant_id``, ``target_id``,
    ``_logging_since``."""
    on = r'"(?:enableLogging|enable_logging)"\s*:\s*true'
    if not setters:  # no event to read
        schema = {"tenant_id": pl.String, "target_id": pl.String}
        return pl.LazyFrame(schema={**schema, "_logging_since": pl.Datetime("us", "UTC")})
    return (
        subset(
            events,
            ["tenant_id", "target_id", "occurred_at", "action", "metadata", "outcome"],
            pl.col("action").is_in(setters),
            pl.col("outcome") == "success",
            pl.col("metadata").str.contains(on),
        )
        .group_by("tenant_id", "target_id")
        .agg(_logging_since=T.min())
    )


def _destination_effects(events: Events, chosen: Any) -> pl.LazyFrame:
    """``event_id`` and ``_dest_effect`` of the trail's sink and trail updates, each judged
    against the earlier state of the same sink or trail
    (:func:`~auditkit.analytics.detectors._destinations.destination_effects`)."""
    about = chosen(noun(pl.col("action")).str.contains(AUDIT_NOUN_PATTERN))
    if not about:
        return pl.LazyFrame(schema={"event_id": pl.String, "_dest_effect": pl.String})
    rows = subset(
        events,
        ("tenant_id", "occurred_at", "event_id", "action", "outcome", "metadata"),
        pl.col("action").is_in(about),
        pl.col("metadata").str.contains(SOURCE_CALLS).fill_null(False),
    ).collect()
    return destination_effects(rows).lazy().unique("event_id", keep="last")


@register_detector("audit_tampering", title="Audit trail tampering", severity="critical")
def audit_tampering(events: Events, *, gap: str | timedelta = "1h") -> pl.DataFrame:
    """Audit logging switched off, audit records or destinations deleted, audit retention
    shortened, or audit settings changed in a way not shown to be harmless (any outcome:
    attempts count).

    Actions are matched as a family (see the module): ``audit_log.disable``,
    ``audit_log.delete``, ``audit_logs.purge``, ``logging.disable``,
    ``log_sink.delete``, ``audit_destination.remove``, ``audit_log.update`` (a trail's
    event selectors or destination changed) and any update whose ``changes`` shorten a
    retention (``settings.update`` included), and a lifecycle rule deleting the objects
    of the trail's bucket in less than a year (:func:`expiry_days`; the bucket is the
    trail's by a word of its name or as a destination the trail history names), and a
    Cloud DNS policy deleted (its query log switched off when the trail saw the policy's
    logging on; a change of unknown effect otherwise).  One
    actor's such events no more than
    ``gap`` apart make one finding: critical when a removal, a shutdown or a shorter
    retention succeeded; high when only changes of unknown effect succeeded, or when
    every removal was denied or failed; medium when only denied changes of unknown
    effect.  A retention change whose values cannot be read is reported as a removal (it
    cannot be shown to be harmless); a longer retention, or a change that switches logging
    on, is not reported.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "audit_retention.update", "actor": {"id": "mallory"},
    ...      "changes": {"before": {"retention_days": 365}, "after": {"retention_days": 7}}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:05:00Z",
    ...      "action": "audit_log.disable", "actor": {"id": "mallory"}}])
    >>> print(audit_tampering(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'mallory' disabled audit logging; shortened audit retention from 365 to 7 days (between
    2026-01-05 09:00 UTC and 2026-01-05 09:05 UTC).
    """
    g = duration(gap, name="gap")
    action = pl.col("action")
    known = pl.DataFrame(
        {"action": actions_matching(events, pl.lit(True))}, schema={"action": pl.String}
    )

    def chosen(condition: pl.Expr) -> list[str]:
        """The trail's distinct actions for which ``condition`` holds."""
        return known.filter(condition).get_column("action").to_list()

    audit = chosen(is_audit_action(action))
    # IAM policy changes, which may cut the audit configs beside a grant
    iam = chosen(action.is_in(list(_IAM_POLICY_ACTIONS)))
    changing = verb(action).str.contains(_CHANGE_VERBS + _WORD_END)
    # every change, the trail's or not: one may switch a resource's logging off in its
    # request (a subnet's flow logs)
    changers = chosen(changing)
    others = chosen(
        ~is_audit_action(action) & changing & noun(action).str.contains(_SETTINGS_NOUNS)
    )
    # lifecycle rules of a bucket: the trail's records deleted after a few days, as
    # Stratus Red Team's cloudtrail-lifecycle-rule does, when the bucket is the trail's
    lifecycles = chosen(
        (
            noun(action).str.contains(r"(?:^|[._-])lifecycles?(?:$|[._-])")
            # Cloud Storage: the lifecycle is a part of the bucket's update
            | noun(action).str.contains(r"(?:^|[._-])buckets?$")
        )
        & changing
        & ~noun(action).str.contains(AUDIT_NOUN_PATTERN)
    )
    # the trail's parts created: a deletion with a creation of the same kind in the same
    # sitting is a replacement (infrastructure code re-creating a flow log)
    creations = chosen(
        noun(action).str.contains(AUDIT_NOUN_PATTERN)
        & verb(action).str.contains(r"^(?:create|add|associate|put)" + _WORD_END)
        & ~noun(action).str.contains(_CONTENT_NOUNS)
    )
    # Cloud DNS policies: their chief use is the query log (Stratus Red Team's
    # delete-dns-logs deletes one), so a deletion is logging switched off when the trail
    # saw the policy's logging on, and a change not shown to be harmless otherwise
    dns_policy = noun(action).str.contains(_DNS_POLICY)
    deleting = verb(action).str.contains(r"^(?:delete|remove)" + _WORD_END)
    dns_gone = chosen(dns_policy & deleting)
    creations += [
        a
        for a in chosen(
            dns_policy & verb(action).str.contains(r"^(?:create|insert|add)" + _WORD_END)
        )
        if a not in creations
    ]
    # what switched a policy's logging on, and networks deleted (a DNS policy deleted
    # with its network is a teardown): only read when a policy was deleted
    dns_set = (
        chosen(
            dns_policy
            & verb(action).str.contains(r"^(?:create|insert|add|patch|update|set)" + _WORD_END)
        )
        if dns_gone
        else []
    )
    networks_gone = (
        chosen(noun(action).str.contains(r"(?i)(?:^|[._-])(?:networks?|vpcs?)$") & deleting)
        if dns_gone
        else []
    )
    cols = (
        "tenant_id",
        "actor_id",
        "occurred_at",
        "event_id",
        "action",
        "outcome",
        "changes",
        "metadata",
        "target_id",
    )
    # a request switching logging off, or audit configs changed in an IAM policy: one
    # pass of literal search over every event's metadata, the expressions themselves
    # only on the few rows that have one of their keys
    marked = pl.col("metadata").str.contains_any([*_LOGGING_KEYS, *_AUDIT_CONFIG_MARKS])
    # an IAM policy change that names audit configs (read exactly once selected)
    may_cut = action.is_in(iam) & pl.col("metadata").str.contains_any(
        list(_AUDIT_CONFIG_MARKS)
    ).fill_null(False)
    quiet_logs = pl.col("metadata").str.contains(_LOGGING_OFF)
    # a retention shortened through another update (settings.update...): the few
    # such updates are read once selected
    mentions = action.is_in(audit + lifecycles + creations + dns_gone + networks_gone) | pl.col(
        "changes"
    ).str.contains("retention", literal=True)
    v = verb(action.str.to_lowercase())
    after = pl.col("changes").str.json_path_match("$.after")
    before = pl.col("changes").str.json_path_match("$.before")
    shorter = pl.col("after_days") < pl.col("before_days")
    longer = pl.col("after_days") >= pl.col("before_days")
    retention = noun(action).str.contains("retention") | pl.col("changes").str.contains(
        r'"[^"]*retention[^"]*"\s*:'
    )
    turned_off = after.str.contains(_FLAG_OFF) & ~before.str.contains(_FLAG_OFF).fill_null(False)
    turned_on = after.str.contains(_FLAG_ON) & ~before.str.contains(_FLAG_ON).fill_null(False)
    is_audit = action.is_in(audit)
    switched_off = v.str.contains(_OFF_VERBS + _WORD_END) | v.str.contains(
        r"^(?:disable|stop|pause|deactivate|suspend)"
    )
    removed = v.str.contains(_GONE_VERBS + _WORD_END) | v.str.contains(
        r"^(?:delete|purge|remove|truncate|clear|wipe|erase|destroy|drop|detach)"
    )
    # CloudWatch Logs' DeleteRetentionPolicy: the logs' expiry removed, kept for ever
    expiry_removed = removed & action.str.to_lowercase().str.contains(
        r"retention_?(?:polic|rule|period)|expir"
    )
    effect = pl.col("_request").map_elements(
        request_effect, return_dtype=pl.String, skip_nulls=True
    )
    set_long = (
        pl.col("before_days").is_null() & (pl.col("after_days") >= LONG_RETENTION_DAYS)
    ).fill_null(False)
    lifecycle = action.is_in(lifecycles)
    dns_deleted = action.is_in(dns_gone)
    cut = pl.col("_cut")
    dest = pl.col("_dest_effect")
    kind = (
        # audit configs cut in an IAM policy change, whatever else it changed
        pl.when(cut.str.starts_with("off|").fill_null(False))
        .then(pl.lit("off"))
        .when(cut.str.starts_with("narrowed|").fill_null(False))
        .then(pl.lit("narrowed"))
        # a sink's or a trail's update judged against its earlier state (_destinations)
        .when(dest.is_in(["off", "redirected", "narrowed", "changed"]).fill_null(False))
        .then(dest)
        .when((dest == "widened").fill_null(False))
        .then(pl.lit(None))
        .when((cut == "more").fill_null(False) & is_audit)
        .then(pl.lit(None))  # an exemption removed: logs more
        .when(action.is_in(creations) & ~is_audit)
        .then(pl.lit("created"))
        .when(action.is_in(networks_gone))
        .then(pl.lit("torn"))
        .when(dns_deleted)
        .then(pl.when(pl.col("_logging_on")).then(pl.lit("off")).otherwise(pl.lit("changed")))
        .when(lifecycle)
        .then(
            pl.when(pl.col("_log_bucket") & (pl.col("_expiry") < LONG_RETENTION_DAYS)).then(
                pl.lit("expiry")
            )
        )
        .when(expiry_removed & is_audit)
        .then(pl.lit(None))
        .when((effect == "spared").fill_null(False) & is_audit)
        .then(pl.lit(None))
        .when(switched_off & is_audit)
        .then(pl.lit("off"))
        .when(removed & is_audit)
        .then(
            pl.when(noun(action).str.contains(r"destination|sink|stream|channel|siem|export"))
            .then(pl.lit("removed"))
            .otherwise(pl.lit("deleted"))
        )
        .when(shorter.fill_null(False))
        .then(pl.lit("retention"))
        .when(longer.fill_null(False) | turned_on.fill_null(False) | set_long)
        .then(pl.lit(None))
        .when((effect == "harmless").fill_null(False) & is_audit)
        .then(pl.lit(None))
        .when(
            turned_off.fill_null(False)
            | ((effect == "off").fill_null(False) & is_audit)
            | (~is_audit & pl.col("metadata").str.contains(_LOGGING_OFF).fill_null(False))
        )
        .then(pl.lit("off"))
        .when((effect == "narrowed").fill_null(False) & is_audit)
        .then(pl.lit("narrowed"))
        .when(retention.fill_null(False) & is_audit)
        .then(pl.lit("retention"))  # values unreadable: cannot be shown harmless
        .when(is_audit)
        .then(pl.lit("changed"))
    )
    # the request as the source recorded it: CloudTrail's parameters, GCP's request
    meta = pl.col("metadata")
    request = pl.coalesce(
        meta.str.json_path_match("$.original.requestParameters"),
        meta.str.json_path_match("$.original.protoPayload.request"),
    )
    named_retention = r'(?i)"[^"]*retention[^"]*"\s*:\s*"?([^",}\]]*)'
    lf = (
        subset(
            events,
            cols,
            action.is_in(audit + others + lifecycles + creations + dns_gone + networks_gone)
            | (action.is_in(changers + iam) & marked.fill_null(False)),
            mentions | quiet_logs.fill_null(False) | may_cut,
        )
        .join(
            _logging_on(events, dns_set),
            on=["tenant_id", "target_id"],
            how="left",
            maintain_order="left",
        )
        .with_columns(_logging_on=(pl.col("_logging_since") < T).fill_null(False))
        .drop("_logging_since")
        .join(
            _destination_effects(events, chosen), on="event_id", how="left", maintain_order="left"
        )
        .with_columns(
            retention_days("before"),
            retention_days("after"),
            _request=request,
            _cut=pl.when(action.is_in(iam))
            .then(pl.col("metadata"))
            .map_elements(audit_config_cut, return_dtype=pl.String, skip_nulls=True),
        )
        .with_columns(
            pl.coalesce(
                "after_days", _number_of_days(pl.col("_request").str.extract(named_retention))
            ).alias("after_days")
        )
        # auditkit's own policy records: how long the trail is kept before and after
        .with_columns(
            pl.coalesce(_own_retention("old"), "before_days").alias("before_days"),
            pl.coalesce(_own_retention("new"), "after_days").alias("after_days"),
        )
    )
    if lifecycles:  # which bucket, whether it is the trail's, and when it expires objects
        named_bucket = _bucket(
            pl.coalesce(
                meta.str.json_path_match("$.original.requestParameters.bucketName"),
                meta.str.json_path_match("$.original.protoPayload.request.bucket"),
                pl.col("target_id"),
            )
        )
        lf = (
            lf.with_columns(_bucket=pl.when(lifecycle).then(named_bucket))
            .join(
                _log_buckets(events, known).with_columns(_dest=pl.lit(True)),
                on=["tenant_id", "_bucket"],
                how="left",
                maintain_order="left",
            )
            .with_columns(
                _log_bucket=pl.col("_dest").fill_null(False)
                | pl.col("_bucket").str.contains(_TRAIL_BUCKET).fill_null(False),
                _expiry=pl.when(lifecycle).then(_expiries()),
            )
        )
    else:
        lf = lf.with_columns(
            _bucket=pl.lit(None, pl.String),
            _log_bucket=pl.lit(False),
            _expiry=pl.lit(None, pl.Float64),
        )
    # what the source called the item, where it named the call (CloudTrail's eventName
    # less its verb: ``DeleteFlowLogs`` and ``CreateFlowLogs`` are both ``FlowLogs``):
    # the vocabulary may name a deletion ``audit_log.disable`` and its re-creation not
    source_call = meta.str.json_path_match("$.original.eventName")
    lf = lf.with_columns(
        _kind=kind,
        _item=pl.coalesce(source_call.str.replace(_CALL_VERB, ""), noun(action)),
        _deleting=source_call.str.contains(r"^(?:Delete|Remove)").fill_null(False) | dns_deleted,
    ).filter(pl.col("_kind").is_not_null())
    # context for a deletion, never a finding alone: a creation, a network torn down
    made = pl.col("_kind").is_in(["created", "torn"])
    is_ok = (pl.col("outcome") == "success") & ~made
    definite = ~pl.col("_kind").is_in(["changed", "created", "torn"])
    # deleted, or switched off by deleting the item (a flow log), which can be replaced
    gone = pl.col("_kind").is_in(["deleted", "removed"]) | (
        (pl.col("_kind") == "off") & pl.col("_deleting")
    )

    def count(name: str) -> pl.Expr:
        return (pl.col("_kind") == name).sum()

    def named(name: str) -> pl.Expr:
        return action.filter(pl.col("_kind") == name).unique(maintain_order=True).str.join(", ")

    ret = pl.col("_kind") == "retention"
    found = (
        episodes(lf, ["tenant_id", "actor_id"], g)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            count("off").alias("disabled"),
            count("narrowed").alias("narrowed"),
            count("redirected").alias("redirected"),
            named("redirected").alias("redirected_what"),
            count("removed").alias("removed"),
            count("deleted").alias("deleted"),
            named("deleted").alias("deleted_what"),
            count("changed").alias("changed"),
            count("expiry").alias("expiring"),
            q(pl.col("_bucket"))
            .filter(pl.col("_kind") == "expiry")
            .unique(maintain_order=True)
            .str.join(", ")
            .alias("expiring_what"),
            pl.col("_expiry").filter(pl.col("_kind") == "expiry").min().alias("expiry_days"),
            named("changed").alias("changed_what"),
            cut.filter(cut.str.contains(r"^(?:off|narrowed)\|"))
            .str.replace(r"^[a-z]+\|", "")
            .unique(maintain_order=True)
            .str.join("; ")
            .alias("cut_what"),
            action.filter(cut.str.contains(r"^(?:off|narrowed)\|"))
            .unique(maintain_order=True)
            .str.join(", ")
            .alias("cut_in"),
            ret.sum().alias("retention"),
            pl.col("before_days").filter(ret).first().alias("before"),
            pl.col("after_days").filter(ret).last().alias("after"),
            (is_ok & definite).sum().alias("ok_definite"),
            is_ok.sum().alias("ok"),
            definite.sum().alias("n_definite"),
            (~made).sum().alias("n"),
            # the kinds deleted, and those created in the same sitting
            pl.col("_item").filter(gone).unique().alias("_gone"),
            pl.col("_item")
            .filter((pl.col("_kind") == "created") & (pl.col("outcome") == "success"))
            .unique()
            .alias("_made"),
            # a DNS policy deleted with the network it served: an environment torn down
            ((pl.col("_kind") == "torn") & (pl.col("outcome") == "success")).any().alias("_torn"),
            (is_ok & definite & dns_deleted).sum().alias("_dns_definite"),
            ((pl.col("_kind") == "off") & ~pl.col("_deleting")).sum().alias("_stopped"),
        )
        .filter(pl.col("n") > 0)
        .with_columns(
            _replaced=(pl.col("_gone").list.len() > 0)
            & (pl.col("_gone").list.set_difference("_made").list.len() == 0)
            & (
                pl.col("_stopped") + pl.col("narrowed") + pl.col("redirected") + pl.col("retention")
                == 0
            )
            & (pl.col("expiring") == 0)
        )
        .with_columns(
            severity=pl.when(
                (
                    pl.col("ok_definite")
                    - pl.when(pl.col("_torn")).then(pl.col("_dns_definite")).otherwise(0)
                    > 0
                )
                & ~pl.col("_replaced")
            )
            .then(pl.lit("critical"))
            .when((pl.col("ok") > 0) | (pl.col("n_definite") > 0))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.concat_str(
                q(pl.col("actor_id")),
                # nothing went through: what was tried, not done
                pl.when(pl.col("ok") == 0)
                .then(pl.lit(" tried (every attempt refused or failed): "))
                .otherwise(pl.lit(" ")),
                pl.concat_str(
                    pl.when(pl.col("disabled") > 0).then(pl.lit("disabled audit logging")),
                    pl.when(pl.col("narrowed") > 0).then(
                        pl.format(
                            "narrowed what the audit trail records {} time(s)", pl.col("narrowed")
                        )
                    ),
                    pl.when(pl.col("redirected") > 0).then(
                        pl.format(
                            "sent the audit trail to another project's or account's "
                            "destination {} time(s) ({})",
                            pl.col("redirected"),
                            pl.col("redirected_what"),
                        )
                    ),
                    pl.when(pl.col("cut_what") != "").then(
                        pl.format(
                            "cut the audit log configuration in an IAM policy change ({}): {}",
                            pl.col("cut_in"),
                            pl.col("cut_what"),
                        )
                    ),
                    pl.when(pl.col("retention") > 0).then(
                        pl.when(pl.col("before").is_null() & pl.col("after").is_not_null())
                        .then(
                            pl.format("set audit retention to {} days", fmt_float(pl.col("after")))
                        )
                        .when(pl.col("before").is_not_null() & pl.col("after").is_not_null())
                        .then(
                            pl.format(
                                "shortened audit retention from {} to {} days",
                                pl.when(pl.col("before").is_infinite())
                                .then(pl.lit("no limit (kept for ever, or under a legal hold)"))
                                .otherwise(fmt_float(pl.col("before"))),
                                fmt_float(pl.col("after")),
                            )
                        )
                        .otherwise(pl.lit("changed audit retention (values unreadable)"))
                    ),
                    pl.when(pl.col("expiring") > 0).then(
                        pl.format(
                            "set the trail's bucket {} to delete its objects after {} day(s)",
                            pl.col("expiring_what"),
                            fmt_float(pl.col("expiry_days"), 1).str.replace(r"\.0$", ""),
                        )
                    ),
                    pl.when(pl.col("removed") > 0).then(
                        pl.format("removed {} audit destination(s)", pl.col("removed"))
                    ),
                    pl.when(pl.col("deleted") > 0).then(
                        pl.format(
                            "deleted or purged audit records or trails {} time(s) ({})",
                            pl.col("deleted"),
                            pl.col("deleted_what"),
                        )
                    ),
                    pl.when(pl.col("_torn") & (pl.col("_dns_definite") > 0)).then(
                        pl.lit("deleted a network in the same sitting (a teardown?)")
                    ),
                    pl.when(pl.col("_replaced")).then(
                        pl.lit("created the same kind again in the same sitting (a replacement?)")
                    ),
                    pl.when(pl.col("changed") > 0).then(
                        pl.format(
                            "changed audit settings {} time(s) in a way not shown to be "
                            "harmless ({})",
                            pl.col("changed"),
                            pl.col("changed_what"),
                        )
                    ),
                    separator="; ",
                    ignore_nulls=True,
                ),
                pl.format(
                    " (between {} and {})",
                    fmt_time(pl.col("first_seen")),
                    fmt_time(pl.col("last_seen")),
                ),
                pl.when(pl.col("ok") < pl.col("n")).then(
                    pl.format(
                        "; {} of {} attempt(s) did not succeed",
                        pl.col("n") - pl.col("ok"),
                        pl.col("n"),
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ),
        )
    )
    return finalize(found, "audit_tampering")
