"""Security controls weakened: an organisation-wide protection switched off or relaxed.

An intruder with an administrator's session rarely stops at reading: they remove
what would stop or expose them next, by changing a setting rather than by an
action named for it.  ``mfa_required`` set from ``true`` to ``false`` through a
``settings.update``, single sign-on enforcement dropped, an IP allowlist emptied,
the minimum password length lowered.  The detector reads the ``changes`` of every
event (``{"before": ..., "after": ...}``) and matches
the *family* of setting names (multi-factor, single sign-on, allowlists, password
policy, lockout, encryption) rather than a list of names, so that each source's
spelling is covered once imported; a change that strengthens a control, or that
touches any other setting, is not reported.  Actions that switch such a control off
by name (``sso.disable``, ``mfa_policy.deactivate``, ``saml_provider.delete``) count
too.  A principal's own factor (``mfa.disable``) is :func:`mfa_disabled`'s, and the
audit trail's settings are :func:`audit_tampering`'s.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
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
    actions_where,
    away_from_home,
    classified,
    classified_episodes,
    duration,
    empty,
    episodes,
    finalize,
    finding_span,
    first_few,
    fmt_time,
    json_or_none,
    producer_request,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["okta_weakenings", "security_control_weakened", "weakened_controls"]

#: Words (of a setting's or an action's name) that name an authentication or access
#: control of the whole organisation, alone or as a pair.
_CONTROL_WORDS: Final = frozenset(
    (
        "mfa", "2fa", "tfa", "2sv", "otp", "totp", "u2f", "fido", "fido2", "webauthn",
        "passkey", "passkeys", "twofactor", "multifactor", "twostep", "sso", "saml",
        "oidc", "idp", "federation", "allowlist", "whitelist", "allowlists", "whitelists",
        "lockout", "encryption", "encrypted", "encrypt",
    )
)  # fmt: skip
_CONTROL_PAIRS: Final = frozenset(
    (
        ("two", "factor"), ("two", "step"), ("multi", "factor"), ("security", "key"),
        ("security", "keys"), ("ip", "restriction"), ("ip", "restrictions"),
        ("allowed", "ips"), ("ip", "allow"), ("strong", "authentication"),
        ("strong", "auth"), ("password", "policy"), ("password", "complexity"),
        ("single", "sign"), ("login", "attempts"), ("sign", "attempts"),
        ("security", "policy"), ("sign", "on"),
        ("protected", "branch"), ("protected", "branches"), ("branch", "protection"),
        ("force", "push"), ("approval", "rule"), ("approval", "rules"), ("code", "owner"),
        ("code", "owners"), ("request", "approval"), ("approvals", "before"),
        ("reset", "approvals"), ("approvals", "required"), ("required", "approvals"),
        ("secret", "scanning"), ("push", "protection"),
    )
)  # fmt: skip
#: Words that make a password setting the organisation's password policy.
_PASSWORD_POLICY: Final = frozenset(
    ("min", "minimum", "length", "complexity", "policy", "strength", "expiry", "history")
)
#: Words that turn a setting's meaning around: ``mfa_optional`` from false to true
#: weakens, as ``mfa_required`` from true to false does.
_INVERTING: Final = frozenset(
    ("disable", "disabled", "skip", "bypass", "optional", "exempt", "exempted", "exemption",
     "exemptions", "off", "allow", "allowed")
)  # fmt: skip
#: ... except where "allow" is the control itself (an allowlist).
_ALLOW_NOUNS: Final = frozenset(("allowlist", "allowlists", "ips", "ip", "list", "ranges"))
_ON: Final = frozenset(
    ("true", "on", "enabled", "enable", "required", "require", "enforced", "enforce",
     "mandatory", "yes", "always", "active", "strict", "1")
)  # fmt: skip
_OFF: Final = frozenset(
    ("false", "off", "disabled", "disable", "optional", "not_required", "none", "no",
     "never", "inactive", "relaxed", "permissive", "", "0")
)  # fmt: skip
#: Verbs that switch a control off by name, and the nouns that make it the
#: organisation's control rather than one principal's factor.
_OFF_VERBS: Final = {
    "disable": "disabled", "deactivate": "deactivated", "delete": "deleted",
    "remove": "removed", "suspend": "suspended", "unenforce": "unenforced",
    "turn_off": "turned off",
}  # fmt: skip
#: Verbs and participles that switch a control off, inside a producer's action name.
_OFF_WORDS: Final = {
    **_OFF_VERBS, **{v: v for v in _OFF_VERBS.values()}, "disabled": "disabled",
}  # fmt: skip
#: Nouns of one principal's own sign-in (their factor, session or token): not the
#: organisation's control (``mfa_disabled``'s).
_PERSONAL: Final = frozenset(
    ("user", "users", "member", "members", "identity", "credential", "credentials", "session",
     "sessions", "token", "tokens", "authorization")
)  # fmt: skip
_POLICY_WORDS: Final = frozenset(
    ("policy", "policies", "setting", "settings", "config", "configuration", "provider",
     "enforcement", "requirement", "rule", "sso", "saml", "oidc", "allowlist", "whitelist",
     "restriction", "restrictions", "allowlists", "whitelists", "protected", "protection")
)  # fmt: skip
#: Threat detection and security monitoring services (a noun's words, alone or as a
#: pair): switched off by name, the intruder's next steps go unseen.
_MONITOR_WORDS: Final = frozenset(
    ("guardduty", "securityhub", "macie", "macie2", "inspector", "inspector2", "detective",
     "accessanalyzer", "securitycenter", "defender", "sentinel", "falco", "crowdstrike",
     "edr", "antivirus", "antimalware")
)  # fmt: skip
_MONITOR_PAIRS: Final = frozenset(
    (("security", "hub"), ("access", "analyzer"), ("security", "center"),
     ("threat", "detection"), ("security", "monitoring"), ("guard", "duty"))
)  # fmt: skip
#: What a monitoring service keeps besides itself: deleting a suppression filter, an
#: insight, an archive rule, a trusted address list or an invitation is housekeeping
#: (or makes it see more), not switching it off.
_MONITOR_HOUSEKEEPING: Final = frozenset(
    ("filter", "filters", "insight", "insights", "target", "targets", "archive",
     "identifier", "identifiers", "tag", "tags", "invitation", "invitations", "sample",
     "suppression", "automation", "allow", "ipset", "ip", "report", "reports")
)  # fmt: skip
#: Verbs that switch a monitoring service off, or take an account out of it.
_MONITOR_OFF: Final = {
    **_OFF_VERBS,
    "stop": "stopped",
    "disassociate": "disassociated",
    "disassociate_from_master_account": "disassociated",
    "disassociate_from_administrator_account": "disassociated",
}
_OPEN_NETWORKS: Final = frozenset(("0.0.0.0/0", "::/0", "*", "0.0.0.0"))
#: Single sign-on settings that say whom the organisation trusts to vouch for its users:
#: changed, they hand sign-in to another identity provider (a swapped issuer,
#: certificate or metadata address is how a rogue federation is set up).
_FEDERATION: Final = frozenset(("sso", "saml", "oidc", "idp", "federation"))
_TRUST_WORDS: Final = frozenset(
    ("idp", "issuer", "entity", "entityid", "metadata", "url", "uri", "certificate", "cert",
     "certs", "x509", "fingerprint", "thumbprint", "signing", "provider", "endpoint")
)  # fmt: skip
_MISSING: Final = object()
_DEEPEST: Final = 32
#: camelCase and letter-digit boundaries (``enforce2FA``: enforce, 2fa)
_CAMEL: Final = re.compile(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[A-Z0-9])(?=[A-Z][a-z])")
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")
#: A cheap test run over every event's ``changes`` and action before the exact one.
_MENTIONS: Final = (
    r"(?i)mfa|2fa|tfa|2sv|otp|u2f|fido|webauthn|passkey|factor|two.?step|sso|saml|oidc|"
    r"single.?sign|allow|whitelist|ip.?restrict|security.?key|strong.?auth|password|"
    r"lockout|attempts|encrypt|guardduty|guard_duty|security_?hub|macie|inspector|detective|"
    r"access_?analyzer|security_?center|defender|sentinel|falco|crowdstrike|edr|antivirus|"
    r"antimalware|threat_?detection|security_?monitoring|organi[sz]ation.*leave|security_?polic|"
    r"sign_?on|protected|protection|approval|force.?push|code.?owner|permissions_?boundary|"
    r"transfer_?lock|secret_?scanning"
)


def _words(name: str) -> list[str]:
    return [w for w in _NOT_WORD.split(_CAMEL.sub("_", name).lower()) if w]


def _is_control(words: list[str]) -> bool:
    """Whether a setting's name (as words) names one of the controls.

    >>> [_is_control(_words(n)) for n in ("enforce2FA", "u2fRequired", "password_min_length",
    ...                                   "dark_mode", "min_length")]
    [True, True, True, False, False]
    """
    pairs = list(itertools.pairwise(words))
    if _CONTROL_WORDS.intersection(words) or _CONTROL_WORDS.intersection(a + b for a, b in pairs):
        return True
    if "allow" in words and _ALLOW_NOUNS.intersection(words):
        return True
    if "password" in words and _PASSWORD_POLICY.intersection(words):
        return True
    return any(pair in _CONTROL_PAIRS for pair in pairs)


def _is_monitoring(words: list[str]) -> bool:
    """Whether a noun (as words) names a threat detection or security monitoring service.

    >>> [_is_monitoring(_words(n)) for n in ("guardduty_detector", "securityhub_security_hub",
    ...                                      "access_analyzer_analyzer", "ec2_instance",
    ...                                      "guardduty_filter", "access_analyzer_archive_rule")]
    [True, True, True, False, False, False]
    """
    if _MONITOR_HOUSEKEEPING.intersection(words):
        return False
    pairs = itertools.pairwise(words)
    return bool(_MONITOR_WORDS.intersection(words)) or any(p in _MONITOR_PAIRS for p in pairs)


def _monitoring_action(action: str) -> bool:
    """Whether an action changes a threat-detection service (its housekeeping too; not
    the reads that integrations poll all day)."""
    noun, _, verb = action.rpartition(".")
    if verb not in _CHANGE_VERBS:
        return False
    words = _words(noun)
    pairs = itertools.pairwise(words)
    return bool(_MONITOR_WORDS.intersection(words)) or any(p in _MONITOR_PAIRS for p in pairs)


def _inverted(words: list[str]) -> bool:
    hits = _INVERTING.intersection(words)
    if hits <= {"allow", "allowed"} and _ALLOW_NOUNS.intersection(words):
        return False  # an allowlist is the control, not an exception to one
    return bool(hits)


def _state(value: Any) -> bool | None:
    """On (True), off (False) or neither (None) for a setting's value."""
    if value is _MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _ON else False if text in _OFF else None
    if isinstance(value, Mapping) and "enabled" in value:
        return _state(value["enabled"])
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _networks(value: Any) -> list[str] | None:
    if value is _MISSING or value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    return None


def _flat(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """``(dotted path, leaf value)`` of a JSON value; lists are leaves, and so is what
    lies deeper than ``_DEEPEST`` levels (no setting is nested that deep)."""
    if isinstance(value, Mapping) and value and depth < _DEEPEST:
        for key, inner in value.items():
            yield from _flat(inner, f"{path}.{key}" if path else str(key), depth + 1)
    else:
        yield path, value


def _pairs(changes: Any) -> Iterator[tuple[str, Any, Any]]:
    """``(setting, before, after)`` of a ``changes`` object (``{"before": ..., "after":
    ...}``, the one shape the event schema allows), setting by setting; a setting
    missing on one side is ``_MISSING`` there."""
    if not isinstance(changes, Mapping):
        return
    before = dict(_flat(changes.get("before", _MISSING)))
    after = dict(_flat(changes.get("after", _MISSING)))
    for path in dict.fromkeys([*before, *after]):
        yield path, before.get(path, _MISSING), after.get(path, _MISSING)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(removed)"
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 40 else text[:39] + "…"


def _weakening(words: list[str], before: Any, after: Any) -> bool:
    if ("allowlist" in words or "whitelist" in words or "allowlists" in words
            or "whitelists" in words or ("allow" in words and _ALLOW_NOUNS.intersection(words))
            or ("ip" in words and ("restriction" in words or "restrictions" in words))
            or ("allowed" in words and "ips" in words)):  # fmt: skip
        old, new = _networks(before), _networks(after)
        if old is not None and new is not None and (old or before is _MISSING):
            opened = bool(_OPEN_NETWORKS.intersection(new) - _OPEN_NETWORKS.intersection(old))
            return opened or (bool(old) and not new)
    trust = _FEDERATION.intersection(words) and _TRUST_WORDS.intersection(words[1:] or words)
    if trust and isinstance(before, str) and before.strip() and _state(before) is None:
        return bool(after != before)  # another provider trusted, or none
    old_n, new_n = _number(before), _number(after)
    if old_n is not None and new_n is not None:
        if "password" in words and {"min", "minimum"} & set(words):
            return new_n < old_n  # shorter passwords
        if {"lockout", "attempts"} & set(words) and {"max", "maximum", "threshold"} & set(words):
            return new_n == 0 or new_n > old_n  # more guesses before a lockout, or none
        if {"approval", "approvals", "approvers"} & set(words):
            return new_n == 0 < old_n  # no approval needed any more (GitLab, GitHub)
        if old_n not in (0, 1) or new_n not in (0, 1):
            return False
    old_s, new_s = _state(before), _state(after)
    if old_s is None or new_s is None or old_s == new_s:
        return False
    return (old_s and not new_s) != _inverted(words)


def weakened_controls(action: str, changes: str | None) -> list[str]:
    """What the event did to the organisation's security controls, one phrase each
    (empty when it weakened none).

    Examples
    --------
    >>> weakened_controls("settings.update",
    ...     '{"before": {"mfa_required": true}, "after": {"mfa_required": false}}')
    ['mfa_required true → false']
    >>> weakened_controls("settings.update",
    ...     '{"before": {"mfa_required": false}, "after": {"mfa_required": true}}')
    []
    >>> weakened_controls("group_require_two_factor_authentication.update",
    ...     '{"before": "true", "after": "false"}')
    ['group_require_two_factor_authentication "true" → "false"']
    >>> weakened_controls("sso.disable", None)
    ['sso disabled (sso.disable)']
    >>> weakened_controls("mfa.disable", None)  # one principal's factor: mfa_disabled
    []
    >>> weakened_controls("guardduty_detector.delete", None)  # threat detection off
    ['guardduty_detector deleted (guardduty_detector.delete)']
    >>> weakened_controls("security_policy_rule.deactivate", None)  # Okta's policies
    ['security_policy_rule deactivated (security_policy_rule.deactivate)']
    >>> weakened_controls("s3_bucket_encryption.delete", None)
    ['s3_bucket_encryption deleted (s3_bucket_encryption.delete)']
    >>> weakened_controls("protected_branch.remove", None)  # GitLab: code review bypassed
    ['protected_branch removed (protected_branch.remove)']
    >>> weakened_controls("organizations_organization.leave", None)
    ['left the organization (organizations_organization.leave)']
    >>> weakened_controls("organization.disable_saml", None)  # a name the mapping lacks
    ['saml disabled (organization.disable_saml)']
    >>> weakened_controls("organization.sso_disabled", None)
    ['sso disabled (organization.sso_disabled)']
    """
    found: list[str] = []
    noun, _, verb = action.rpartition(".")
    noun_words = _words(noun)
    if changes:
        parsed = json_or_none(changes)  # not JSON, or nested beyond any setting: None
        for path, before, after in _pairs(parsed):
            name = path or noun
            words = _words(name)
            if not path:  # a scalar change: the action's noun names the setting
                words = noun_words
            if _is_control(words) and _weakening(words, before, after):
                found.append(f"{name} {_show(before)} → {_show(after)}")
    if (
        not found
        and verb in _OFF_VERBS
        and _is_control(noun_words)
        and _POLICY_WORDS.intersection(noun_words)
    ):
        found.append(f"{noun} {_OFF_VERBS[verb]} ({action})")
    if not found and verb in _OFF_VERBS and {"encryption", "encrypted"} & set(noun_words):
        # a resource's default encryption removed (S3's DeleteBucketEncryption)
        found.append(f"{noun} {_OFF_VERBS[verb]} ({action})")
    if not found and verb in _MONITOR_OFF and _is_monitoring(noun_words):
        found.append(f"{noun} {_MONITOR_OFF[verb]} ({action})")
    if not found and verb in _OFF_VERBS and {"permissions", "boundary"} <= set(noun_words):
        # the cap on a principal's permissions taken away: whatever its policies allow
        found.append(f"{noun} {_OFF_VERBS[verb]}: its permissions are no longer capped ({action})")
    if not found and verb in _OFF_VERBS and {"transfer", "lock"} <= set(noun_words):
        # a domain's registrar lock: off, the domain can be moved to another owner
        found.append(f"{noun} {_OFF_VERBS[verb]} ({action})")
    if not found and "_" in verb and not _PERSONAL.intersection(noun_words):
        # a producer's name not mapped to the vocabulary (GitHub's org.disable_saml read
        # as organization.disable_saml, org.sso_disabled): the verb says it
        words = verb.split("_")
        off = next((w for w in (words[0], words[-1]) if w in _OFF_WORDS), None)
        rest = [w for w in words if w != off]
        if (
            off is not None
            and _is_control(rest)
            and _POLICY_WORDS.intersection(rest)
            and not _PERSONAL.intersection(rest)
        ):
            found.append(f"{'_'.join(rest)} {_OFF_WORDS[off]} ({action})")
    if not found and verb == "leave" and {"organization", "organisation"} & set(noun_words):
        # out of its organisation, an account sheds the guardrails, trail and
        # monitoring the organisation applies to it
        found.append(f"left the organization ({action})")
    return found


_CHANGE_VERBS: Final = frozenset(
    ("update", "create", "put", "modify", "set", "add", "attach", "associate", "apply",
     "replace", "enable", "configure", "change", "edit", "patch", "write", "bulk")
)  # fmt: skip
#: Values of a monitoring service's ``status`` that switch it (or one of its protection
#: plans) off.
_STATUS_OFF: Final = frozenset(("disabled", "disable", "paused", "suspended", "off"))
#: Keys of a suppression rule's criteria that narrow it to some findings (a type, a
#: resource, an address): a rule without any of them hides every finding.  An account or
#: a region is no narrowing: a rule for the account hides everything in it.
_NARROWING: Final = re.compile(
    r"(?i)type|resource|instance|bucket|ip|address|(?:^|\.)id(?:\.|$)|arn|title|generator|"
    r"domain|name|tag|port|user|principal|image|cluster|key"
)


#: Fields of a finding filter's text (Security Command Center's) that pick out some
#: findings: a category, a resource, a finding's name or class, its source's properties.
_FINDING_NARROWING: Final = re.compile(
    r"(?i)category|resource|finding_class|source_properties|indicator|name|parent|"
    r"external_uri|module|project"
)


def _request(metadata: str | None) -> Any:
    """The request of the producer's original record kept in an event's ``metadata``
    (:func:`producer_request`), read when it is JSON text (OCSF keeps it so)."""
    meta = json_or_none(metadata)
    request = producer_request(meta.get("original")) if isinstance(meta, Mapping) else None
    return json_or_none(request) if isinstance(request, str) else request


def _criteria_narrow(criteria: Any) -> bool:
    """Whether a suppression rule's criteria pick out some findings (not all of them)."""
    if isinstance(criteria, str):
        criteria = json_or_none(criteria)
    return any(_NARROWING.search(path) for path, _ in _flat(criteria) if path)


def request_weakenings(action: str, metadata: str | None) -> list[str]:
    """What a threat-detection service's request (CloudTrail's ``requestParameters``)
    turned off or blinded, one phrase each: the service or a protection plan switched
    off (``enable: false``, ``status: DISABLED``), a suppression rule that archives
    every finding, a trusted address list (GuardDuty raises no finding for traffic from
    its addresses).  Producers that log a whole setting as ``changes`` are read by
    :func:`weakened_controls`; these log only the request.

    Examples
    --------
    >>> meta = lambda r: json.dumps({"original": {"requestParameters": r}})
    >>> request_weakenings("guardduty_detector.update", meta({"detectorId": "d", "enable": False}))
    ['guardduty_detector switched off (enable: false)']
    >>> request_weakenings("guardduty_detector.update", meta({"detectorId": "d", "features": [
    ...     {"name": "S3_DATA_EVENTS", "status": "DISABLED"}]}))
    ['guardduty_detector: S3_DATA_EVENTS switched off (status: DISABLED)']
    >>> request_weakenings("guardduty_filter.create", meta({"name": "all", "action": "ARCHIVE",
    ...     "findingCriteria": {"criterion": {"severity": {"gte": 1}}}}))
    ["guardduty_filter 'all' archives every finding"]
    >>> request_weakenings("guardduty_filter.create", meta({"name": "scanner", "action": "ARCHIVE",
    ...     "findingCriteria": {"criterion": {"type": {"eq": ["Recon:EC2/Portscan"]}}}}))
    []
    >>> request_weakenings("guardduty_filter.create", meta({"name": "acct", "action": "ARCHIVE",
    ...     "findingCriteria": {"criterion": {"accountId": {"eq": ["111122223333"]}}}}))
    ["guardduty_filter 'acct' archives every finding"]
    >>> request_weakenings("guardduty_ip_set.create", meta({"name": "ok", "activate": True}))
    ["guardduty_ip_set 'ok' trusted: no findings for its addresses"]
    >>> request_weakenings("guardduty_detector.update", meta({"enable": True}))
    []
    """
    noun, _, verb = action.rpartition(".")
    words = _words(noun)
    if not (_MONITOR_WORDS.intersection(words) or any(
        p in _MONITOR_PAIRS for p in itertools.pairwise(words)
    )):  # fmt: skip
        return []
    request = _request(metadata)
    if not isinstance(request, Mapping) or verb in _OFF_VERBS or verb == "stop":
        return []  # switched off by name: weakened_controls reads the action
    keys = {str(k).lower(): v for k, v in request.items()}
    name = keys.get("name") or keys.get("rulename") or keys.get("filtername")
    label = f"{noun} {name!r}" if isinstance(name, str) else noun
    if {"ipset", "ip"} & set(words) and "threat" not in words:
        if keys.get("activate") is True or str(keys.get("activate")).lower() == "true":
            return [f"{label} trusted: no findings for its addresses"]
        return []
    if "mute" in words:  # Security Command Center: findings matching a filter muted
        if verb == "set":  # one finding muted by hand
            return []
        config = keys.get("muteconfig")
        text = config.get("filter") if isinstance(config, Mapping) else keys.get("filter")
        if isinstance(text, str) and not _FINDING_NARROWING.search(text):
            label = f"{noun} {keys.get('muteconfigid')!r}" if keys.get("muteconfigid") else noun
            return [f"{label} mutes findings of every kind ({text.strip() or 'no filter'})"]
        return []
    if {"filter", "filters", "suppression", "archive"} & set(words) or "rule" in words:
        outcome = str(keys.get("action") or keys.get("filteraction") or "").lower()
        criteria = next((v for k, v in keys.items() if "criteria" in k or k == "filter"), None)
        archive = outcome in ("archive", "suppress") or "archive" in words
        if archive and not _criteria_narrow(criteria):
            return [f"{label} archives every finding"]
        return []
    found: list[str] = []
    for path, value in _flat(request):
        leaf = path.rpartition(".")[2].lower()
        if leaf in ("enable", "enabled", "autoenable") and _state(value) is False:
            found.append(f"{noun} switched off ({leaf}: false)")
    for feature in keys.get("features") or keys.get("datasources") or []:
        if isinstance(feature, Mapping) and str(feature.get("status", "")).lower() in _STATUS_OFF:
            found.append(
                f"{noun}: {feature.get('name', 'a protection plan')} switched off "
                f"(status: {feature.get('status')})"
            )
    if str(keys.get("status", "")).lower() in _STATUS_OFF:
        found.append(f"{noun} switched off (status: {keys.get('status')})")
    return found


def _constraint_name(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return text.strip().rpartition("/")[2] or None


def org_policy_weakenings(action: str, metadata: str | None) -> list[str]:
    """What an organisation policy change (Google Cloud's ``SetOrgPolicy``,
    ``ClearOrgPolicy`` and Org Policy v2's ``CreatePolicy``, ``UpdatePolicy`` and
    ``DeletePolicy``) took away, one phrase each: a boolean constraint no longer
    enforced, a list constraint that allows every value, a policy cleared, deleted or
    reset to the default (which enforces nothing for most constraints).  A rule with a
    condition (an exception for some resources) is left out.

    Examples
    --------
    >>> meta = lambda r: json.dumps({"original": {"protoPayload": {"request": r}}})
    >>> org_policy_weakenings("policy.update", meta({"policy": {
    ...     "constraint": "constraints/iam.disableServiceAccountKeyCreation",
    ...     "booleanPolicy": {"enforced": False}}}))
    ['organization policy iam.disableServiceAccountKeyCreation no longer enforced']
    >>> org_policy_weakenings("policy.update", meta({"policy": {
    ...     "name": "projects/p/policies/iam.allowedPolicyMemberDomains",
    ...     "spec": {"rules": [{"allowAll": True}]}}}))
    ['organization policy iam.allowedPolicyMemberDomains allows every value']
    >>> org_policy_weakenings("orgpolicy_policy.delete", meta({
    ...     "name": "projects/p/policies/compute.requireOsLogin"}))
    ['organization policy compute.requireOsLogin deleted (back to its default)']
    >>> org_policy_weakenings("policy.update", meta({"policy": {
    ...     "name": "projects/p/policies/compute.vmExternalIpAccess", "spec": {"rules": [
    ...         {"allowAll": True, "condition": {"expression": "resource.matchTag('a/b', 'c')"}},
    ...         {"denyAll": True}]}}}))
    []
    """
    request = _request(metadata)
    if not isinstance(request, Mapping):
        return []
    verb = action.rpartition(".")[2]
    policy = request.get("policy")
    policy = policy if isinstance(policy, Mapping) else {}
    name = _constraint_name(
        policy.get("constraint") or policy.get("name") or request.get("constraint")
        or request.get("name")
    )  # fmt: skip
    if name is None:
        return []
    label = f"organization policy {name}"
    if verb in ("clear", "delete"):
        return [f"{label} {'cleared' if verb == 'clear' else 'deleted'} (back to its default)"]
    found: list[str] = []
    boolean = policy.get("booleanPolicy")
    if isinstance(boolean, Mapping) and _state(boolean.get("enforced")) is False:
        found.append(f"{label} no longer enforced")
    listed = policy.get("listPolicy")
    if isinstance(listed, Mapping) and str(listed.get("allValues", "")).upper() == "ALLOW":
        found.append(f"{label} allows every value")
    spec = policy.get("spec")
    if isinstance(spec, Mapping):
        if spec.get("reset") is True:
            found.append(f"{label} reset to its default")
        rules = spec.get("rules")
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, Mapping) or rule.get("condition"):
                continue
            if "enforce" in rule and _state(rule.get("enforce")) is False:
                found.append(f"{label} no longer enforced")
            if rule.get("allowAll") is True:
                found.append(f"{label} allows every value")
    return list(dict.fromkeys(found))


def _org_policy_action(action: str) -> bool:
    words = action_words(action)[0]
    return "orgpolicy" in words or {"org", "policy"} <= set(words)


#: Authenticators whose loss makes sign-in no weaker (or stronger): a phone call, a text,
#: an e-mail, a security question, the password itself.
_WEAK_FACTORS: Final = r"(?i)\bsms\b|phone|voice|e-?mail|question|password"


def _authenticators_off(events: Events) -> pl.LazyFrame | None:
    """An organisation's authenticator (Okta's ``security.authenticator.lifecycle.
    deactivate``) switched off, unless it is one of the weak factors (``_WEAK_FACTORS``),
    whose removal is how organisations move to stronger ones: with Okta Verify or
    security keys gone, users sign in with what is left.  ``None`` when there is none."""
    actions = actions_where(
        events,
        lambda a: (
            "authenticator" in action_words(a)[0]
            and a.rpartition(".")[2] in ("deactivate", "delete", "disable")
        ),
    )
    if not actions:
        return None
    cols = ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "targets")
    name = (
        pl.col("targets")
        .list.eval(pl.coalesce(pl.element().struct.field("name"), pl.element().struct.field("id")))
        .list.first()
    )
    found = (
        subset(events, cols, pl.col("action").is_in(actions))
        .with_columns(_name=name.fill_null("an authenticator"))
        .filter(~pl.col("_name").str.contains(_WEAK_FACTORS))
        .collect()
    )
    if found.height == 0:
        return None
    what = pl.concat_list(
        pl.format("authenticator {} switched off ({})", q(pl.col("_name")), pl.col("action"))
    )
    return found.lazy().with_columns(_what=what).drop("_name", "targets")


def _versioning_suspended(events: Events) -> pl.LazyFrame | None:
    """A bucket's versioning suspended, or its MFA delete disabled, in the producer's
    request (CloudTrail's ``PutBucketVersioning``): how ransomware in the cloud makes
    sure that the objects it overwrites or deletes cannot be restored.  ``None`` when
    there is none."""
    actions = actions_where(events, lambda a: "versioning" in action_words(a)[0])
    if not actions:
        return None
    cols = ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "metadata")
    config = "$.original.requestParameters.VersioningConfiguration."
    status = pl.col("metadata").str.json_path_match(config + "Status").str.to_lowercase()
    mfa = pl.col("metadata").str.json_path_match(config + "MfaDelete").str.to_lowercase()
    found = (
        subset(events, cols, pl.col("action").is_in(actions))
        .with_columns(_status=status, _mfa=mfa)
        .filter((pl.col("_status") == "suspended") | (pl.col("_mfa") == "disabled"))
        .collect()
    )
    if found.height == 0:
        return None
    what = pl.concat_list(
        pl.when(pl.col("_status") == "suspended").then(
            pl.format("bucket versioning suspended ({})", pl.col("action"))
        ),
        pl.when(pl.col("_mfa") == "disabled").then(
            pl.format("bucket MFA delete disabled ({})", pl.col("action"))
        ),
    ).list.drop_nulls()
    return found.lazy().with_columns(_what=what).drop("_status", "_mfa", "metadata")


#: Okta's System Log events of sign-on and authentication policy rules, and of network
#: zones, as the Okta import keeps them (``metadata.source_action``).
_OKTA_EVENTS: Final = r'"source_action"\s*:\s*"(?:policy\.rule\.|policy\.lifecycle\.|zone\.)'
#: Words of a key that say which side of a change it holds.
_BEFORE_WORDS: Final = frozenset(("before", "old", "previous", "prior", "from", "was"))
_AFTER_WORDS: Final = frozenset(("after", "new", "current", "to", "now", "updated"))
#: A rule's action values that ask for more than a password, and the one that does not.
_CHALLENGING: Final = frozenset(
    ("challenge", "mfa", "require_mfa", "mfa_required", "2fa", "deny", "step_up", "reauthenticate")
)
#: An address or network (``a.b.c.d/n``, an IPv6 prefix) or a range (``a.b.c.d-e.f.g.h``).
_ADDRESS: Final = re.compile(r"^[0-9a-fA-F:.]+(?:/\d{1,3})?(?:\s*-\s*[0-9a-fA-F:.]+)?$")
#: Words of a zone's name or usage that make it a block list: broad ranges there block.
_BLOCKING: Final = re.compile(r"(?i)block|deny|blacklist|banned|bad")


def _sided(
    original: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The settings an Okta event's record gives (``debugContext.debugData`` and its
    targets' ``detailEntry``), split into the state before and after the change: a key
    with ``old``/``before``/``previous`` (or under such an object) is the earlier value,
    one with ``new``/``after``/``current`` or none the new one; and how each setting was
    written in the record."""
    shown: dict[str, str] = {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    holders: list[Any] = []
    debug = original.get("debugContext")
    holders.append(debug.get("debugData") if isinstance(debug, Mapping) else None)
    targets = original.get("target")
    for target in targets if isinstance(targets, list) else []:
        if isinstance(target, Mapping):
            holders.append(target.get("detailEntry"))
    for holder in holders:
        if not isinstance(holder, Mapping):
            continue
        for path, value in _flat(holder):
            words = _words(path)
            rest = [w for w in words if w not in _BEFORE_WORDS | _AFTER_WORDS]
            name = "_".join(rest)
            if not name:
                continue
            side = before if _BEFORE_WORDS.intersection(words) else after
            value = json_or_none(value) if isinstance(value, str) and value[:1] in "[{" else value
            shown.setdefault(name, path.rpartition(".")[2])
            if isinstance(value, Mapping):
                for inner, leaf in _flat(value):
                    inner_words = _words(inner)
                    inner_side = before if _BEFORE_WORDS.intersection(inner_words) else side
                    inner_rest = [w for w in inner_words if w not in _BEFORE_WORDS | _AFTER_WORDS]
                    inner_side["_".join([*rest, *inner_rest])] = leaf
            else:
                side[name] = value
    return before, after, shown


def _addresses(value: Any) -> list[str]:
    values = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    out = []
    for v in values:
        if isinstance(v, Mapping):  # Okta's {"type": "CIDR", "value": "10.0.0.0/8"}
            v = v.get("value")
        if isinstance(v, str) and _ADDRESS.match(v.strip()) and any(c in v for c in ".:"):
            out.append(v.strip())
    return out


def _size(address: str) -> float:
    """How many IPv4 /32s (or IPv6 /64s) an address, network or range spans."""
    try:
        if "-" in address:
            lo, hi = (ipaddress.ip_address(p.strip()) for p in address.split("-", 1))
            span = abs(int(hi) - int(lo)) + 1
            return span if lo.version == 4 else span / 2.0**64
        net = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return 0.0
    return float(net.num_addresses) if net.version == 4 else net.num_addresses / 2.0**64


def okta_weakenings(action: str, metadata: str | None, broad_prefix: int = 16) -> list[str]:
    """What an Okta policy rule or network zone change did to sign-on, one phrase each,
    read from the record (``debugData``, the targets' ``detailEntry``): a rule that now
    asks for one factor (``policyRuleFactorMode`` ``1FA``, ``requireFactor`` false, its
    action from a challenge to ``ALLOW``), a zone that is not a block list given a range
    as broad as an IPv4 ``/broad_prefix`` or broader.  A rule that asks for more, a zone
    given a narrow range, and what the record does not show say nothing.

    >>> def meta(event_type, targets, debug=None):
    ...     return json.dumps({"original": {"eventType": event_type, "target": targets,
    ...                                     "debugContext": {"debugData": debug or {}}}})
    >>> okta_weakenings("policy.update", meta("policy.rule.update", [{"type": "PolicyRule",
    ...     "displayName": "Require MFA", "detailEntry": {"policyRuleFactorMode": "1FA"}}]))
    ["policy rule 'Require MFA' asks for one factor only (policyRuleFactorMode: 1FA)"]
    >>> okta_weakenings("policy.update", meta("policy.rule.update", [{"type": "PolicyRule",
    ...     "displayName": "Require MFA", "detailEntry": {"policyRuleFactorMode": "2FA"}}]))
    []
    >>> okta_weakenings("zone.update", meta("zone.update", [{"type": "Zone",
    ...     "displayName": "Trusted"}], {"gateways": "0.0.0.0/1, 128.0.0.0/1"}))
    ["network zone 'Trusted' now trusts 0.0.0.0/1, 128.0.0.0/1"]
    >>> okta_weakenings("zone.update", meta("zone.update", [{"type": "Zone",
    ...     "displayName": "Trusted"}], {"gateways": "198.51.100.0/28"}))
    []
    """
    meta = json_or_none(metadata)
    original = meta.get("original") if isinstance(meta, Mapping) else None
    if not isinstance(original, Mapping):
        return []
    event_type = str(original.get("eventType", ""))
    targets = [t for t in original.get("target") or [] if isinstance(t, Mapping)]

    def named(*types: str) -> str:
        for wanted in types:  # the most specific first: the rule before its policy
            for t in targets:
                if str(t.get("type", "")).lower() == wanted:
                    return repr(str(t.get("displayName") or t.get("id") or "?"))
        return "?"

    before, after, shown = _sided(original)
    found: list[str] = []
    if event_type.startswith("policy."):
        if event_type.rpartition(".")[2] not in ("update", "create", "add", "activate"):
            return []
        rule = named("policyrule", "policy_rule", "rule", "policyentity", "policy")
        for name, new in after.items():
            words = _words(name)
            old = before.get(name, _MISSING)
            text = str(new).strip().lower()
            name = shown.get(name, name)
            if {"factor", "mode"} <= set(words) or "factormode" in words:
                if text == "1fa" and str(old).strip().lower() != "1fa":
                    found.append(f"policy rule {rule} asks for one factor only ({name}: {new})")
            elif {"require", "factor"} <= set(words) or (
                {"required", "require"} & set(words) and _is_control(words)
            ):
                if _state(new) is False and _state(old) is not False:
                    found.append(f"policy rule {rule} no longer requires a second factor ({name}: "
                                 f"{_show(old)} → {_show(new)})")  # fmt: skip
            elif words[-1:] in (["access"], ["action"]) and old is not _MISSING:
                if text == "allow" and str(old).strip().lower() in _CHALLENGING:
                    found.append(f"policy rule {rule} now allows what it challenged ({name}: "
                                 f"{_show(old)} → {_show(new)})")  # fmt: skip
            elif old is not _MISSING and _is_control(words) and _weakening(words, old, new):
                found.append(f"policy rule {rule}: {name} {_show(old)} → {_show(new)}")
        return list(dict.fromkeys(found))
    if event_type.startswith("zone.") and event_type.rpartition(".")[2] in ("update", "create"):
        zone = named("zone", "networkzone", "network_zone")
        usage = " ".join(str(v) for v in (zone, *after.values()) if isinstance(v, str))
        if _BLOCKING.search(usage):
            return []
        old_ranges = {a for v in before.values() for a in _addresses(v)}
        added = [a for v in after.values() for a in _addresses(v) if a not in old_ranges]
        broad = [a for a in dict.fromkeys(added) if _size(a) >= 2.0 ** (32 - broad_prefix)]
        if broad:
            found.append(f"network zone {zone} now trusts {', '.join(broad[:5])}")
    return found


@register_detector("security_control_weakened", title="Security control weakened", severity="high")
def security_control_weakened(
    events: Events, *, gap: str | timedelta = "1h", broad_prefix: int = 16
) -> pl.DataFrame:
    """An organisation-wide security control switched off or relaxed: multi-factor
    or single sign-on enforcement, an IP allowlist, password or lockout policy, or
    encryption.

    Each event's ``changes`` are compared setting by setting; a setting whose name
    is of that family and whose value went from on to off (or, for names such as
    ``mfa_optional``, from off to on), an allowlist emptied or opened to every
    address, a lower minimum password length or a higher lockout threshold, is a
    weakened control; so is an action that switches such a policy off by name
    (``sso.disable``).  One actor's such events no more than ``gap`` apart make one
    finding: high when one succeeded, medium when every attempt was denied or failed.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "settings.update", "actor": {"id": "mallory"},
    ...     "changes": {"before": {"security": {"mfaRequired": True}},
    ...                 "after": {"security": {"mfaRequired": False}}}}])
    >>> print(security_control_weakened(df)["summary"][0])
    'mallory' weakened security controls at 2026-01-05 09:00 UTC: security.mfaRequired true → false.
    """
    g = duration(gap, name="gap")
    candidates = actions_matching(events, pl.col("action").str.contains(_MENTIONS))
    mentioned = pl.col("changes").str.contains(_MENTIONS).fill_null(False)
    lf = subset(
        events,
        ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "changes"),
        mentioned | pl.col("action").is_in(candidates),
    )
    hits = classified(lf, ["action", "changes"], weakened_controls)
    monitoring = actions_where(events, _monitoring_action)
    requested = classified(
        subset(
            events,
            ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "metadata"),
            pl.col("action").is_in(monitoring),
        ),
        ["action", "metadata"],
        request_weakenings,
    ) if monitoring else None  # fmt: skip
    org = actions_where(events, _org_policy_action)
    org_cols = ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "metadata")
    relaxed = classified(
        subset(
            events,
            org_cols,
            pl.col("action").is_in(org)
            | (pl.col("action") == "policy.update")
            & pl.col("metadata").str.contains(r"constraints/|/policies/").fill_null(False),
        ),
        ["action", "metadata"],
        org_policy_weakenings,
    )
    if not 0 <= broad_prefix <= 32:
        raise ValueError(f"broad_prefix must be between 0 and 32, not {broad_prefix!r}")
    okta = classified(
        subset(
            events,
            org_cols,
            pl.col("metadata").str.contains(_OKTA_EVENTS).fill_null(False),
        ),
        ["action", "metadata"],
        functools.partial(okta_weakenings, broad_prefix=broad_prefix),
    )
    extra = (requested, relaxed, okta, _versioning_suspended(events), _authenticators_off(events))
    for more in extra:
        if more is not None:
            more = more.drop("metadata", strict=False)
            hits = more if hits is None else pl.concat([hits, more], how="diagonal")
    # a provider's change read as weakening already is not reported as unseen too
    unseen = _federation_unseen(events, g, None if hits is None else hits.select("event_id"))
    if hits is None:
        return empty() if unseen is None else finalize(unseen, "security_control_weakened")
    found = classified_episodes(hits, g).with_columns(
        severity=pl.when("_done").then(pl.lit("high")).otherwise(pl.lit("medium")),
        summary=pl.format(
            "{} {} security controls at {}: {}.",
            q(pl.col("actor_id")),
            pl.when("_done").then(pl.lit("weakened")).otherwise(pl.lit("tried to weaken")),
            fmt_time(pl.col("first_seen")),
            first_few(pl.col("_what"), 5),
        ),
    )
    if unseen is not None:
        cols = ["tenant_id", "actor_id", "first_seen", "last_seen", "event_ids", "severity",
                "summary"]  # fmt: skip
        found = pl.concat([found.select(cols), unseen.lazy().select(cols)], how="vertical")
    return finalize(found, "security_control_weakened")


def _federation_action(action: str) -> bool:
    """A single sign-on provider created or changed (``sso.update``, CloudTrail's
    ``iam_saml_provider.update``), not deleted."""
    noun, _, verb = action.rpartition(".")
    words = _words(noun)
    first = verb.split("_")[0]
    return bool(_FEDERATION.intersection(words)) and first in _PROVIDER_VERBS


#: Verbs that set a provider (switching single sign-on on is not one).
_PROVIDER_VERBS: Final = frozenset(
    ("update", "create", "put", "modify", "set", "add", "replace", "configure", "change",
     "edit", "patch")
)  # fmt: skip


#: A producer's name of a change to a provider that removes it rather than sets it.
_REMOVING: Final = r"(?i)delete|remove|deactivate|disable|destroy"


def _federation_unseen(
    events: Events, g: timedelta, seen: pl.LazyFrame | None
) -> pl.DataFrame | None:
    """Single sign-on provider settings changed, or a provider added, where the record
    shows no before and after (GitHub's ``org.update_saml_provider_settings``, Okta's
    ``system.idp.lifecycle.create``, CloudTrail's ``UpdateSAMLProvider``): the identity
    provider that vouches for the organisation's users may have been replaced, which no
    setting's value tells.  High from a network or a country its actor had not made its
    own; medium from its usual places (an administrator rotating the provider's
    certificate).  Candidate findings, or None."""
    actions = actions_where(events, _federation_action)
    if not actions:
        return None
    keys = ["tenant_id", "actor_id"]
    source = pl.col("metadata").str.json_path_match("$.source_action")
    candidates = (
        subset(
            events,
            (*keys, "event_id", "occurred_at", "action", "outcome", "changes", "metadata",
             "source_ip", "user_agent", "geo_country"),
            pl.col("action").is_in(actions),
            pl.col("outcome") == "success",
            pl.col("changes").is_null() & pl.col("actor_id").is_not_null(),
        )
        .with_columns(_source=pl.coalesce(source, pl.col("action")))
        .filter(~pl.col("_source").str.contains(_REMOVING).fill_null(False))
        .drop("metadata", "changes")
    )  # fmt: skip
    if seen is not None:
        candidates = candidates.join(seen, on="event_id", how="anti")
    rows = candidates.collect()
    if rows.height == 0:
        return None
    found = (
        episodes(away_from_home(rows.lazy(), events, keys, g, by_tenant=True), keys, g)
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_source").unique(maintain_order=True),
            pl.col("source_ip").filter("_new_net").unique(maintain_order=True).alias("_ips"),
            pl.col("_country").filter("_new_country").unique(maintain_order=True)
            .alias("_places"),
        )
        .with_columns(_away=(pl.col("_ips").list.len() + pl.col("_places").list.len()) > 0)
        .select(
            *keys, "first_seen", "last_seen", "event_ids",
            pl.when("_away").then(pl.lit("high")).otherwise(pl.lit("medium")).alias("severity"),
            pl.format(
                "{} changed the single sign-on provider at {} ({}), and the record does not "
                "show what was set: the identity provider that vouches for the "
                "organisation's users may have been replaced{}{}.",
                q(pl.col("actor_id")),
                fmt_time(pl.col("first_seen")),
                first_few(pl.col("_source"), 3, ", "),
                pl.when(pl.col("_ips").list.len() > 0)
                .then(pl.format("; from a network it had never made its own ({})",
                                first_few(pl.col("_ips"), 3, ", ")))
                .otherwise(pl.lit("")),
                pl.when(pl.col("_places").list.len() > 0)
                .then(pl.format("; from a country it had never made its own ({})",
                                first_few(pl.col("_places"), 3, ", ")))
                .otherwise(pl.lit("")),
            ).alias("summary"),
        )
        .collect()
    )  # fmt: skip
    return found if found.height else None
