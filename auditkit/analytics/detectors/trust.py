"""External access: a grant to an account or identity outside the organisation.

An intruder who expects to lose the credentials they came in with leaves a door that
does not depend on them: a role that trusts their own AWS account, a snapshot or an
image shared with it, a secret, key or bucket whose policy lets it in, a Google Cloud
project that makes their Gmail address an owner.  None of these is public (that is
:func:`~auditkit.analytics.detectors.exposure.public_exposure`'s), and each looks
like an ordinary policy change.  What gives it away is the grantee: an account or an
e-mail domain that the tenant's own trail has never shown acting.

The detector reads the request of the producer's original record (CloudTrail's
``requestParameters``, with the policy documents kept in it as text) for the
principals a grant names (``Principal``, ``userId``, ``valuesToAdd``, ``principal``,
``granteePrincipal``, ``principals``, ``AWSAccountId``), leaving out denials,
conditions and what is removed; and the principal targets of a ``role.grant``
(Google Cloud's binding deltas as imported: ``user:``, ``group:``, ``domain:``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, Final

import polars as pl

from auditkit.analytics.detectors.common import (
    EVERYONE_GROUP,
    Events,
    T,
    action_words,
    actions_where,
    away_from_home,
    began,
    classified,
    duration,
    empty,
    episodes,
    everyone_groups,
    finalize,
    finding_span,
    first_few,
    first_time,
    fmt_between,
    fmt_time,
    is_person,
    json_or_none,
    kind,
    lazy,
    network,
    network_firsts,
    new_network,
    noun_terms,
    producer_request,
    q,
    subset,
    verb,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["CONSUMER_DOMAINS", "consumer_domain", "external_access", "external_grantees"]

#: Words of an action that grants: a policy, a permission, a share, a trust.
_GRANT_WORDS: Final = frozenset(
    ("policy", "policies", "permission", "permissions", "attribute", "share", "shares",
     "grant", "grants", "trust", "principal", "principals", "acl", "role", "assume",
     "invite", "invites", "invitation", "invitations", "ownership", "entry", "entries",
     "replication", "peering", "transfer")
)  # fmt: skip
_WRITE_VERBS: Final = frozenset(
    ("put", "create", "update", "modify", "add", "attach", "set", "grant", "replace",
     "associate", "share", "enable", "apply", "insert", "invite", "transfer")
)  # fmt: skip
#: Keys (lower case, letters and digits only) whose values name grantees.
_GRANTEE_KEYS: Final = frozenset(
    ("principal", "principals", "aws", "userid", "userids", "accountid", "accountids",
     "awsaccountid", "valuestoadd", "granteeprincipal", "targetaccountid", "member",
     "members", "principalarn", "peerownerid", "account")
)  # fmt: skip
#: Keys whose subtree names no grantee: restrictions, and what is taken away.
_SKIP: Final = frozenset(
    ("condition", "conditions", "remove", "valuestoremove", "revoke", "notprincipal",
     "useridentity", "responseelements", "sourceaccount", "sourcearn")
)  # fmt: skip
_ACCOUNT_ARN: Final = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")
_ACCOUNT: Final = re.compile(r"^\d{12}$")
_MEMBER: Final = re.compile(r"^(?:user|group|domain):(?:[^@\s]+@)?([A-Za-z0-9.-]+\.[A-Za-z]{2,})$")
#: Roles that make a member an administrator of what they are granted.
_PRIVILEGED: Final = re.compile(r"(?i)owner|editor|admin|securityadmin|iam\.|privileged")
_DEEPEST: Final = 24
#: Google Cloud resources that are a copy of the data, by their resource name.
_COPIES: Final = re.compile(r"/(?:disks|images|snapshots|machineImages)/")
#: Consumer and free e-mail domains: anyone can open an address there, so one member
#: who signs in with such an address never makes the domain the organisation's own;
#: only that very address is.  Families spelt with a country's top-level domain
#: (``yahoo.co.uk``, ``gmx.de``, ``yandex.ru``, ``hotmail.fr``) are matched by name.
CONSUMER_DOMAINS: Final = frozenset(
    ("gmail.com", "googlemail.com", "googlegroups.com", "outlook.com", "hotmail.com",
     "live.com", "msn.com", "passport.com", "yahoo.com", "ymail.com", "rocketmail.com",
     "aol.com", "aim.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com",
     "protonmail.ch", "pm.me", "tutanota.com", "tutanota.de", "tutamail.com", "tuta.io",
     "tuta.com", "gmx.com", "gmx.net", "gmx.de", "web.de", "mail.com", "email.com",
     "zoho.com", "zohomail.com", "yandex.com", "yandex.ru", "ya.ru", "mail.ru", "bk.ru",
     "inbox.ru", "list.ru", "rambler.ru", "qq.com", "foxmail.com", "163.com", "126.com",
     "yeah.net", "sina.com", "sina.cn", "sohu.com", "aliyun.com", "naver.com", "daum.net",
     "hanmail.net", "fastmail.com", "fastmail.fm", "hey.com", "duck.com", "mailfence.com",
     "posteo.de", "posteo.net", "disroot.org", "riseup.net", "cock.li", "t-online.de",
     "freenet.de", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr",
     "libero.it", "virgilio.it", "alice.it", "tiscali.it", "seznam.cz", "wp.pl", "o2.pl",
     "onet.pl", "interia.pl", "rediffmail.com", "comcast.net", "verizon.net", "att.net",
     "sbcglobal.net", "cox.net", "charter.net", "btinternet.com", "sky.com",
     "virginmedia.com", "bigpond.com", "optusnet.com.au", "shaw.ca", "rogers.com",
     "uol.com.br", "bol.com.br", "terra.com.br", "mailinator.com", "guerrillamail.com",
     "sharklasers.com", "10minutemail.com", "temp-mail.org", "yopmail.com")
)  # fmt: skip
_CONSUMER_FAMILIES: Final = re.compile(
    r"^(?:gmail|googlemail|hotmail|outlook|live|msn|windowslive|yahoo|ymail|aol|gmx|"
    r"yandex|protonmail|proton|icloud|zoho|mail|web|tutanota|tuta|rediffmail)"
    r"\.(?:com?\.)?[a-z]{2,3}$"
)


def consumer_domain(domain: str) -> bool:
    """Whether ``domain`` is a consumer or free e-mail domain (:data:`CONSUMER_DOMAINS`,
    or one of their families under a country's top-level domain).

    >>> [consumer_domain(d) for d in ("gmail.com", "GMX.de", "yahoo.co.uk", "acme.io",
    ...                               "mail.ru", "googlemail.com", "mailchimp.com")]
    [True, True, True, False, True, True, False]
    """
    d = domain.strip().strip(".").lower()
    return d in CONSUMER_DOMAINS or bool(_CONSUMER_FAMILIES.match(d))


def _consumer(domain: pl.Expr) -> pl.Expr:
    """:func:`consumer_domain` as an expression over lower-case domains."""
    return (
        domain.is_in(list(CONSUMER_DOMAINS)) | domain.str.contains(_CONSUMER_FAMILIES.pattern)
    ).fill_null(False)


def _own_key(address: pl.Expr, domain: pl.Expr) -> pl.Expr:
    """What makes an e-mail identity the tenant's own: its domain, or for a consumer
    domain (:data:`CONSUMER_DOMAINS`) the address itself."""
    return pl.when(_consumer(domain) & address.is_not_null()).then(address).otherwise(domain)


_LONGEST_TEXT: Final = 1 << 20


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _granting(action: str) -> bool:
    """Whether an action adds to a policy, a share or a trust (by its words).

    >>> [_granting(a) for a in ("policy.update", "ec2_snapshot_attribute.modify",
    ...                         "s3_bucket_policy.delete", "document.read")]
    [True, True, False, False]
    """
    noun, verb = action_words(action)
    return bool(verb) and verb[0] in _WRITE_VERBS and bool(_GRANT_WORDS & {*noun, *verb})


def _accounts(value: Any) -> Iterator[str]:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:012d}"
        if not isinstance(v, str):
            continue
        v = v.strip()
        match = _ACCOUNT_ARN.match(v)
        if match:
            yield match.group(1)
        elif _ACCOUNT.match(v):
            yield v


def _walk(
    node: Any, granting: bool = False, vendor: bool = False, depth: int = 0
) -> Iterator[tuple[str, bool]]:
    """AWS account ids that ``node`` (a request) grants something to, each with whether
    its statement asks for an external id (``sts:ExternalId``: how a SaaS vendor's
    integration role is set up, which an intruder's backdoor has no need of)."""
    if depth > _DEEPEST:
        return
    if isinstance(node, str) and node[:1] in "{[" and len(node) < _LONGEST_TEXT:
        node = json_or_none(node)  # a policy document kept as text
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, granting, vendor, depth + 1)
        return
    if not isinstance(node, Mapping):
        if granting:
            yield from ((a, vendor) for a in _accounts(node))
        return
    effect = next((v for k, v in node.items() if _key(k) == "effect"), None)
    if isinstance(effect, str) and effect.strip().lower() == "deny":
        return
    condition = next((v for k, v in node.items() if _key(k) == "condition"), None)
    if condition is not None and "externalid" in _key(json.dumps(condition, default=str)):
        vendor = True
    for k, v in node.items():
        key = _key(k)
        if key in _SKIP:
            continue
        yield from _walk(v, granting or key in _GRANTEE_KEYS, vendor, depth + 1)


def _door(action: str, request: Any) -> bool:
    """Whether a grant lets the grantee in as itself or take a copy of the data: a
    role it may assume, a snapshot, an image or a disk shared with it, a cluster's
    access entry (EKS), a bucket replicated to it, a domain transferred to it (rather
    than a resource policy a partner reads through)."""
    noun, verb = (set(w) for w in action_words(action))
    if noun & {"snapshot", "snapshots", "image", "images", "ami", "role", "roles", "disk",
               "disks", "machineimages", "entry", "entries", "replication"}:  # fmt: skip
        return True
    if "transfer" in verb:
        return True
    return "sts:AssumeRole" in json.dumps(request, default=str)


def _members(node: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """``(member, role)`` of the bindings of a Google Cloud IAM policy in a request
    (``setIamPolicy`` of a disk, an image, a snapshot: their services log the whole
    policy, not a delta), for members of a domain (``user:``, ``group:``, ``domain:``)."""
    if depth > _DEEPEST:
        return
    if isinstance(node, list):
        for item in node:
            yield from _members(item, depth + 1)
    elif isinstance(node, Mapping):
        role, members = node.get("role"), node.get("members")
        if isinstance(role, str) and isinstance(members, list):
            yield from ((m, role) for m in members if isinstance(m, str) and _MEMBER.match(m))
        for k, v in node.items():
            if _key(k) not in _SKIP:
                yield from _members(v, depth + 1)


#: CloudTrail calls that make the account trust an outside issuer of identities: who
#: holds that identity provider or certificate authority can sign in as the roles that
#: trust it (Stratus Red Team's iam-create-backdoor-identity-provider and
#: rolesanywhere-create-trust-anchor), with the request key that names it.
_ISSUERS: Final = {
    "CreateOpenIDConnectProvider": ("url", "identity provider"),
    "CreateSAMLProvider": ("name", "SAML identity provider"),
    "CreateTrustAnchor": ("name", "certificate authority"),
}


def _pool_issuer(payload: Mapping[str, Any]) -> str | None:
    """The outside issuer a Google Cloud workload identity pool provider trusts (made or
    changed): whoever holds it gets the service accounts the pool may act as.

    >>> _pool_issuer({"methodName": "google.iam.v1.WorkloadIdentityPools."
    ...     "CreateWorkloadIdentityPoolProvider", "request": {"workloadIdentityPoolProvider":
    ...     {"oidc": {"issuerUri": "https://token.evil.example/"}}}})
    'identity provider token.evil.example'
    """
    method = str(payload.get("methodName", ""))
    request = payload.get("request")
    if not method.endswith(("CreateWorkloadIdentityPoolProvider",
                            "UpdateWorkloadIdentityPoolProvider")) or not isinstance(
        request, Mapping
    ):  # fmt: skip
        return None
    provider = request.get("workloadIdentityPoolProvider")
    if not isinstance(provider, Mapping):
        return None
    oidc, saml, aws = provider.get("oidc"), provider.get("saml"), provider.get("aws")
    if isinstance(oidc, Mapping) and isinstance(oidc.get("issuerUri"), str):
        issuer = re.sub(r"^https?://", "", oidc["issuerUri"].strip()).rstrip("/")
        return f"identity provider {issuer}" if issuer else None
    if isinstance(saml, Mapping):
        return "SAML identity provider " + str(request.get("workloadIdentityPoolProviderId", ""))
    if isinstance(aws, Mapping) and aws.get("accountId") is not None:
        return f"account {aws['accountId']}"
    return None


def _trusted_issuer(meta: Any) -> str | None:
    """The outside issuer an event makes the account trust, as a grantee, or None.

    >>> _trusted_issuer({"original": {"eventName": "CreateOpenIDConnectProvider",
    ...     "requestParameters": {"url": "https://oidc.evil-ci.example"}}})
    'identity provider oidc.evil-ci.example'
    """
    original = meta.get("original") if isinstance(meta, Mapping) else None
    if not isinstance(original, Mapping):
        return None
    payload = original.get("protoPayload")
    if isinstance(payload, Mapping):
        return _pool_issuer(payload)
    if original.get("eventType") == "system.idp.lifecycle.create":
        # Okta: an identity provider added (the rogue IdP of cross-tenant impersonation);
        # whoever runs it signs in as the users it is allowed to vouch for
        targets = original.get("target")
        for t in targets if isinstance(targets, list) else []:
            if isinstance(t, Mapping) and t.get("type") == "IdentityProvider":
                name = t.get("displayName") or t.get("alternateId") or t.get("id")
                return f"identity provider {name}" if name else "an identity provider"
        return "an identity provider"
    issuer = _ISSUERS.get(str(original.get("eventName")))
    request = original.get("requestParameters")
    if issuer is None or not isinstance(request, Mapping):
        return None
    name = request.get(issuer[0])
    if not isinstance(name, str) or not name.strip():
        return None
    return f"{issuer[1]} {re.sub(r'^https?://', '', name.strip()).rstrip('/')}"


def external_grantees(action: str, metadata: str | None, principals: str | None) -> list[str]:
    """Who an event grants access to, each as ``H|grantee`` (a role to assume, a
    snapshot or image shared, a privileged role) or ``M|grantee`` (a resource policy,
    another role): ``account 123456789012`` for an AWS account named in the request,
    ``user:…``/``group:…``/``domain:…`` for a principal target of a ``role.grant``
    (whether they are outside the tenant is decided later).

    Examples
    --------
    >>> policy = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
    ...     "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}]}
    >>> external_grantees("policy.update", json.dumps({"original": {"requestParameters": {
    ...     "roleName": "admin", "policyDocument": json.dumps(policy)}}}), None)
    ['H|account 999988887777']
    >>> external_grantees("role.grant", '{"role": "roles/owner"}', "user:eve@gmail.com")
    ['H|user:eve@gmail.com']
    """
    found: list[str] = []
    meta = json_or_none(metadata)
    trusted = _trusted_issuer(meta)
    if trusted is not None:
        found.append(f"M|{trusted}")
    if isinstance(meta, Mapping) and _granting(action):
        original = meta.get("original")
        if isinstance(original, Mapping):
            request = producer_request(original)
            payload = original.get("protoPayload")
            resource = payload.get("resourceName") if isinstance(payload, Mapping) else None
            door = _door(action, request) or (
                isinstance(resource, str) and bool(_COPIES.search(resource))
            )
            found += [
                f"{'H' if door and not vendor else 'M'}|account {a}" for a, vendor in _walk(request)
            ]
            # a whole policy may repeat members granted before the trail began: high only
            # for a copy of the data shared
            found += [f"{'H' if door else 'M'}|{m}" for m, _ in _members(request)]
            # one member invited or added (Google Cloud's project ownership invite)
            member = request.get("member") if isinstance(request, Mapping) else None
            if isinstance(member, str) and _MEMBER.match(member):
                asked = str(request.get("role") or "") + " " + action
                found.append(f"{'H' if _PRIVILEGED.search(asked) else 'M'}|{member}")
    if principals and action == "role.grant":
        role = meta.get("role") if isinstance(meta, Mapping) else None
        level = "H" if isinstance(role, str) and _PRIVILEGED.search(role) else "M"
        found += [f"{level}|{p}" for p in principals.split("\n") if _MEMBER.match(p)]
    return list(dict.fromkeys(found))


def _own(events: Events) -> pl.LazyFrame:
    """Per tenant, the AWS accounts and e-mail domains of its own actors (a partner
    whose role acts in the tenant is known too); for an actor of a consumer e-mail
    domain (``gmail.com``...), only its own address.

    Only actors with an event that succeeded count: a call refused (logged all the
    same) would otherwise make any outsider's account the tenant's own, ahead of the
    share to it."""
    actors = (
        lazy(events, "tenant_id", "actor_id", "outcome")
        .filter(pl.col("outcome") == "success")
        .select("tenant_id", "actor_id")
        .drop_nulls()
        .unique()
        .collect()
    )
    account = pl.col("actor_id").str.extract(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):", 1)
    lowered = pl.col("actor_id").str.strip_chars().str.to_lowercase()
    domain = _own_key(
        lowered.str.extract(r"^([^@\s:/]+@[a-z0-9.-]+)$", 1),
        lowered.str.extract(r"@([a-z0-9.-]+)$", 1),
    )
    return (
        pl.concat(
            [
                actors.select("tenant_id", _grantee=pl.lit("account ") + account),
                actors.select("tenant_id", _domain=domain).select(
                    "tenant_id", _grantee=pl.col("_domain")
                ),
                actors.select("tenant_id", _grantee=pl.lit("account ") + pl.col("tenant_id")),
            ]
        )
        .drop_nulls()
        .unique()
        .lazy()
    )


@register_detector(
    "external_access", title="Access granted outside the organisation", severity="high"
)
def external_access(
    events: Events, *, min_history: str | timedelta = "7d", gap: str | timedelta = "1h"
) -> pl.DataFrame:
    """A grant to an AWS account, or to a Google identity of a domain, that none of the
    tenant's actors belongs to, the first time the trail shows it.

    A role whose trust policy lets another account assume it, a snapshot, image or
    database snapshot shared with an account, a secret, key, bucket or function whose
    policy lets one in, a project role for ``user:someone@gmail.com``.  Accounts and
    domains of the tenant's own actors (a partner's role that acts in the tenant
    included) are not outside; a consumer e-mail domain (:data:`CONSUMER_DOMAINS`:
    ``gmail.com``, ``outlook.com``...) never is the tenant's, only the very addresses of
    its actors are.  Only the first grant to each grantee is reported:
    high when the tenant's trail is at least ``min_history`` older than it, medium
    before (a policy written whole may repeat a grantee that was there before the
    trail began), medium too when every attempt was refused.  One actor's grants no
    more than ``gap`` apart make one finding.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "shop", "occurred_at": "2026-01-01T09:00:00Z",
    ...      "action": "user.login", "actor": {"id": "alice@shop.example"}},
    ...     {"tenant_id": "shop", "occurred_at": "2026-01-12T03:00:00Z",
    ...      "action": "role.grant", "actor": {"id": "alice@shop.example"},
    ...      "targets": [{"id": "user:eve@gmail.com", "type": "principal"}],
    ...      "metadata": {"role": "roles/owner"}}])
    >>> print(external_access(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'alice@shop.example' granted access to user:eve@gmail.com at 2026-01-12 03:00 UTC
    (role.grant): outside the organisation, and the first time the trail shows it.
    """
    history = duration(min_history, name="min_history")
    g = duration(gap, name="gap")
    found = [_outside_grants(events, history, g)]
    found += [f for f in (_apps_for_everyone(events, history), _outside_parties(events, history, g))
              if f is not None and f.height]  # fmt: skip
    if len(found) == 1:
        return found[0]
    return pl.concat(found).sort(["tenant_id", "first_seen", "finding_id"])


def _outside_grants(events: Events, history: timedelta, g: timedelta) -> pl.DataFrame:
    """The grants to outside grantees (:func:`external_access`), as findings."""
    grants = actions_where(events, _granting)
    rows = pl.col("action").is_in(grants) & pl.col("metadata").is_not_null()
    rows = rows | (pl.col("action") == "role.grant")
    # identity providers, trust anchors and Google Cloud's workload identity pool providers
    # (CloudTrail writes the providers as sso.update)
    issuing = actions_where(
        events,
        lambda a: (
            a == "sso.update"
            or bool(
                noun_terms(action_words(a)[0]) & {"trustanchor", "identityprovider", "poolprovider"}
            )
        ),
    )
    rows = rows | (pl.col("action").is_in(issuing) & pl.col("metadata").is_not_null())
    lf = subset(
        events,
        ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "metadata",
         "targets"),
        rows,
    )  # fmt: skip
    target = pl.element().struct
    lf = lf.with_columns(
        _principals=pl.col("targets")
        .list.eval(pl.when(target.field("type") == "principal").then(target.field("id")))
        .list.drop_nulls()
        .list.join("\n")
    ).drop("targets")
    hits = classified(lf, ["action", "metadata", "_principals"], external_grantees)
    if hits is None:
        return empty()
    grantee = pl.col("_grantee").str.to_lowercase()
    # a domain's own identities are its; a consumer domain's are only the addresses
    # seen succeeding in the tenant
    domain = _own_key(
        grantee.str.extract(r"^(?:user|group):([^@\s]+@[a-z0-9.-]+)$", 1),
        grantee.str.extract(r"@?([a-z0-9.-]+)$", 1),
    )
    own = _own(events)
    grants_each = (
        hits.explode("_what")
        .with_columns(
            _high=pl.col("_what").str.starts_with("H|"), _grantee=pl.col("_what").str.slice(2)
        )
        .drop("_what")
        .with_columns(
            _key=pl.when(pl.col("_grantee").str.starts_with("account "))
            .then(pl.col("_grantee"))
            .otherwise(domain)
        )
        .join(own, left_on=["tenant_id", "_key"], right_on=["tenant_id", "_grantee"], how="anti")
        .with_columns(_ok=pl.col("outcome") == "success")
        # the first grant to each grantee (the first that succeeded, else the first
        # try) and what followed it within the gap: later grants to a grantee the
        # trail has shown before are not news
        .with_columns(_t0=first_time("tenant_id", "_grantee", ok=pl.col("_ok")))
        .filter((pl.col("_t0") <= T) & (T - pl.col("_t0") <= g))
    )
    found = (
        episodes(
            grants_each.join(began(events), on="tenant_id", maintain_order="left"),
            ["tenant_id", "actor_id"],
            g,
        )
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("_ok").any().alias("_done"),
            pl.col("_high").any(),
            ((pl.col("_t0") - pl.col("_began")) >= history).all().alias("_old"),
            pl.col("_grantee").unique(maintain_order=True),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
        )
        .with_columns(pl.col("event_ids").list.unique(maintain_order=True))
        .with_columns(
            severity=pl.when(pl.col("_done") & pl.col("_old") & pl.col("_high"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} access to {} {} ({}): outside the organisation, and the first time the "
                "trail shows it.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("granted")).otherwise(pl.lit("tried to grant")),
                first_few(pl.col("_grantee"), 5, ", "),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
            ),
        )
    )
    return finalize(found, "external_access")


#: Groups that hold every user (``Everyone``, ``All Users``, ``Everyone@acme``).
_EVERYONE: Final = EVERYONE_GROUP
#: Nouns of applications (Okta's ``AppInstance``, an integration, an OAuth client).
_APP_WORDS: Final = frozenset(("app", "apps", "application", "applications", "integration",
                               "integrations", "appinstance", "oauth", "client"))  # fmt: skip


def _app_action(action: str) -> bool:
    """An action on an application: its creation (``integration.add``), an assignment,
    an update."""
    return bool(noun_terms(action_words(action)[0]) & _APP_WORDS)


def _assigns_group(action: str) -> bool:
    """An application assigned to a group (Okta's ``group.application_assignment.add``)."""
    nouns, verbs = action_words(action)
    terms = noun_terms(nouns)
    return (
        bool(terms & _APP_WORDS)
        and bool(terms & {"assignment", "assignments", "group", "groups"})
        and bool(set(verbs) & {"add", "create", "assign", "grant", "insert"})
    )


def _apps_for_everyone(events: Events, history: timedelta) -> pl.DataFrame | None:
    """An application created in the trail and assigned within a week to the group of
    every user (``Everyone``, ``All Users``: :data:`_EVERYONE`), by an actor who came
    from a network it had never used or had never managed an application before: the
    consent-phishing app offered to everyone, or a door that stays when the intruder's
    credentials go.  High when the tenant's trail began ``history`` before; medium
    before.  Findings of ``external_access``, or None."""
    assigning = actions_where(events, _assigns_group)
    if not assigning:
        return None
    keys = ["tenant_id", "actor_id"]
    target = pl.element().struct
    everyone = (
        subset(
            events,
            (*keys, "occurred_at", "event_id", "action", "outcome", "targets", "source_ip"),
            pl.col("action").is_in(assigning),
            pl.col("outcome") == "success",
            pl.col("actor_id").is_not_null(),
        )
        .with_columns(
            _group=pl.col("targets")
            .list.eval(
                pl.coalesce(target.field("name"), target.field("id")).filter(
                    kind(target.field("type")).str.contains("group")
                )
            )
            .list.first(),
            _app=pl.col("targets")
            .list.eval(target.field("id").filter(~kind(target.field("type")).str.contains("group")))
            .list.first(),
            _app_name=pl.col("targets")
            .list.eval(
                pl.coalesce(target.field("name"), target.field("id")).filter(
                    ~kind(target.field("type")).str.contains("group")
                )
            )
            .list.first(),
        )
        .filter(pl.col("_group").is_not_null())
        .drop("targets")
        .collect()
    )
    if everyone.height:  # named so, or holding the tenant's whole population
        whole = everyone_groups(events, everyone.lazy()).with_columns(_whole=pl.lit(True))
        everyone = (
            everyone.join(whole.collect(), on=["tenant_id", "_group"], how="left")
            .filter(pl.col("_group").str.contains(_EVERYONE) | pl.col("_whole").fill_null(False))
            .drop("_whole")
        )
    if everyone.height == 0:
        return None
    managing = actions_where(events, _app_action)
    made = (
        subset(
            events,
            (*keys, "occurred_at", "event_id", "action", "outcome", "targets"),
            pl.col("action").is_in([a for a in managing if a not in assigning]),
            pl.col("outcome") == "success",
        )
        .filter(
            (pl.col("action") == "integration.add")
            | verb(pl.col("action")).str.contains(r"(?i)^(?:create|add|insert)")
        )
        .select(
            "tenant_id",
            _app=pl.col("targets").list.eval(target.field("id")),
            _made=T,
            _made_id=pl.col("event_id"),
        )
        .explode("_app")
        .join(everyone.lazy().select("tenant_id", "_app").unique(), on=["tenant_id", "_app"])
        .sort("_made")
        .group_by("tenant_id", "_app")
        .agg(pl.all().first())
    )
    # when each actor first managed an application (the creation itself included)
    since = (
        lazy(events, *keys, "occurred_at", "action", "outcome")
        .filter(pl.col("action").is_in(managing) & (pl.col("outcome") == "success"))
        .join(everyone.lazy().select(keys).unique(), on=keys, how="semi")
        .group_by(keys)
        .agg(_managing_since=T.min())
    )
    nets = network_firsts(events, keys, everyone.lazy().select(keys).unique())
    found = (
        everyone.lazy()
        .join(made, on=["tenant_id", "_app"])
        .filter((pl.col("_made") <= T) & (T - pl.col("_made") <= timedelta(days=7)))
        .join(since, on=keys, how="left")
        .with_columns(_net=network(pl.col("source_ip")))
        .join(nets, on=[*keys, "_net"], how="left")
        .with_columns(
            _new_net=new_network(timedelta(hours=1)).fill_null(False),
            _first_app=pl.col("_managing_since").is_null()
            | (pl.col("_managing_since") >= pl.col("_made")),
        )
        .filter(pl.col("_new_net") | pl.col("_first_app"))
        .join(began(events), on="tenant_id")
        .sort("occurred_at")
        .group_by("tenant_id", "actor_id", "_app")
        .agg(
            pl.col("_made", "_made_id", "_app_name", "_group", "_began").first(),
            pl.col("event_id").alias("_ids"),
            T.max().alias("last_seen"),
            pl.col("_new_net").any(),
            pl.col("_first_app").any(),
            pl.col("source_ip").filter(pl.col("_new_net")).drop_nulls().unique().alias("_ips"),
        )
        .select(
            "tenant_id",
            "actor_id",
            pl.min_horizontal("_made", "last_seen").alias("first_seen"),
            "last_seen",
            pl.concat_list(pl.col("_made_id"), pl.col("_ids")).list.unique(maintain_order=True)
            .alias("event_ids"),
            pl.when((pl.col("_made") - pl.col("_began")) >= history)
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.format(
                "{} assigned the application {}, created at {}, to {} (every user) at {}{}{}: "
                "every user is offered an application the tenant did not have (consent "
                "phishing, or a door that outlasts the credentials used).",
                q(pl.col("actor_id")),
                q(pl.col("_app_name").fill_null(pl.col("_app"))),
                fmt_time(pl.col("_made")),
                q(pl.col("_group")),
                fmt_time(pl.col("last_seen")),
                pl.when(pl.col("_new_net"))
                .then(pl.format(", from a network it had never used ({})",
                                first_few(pl.col("_ips"), 2, ", ")))
                .otherwise(pl.lit("")),
                pl.when(pl.col("_first_app"))
                .then(pl.lit(", and had never managed an application before"))
                .otherwise(pl.lit("")),
            ).alias("summary"),
        )
    )  # fmt: skip
    return finalize(found, "external_access")


#: Hosts that capture whatever is sent to them for anyone who holds the link (request
#: inspectors, tunnels to a laptop): never an organisation's own destination.
CAPTURE_HOSTS: Final = re.compile(
    r"(?i)(?:^|\.)(?:webhook\.site|webhook\.cool|requestbin\.(?:com|net|io)|pipedream\.net"
    r"|ngrok(?:-free)?\.(?:io|app|dev)|beeceptor\.com|hookbin\.com|requestcatcher\.com"
    r"|postb\.in|smee\.io|interact\.sh|oast\.(?:fun|me|pro|site|live|online)"
    r"|burpcollaborator\.net|trycloudflare\.com|loca\.lt|localtunnel\.me|serveo\.net)$"
)
#: The chat and ticketing services an organisation's webhooks post to (its Slack, its
#: Teams channel, its Jira): its own, like its own domains.
_TOOL_HOSTS: Final = (
    r"(?i)^(?:hooks\.slack\.com|[a-z0-9-]+\.webhook\.office\.com|outlook\.office(?:365)?\.com"
    r"|events\.pagerduty\.com)$"
)
#: Integration: where a webhook posts (a GitHub hook's ``config.url``), what was
#: approved or installed (an OAuth app, a GitHub App).
_HOOK_URL: Final = ("$.original.config.url", "$.original.data.config.url", "$.original.url")
_APP_NAME: Final = ("$.original.oauth_application_name", "$.original.integration",
                    "$.original.name")  # fmt: skip
_OUTSIDE_COLUMNS: Final = ("tenant_id", "actor_id", "actor_type", "event_id", "occurred_at",
                           "action", "outcome", "target_id", "metadata", "source_ip",
                           "user_agent", "geo_country")  # fmt: skip


def _path(*paths: str) -> pl.Expr:
    return pl.coalesce(*(pl.col("metadata").str.json_path_match(p) for p in paths))


def _own_names(events: Events) -> pl.LazyFrame:
    """Per tenant, the names it shows as its own (``_name``, lower case): the tenant id
    and the owners of its repositories (``acme`` of ``acme/payments``), each organisation
    of an enterprise's trail."""
    owners = (
        lazy(events, "tenant_id", "target_id")
        .select("tenant_id", _name=pl.col("target_id").str.extract(r"^([^/\s]+)/[^/\s]+$", 1))
        .drop_nulls()
    )
    tenants = lazy(events, "tenant_id").select("tenant_id", _name=pl.col("tenant_id"))
    return pl.concat([owners, tenants]).with_columns(pl.col("_name").str.to_lowercase()).unique()


def _outside_parties(events: Events, history: timedelta, g: timedelta) -> pl.DataFrame | None:
    """A repository transferred to an owner the tenant does not show as its own; an
    integration added (a webhook, an OAuth app approved, an app installed) from a network
    the actor had never made its own, unless it is a webhook to the tenant's own domains
    or tools (see :func:`external_access`)."""
    keys = ["tenant_id", "actor_id"]
    rows = subset(
        events,
        _OUTSIDE_COLUMNS,
        pl.col("action").is_in(["repository.transfer", "integration.add"]),
        pl.col("outcome") == "success",
        pl.col("actor_id").is_not_null(),
    ).with_columns(
        _to=pl.coalesce(
            _path("$.original.transfer_to", "$.original.data.transfer_to"),
            _path("$.original.new_repo_name").str.extract(r"^([^/]+)/", 1),
        ).str.to_lowercase(),
        _url=_path(*_HOOK_URL),
        _app=_path(*_APP_NAME),
        _org=_path("$.original.org").str.to_lowercase(),
        _biz=_path("$.original.business").str.to_lowercase(),
    )
    hits = rows.filter(
        (pl.col("action") == "integration.add") | pl.col("_to").is_not_null()
    ).collect()
    if hits.height == 0:
        return None
    own = _own_names(events).collect()
    names = own.group_by("tenant_id").agg(_own=pl.col("_name"))
    host = pl.col("_url").str.extract(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)", 1)
    labels = pl.col("_host").str.to_lowercase().str.split(".")
    hits = (
        hits.join(names, on="tenant_id", how="left")
        .with_columns(
            _own=pl.concat_list(
                pl.col("_own").fill_null([]), pl.col("_org"), pl.col("_biz")
            ).list.drop_nulls(),
            _host=host,
        )
        .with_columns(
            _capture=pl.col("_host").str.contains(CAPTURE_HOSTS.pattern).fill_null(False),
            # a host of the tenant's own: one of its labels is an own name, or its tools
            _own_host=pl.col("_host").str.contains(_TOOL_HOSTS).fill_null(False)
            | (labels.list.set_intersection(pl.col("_own")).list.len() > 0).fill_null(False),
        )
    )
    transfer = pl.col("action") == "repository.transfer"
    transfers = hits.filter(
        transfer & ~pl.col("_own").list.contains(pl.col("_to")).fill_null(False)
    )
    # an integration judged by what it names: a webhook's URL, an app's name
    named = pl.col("_url").is_not_null() | pl.col("_app").is_not_null()
    added = hits.filter(~transfer & named & (pl.col("_capture") | ~pl.col("_own_host")))
    added = added.filter(is_person())
    parts = []
    if transfers.height:
        t = transfers.lazy().with_columns(
            _what=pl.format("{} transferred to {}", q(pl.col("target_id")), q(pl.col("_to"))),
        )
        spans = t.join(began(events, ["tenant_id"]), on="tenant_id", how="left").with_columns(
            _high=(T - pl.col("_began")) >= history
        )
        cols = ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "_what", "_high")
        parts.append(
            spans.select(*cols, _net=pl.lit(None, pl.String), _place=pl.lit(None, pl.String))
        )
    if added.height:
        actors = added.lazy().select(keys).unique()
        # from a network, or a country, the actor had not made its own: a country new
        # to it from its usual network is a proxy or a tunnel through it
        marked = (
            away_from_home(added.lazy(), events, keys, g)
            .join(began(events, keys, among=actors), on=keys, how="left")
            .filter(
                ((T - pl.col("_began")) >= history) & (pl.col("_new_net") | pl.col("_new_country"))
            )
        )
        parts.append(
            marked.select(
                "tenant_id", "actor_id", "event_id", "occurred_at", "action",
                _what=pl.when(pl.col("_url").is_not_null())
                .then(pl.format("a webhook to {}{}", pl.col("_host"),
                                pl.when("_capture").then(pl.lit(" (a capture service)"))
                                .otherwise(pl.lit(""))))
                .otherwise(pl.format("{} approved or installed",
                                     q(pl.col("_app")))),
                _high=pl.lit(True),
                _net=pl.when("_new_net").then(pl.col("source_ip")),
                _place=pl.when("_new_country").then(pl.col("_country")),
            )
        )  # fmt: skip
    if not parts:
        return None
    found = (
        episodes(pl.concat(parts), keys, g)
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_high").all().alias("_high"),
            pl.col("_what").unique(maintain_order=True),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            pl.col("_net").drop_nulls().unique(maintain_order=True),
            pl.col("_place").drop_nulls().unique(maintain_order=True),
        )
        .with_columns(
            severity=pl.when("_high").then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} gave access outside the organisation {} ({}): {}{}{}.",
                q(pl.col("actor_id")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
                first_few(pl.col("_what"), 3, "; "),
                pl.when(pl.col("_net").list.len() > 0)
                .then(pl.format(", from a network it had never made its own ({})",
                                first_few(pl.col("_net"), 3, ", ")))
                .otherwise(pl.lit("")),
                pl.when(pl.col("_place").list.len() > 0)
                .then(pl.format(", from a country it had never made its own ({})",
                                first_few(pl.col("_place"), 3, ", ")))
                .otherwise(pl.lit("")),
            ),
        )
    )  # fmt: skip
    return finalize(found, "external_access")
