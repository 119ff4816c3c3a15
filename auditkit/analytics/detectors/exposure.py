"""Resources made public: data or a service opened to everybody, by a setting or a grant.

Making a bucket, a repository, a document or a snapshot public is how data is
exfiltrated without a download to watch (the intruder reads it later from anywhere)
and the commonest misconfiguration behind a leak.  No source names it the same way:
an application writes ``visibility`` from ``private`` to ``public`` into ``changes``;
GitLab writes ``{"change": "visibility", "from": "Private", "to": "Public"}``; AWS
writes an API call (``PutBucketPolicy`` whose policy allows ``Principal: *``,
``PutBucketAcl`` granting ``AllUsers``, ``ModifySnapshotAttribute`` adding the group
``all``, ``DeletePublicAccessBlock``) whose request the CloudTrail format keeps under
the metadata's ``original``; Google Cloud a ``SetIamPolicy`` whose binding deltas add
``allUsers``.  The detector reads all three places: the ``changes`` setting by setting
(with :mod:`~auditkit.analytics.detectors.controls`' walk of ``before``/``after``),
the request of the producer's original record, and the metadata of sharing actions;
and actions that say it by name (``document.make_public``, ``public_link.create``).
Made private, shared with named people or within the organisation, and settings that
only hold the word (a public key, a public IP address) are not reported.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, Final

import polars as pl

from auditkit.analytics.detectors._conditions import narrows
from auditkit.analytics.detectors.common import (
    Events,
    T,
    action_words,
    actions_matching,
    actions_where,
    classified,
    classified_episodes,
    duration,
    empty,
    finalize,
    first_few,
    fmt_time,
    json_or_none,
    noun,
    producer_request,
    q,
    subset,
)
from auditkit.analytics.detectors.controls import _DEEPEST, _MISSING, _flat, _pairs, _state, _words
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["public_exposure", "public_exposures"]

#: Values (lower case, runs of other characters as ``_``) that name everybody.
_EVERYBODY: Final = frozenset(
    ("public", "public_on_the_web", "publicly_accessible", "anyone", "anyone_with_link",
     "anyone_with_the_link", "anyone_with_a_link", "people_with_link", "people_with_the_link",
     "people_with_a_link", "anyone_on_the_internet", "internet", "everyone", "everybody",
     "world", "anonymous", "unauthenticated", "allusers", "all_users",
     "allauthenticatedusers", "all_authenticated_users", "public_read", "public_read_write",
     "publicread", "publicreadwrite", "authenticated_read")
)  # fmt: skip
#: ... and two more where the setting is plainly an audience (``visibility: all``).
_EVERYBODY_IF_AUDIENCE: Final = frozenset(("all", "open"))
#: Setting names whose value says who may see or use the thing, plainly ...
_AUDIENCE: Final = frozenset(
    ("visibility", "visible", "sharing", "share", "shared", "audience", "privacy", "exposure")
)
#: ... or among other meanings (``access_level: Developer``).
_ACCESS: Final = frozenset(("access", "acl", "acls", "permission", "permissions"))
#: Setting names whose value lists who was let in.
_GRANTEES: Final = frozenset(
    ("member", "members", "grantee", "grantees", "principal", "principals", "entity",
     "recipient", "recipients")
)  # fmt: skip
#: Words that make a setting's name an on/off switch of public access ...
_OPEN_WORDS: Final = frozenset(("public", "publicly", "anyone", "everyone"))
#: ... with one of these (``anonymous_access``, ``world_readable``, ``internet_facing``)
_NEEDS_ACCESS: Final = frozenset(("anonymous", "unauthenticated", "world", "internet"))
_ACCESS_VERBS: Final = frozenset(
    ("access", "accessible", "read", "readable", "reads", "view", "viewing", "views", "browse",
     "browsing", "download", "downloads", "login", "logins", "sign", "signin", "users", "user",
     "link", "links", "upload", "uploads", "bind", "auth", "authentication", "clone", "pull",
     "fetch", "writable", "writeable", "write", "facing", "exposed", "visitors", "guests")
)  # fmt: skip
#: ... or a pair (``link_sharing_enabled``).
_LINK_PAIRS: Final = frozenset(
    (a, b)
    for x in ("link", "links")
    for y in ("sharing", "share", "shareable", "sharable")
    for a, b in ((x, y), (y, x))
)
#: Words that turn the switch around: ``private`` true → false, ``BlockPublicAcls``
#: true → false, ``publicAccessPrevention`` enforced → inherited open it.
_INVERTING: Final = frozenset(
    ("private", "block", "blocks", "blocked", "blocking", "restrict", "restricts", "restricted",
     "restriction", "prevent", "prevents", "prevention", "deny", "denied", "disable",
     "disabled", "disallow", "disallowed", "forbid", "forbidden", "ignore", "ignores", "no",
     "not", "non", "without")
)  # fmt: skip
#: Names that hold the word without being about who may see the thing: a public key, a
#: public IP address or DNS name, a public holiday, a private subnet or endpoint.
_NOT_ACCESS: Final = frozenset(
    ("key", "keys", "keypair", "ip", "ips", "ipv4", "ipv6", "address", "addresses", "dns",
     "hostname", "cert", "certs", "certificate", "certificates", "ssh", "gpg", "pgp", "id",
     "ids", "suffix", "holiday", "holidays", "subnet", "subnets", "cidr", "cidrs")
)  # fmt: skip
_NOT_PRIVATE_ACCESS: Final = frozenset(
    ("endpoint", "endpoints", "network", "networks", "link", "links", "zone", "zones", "vpc",
     "registry", "registries")
)  # fmt: skip
#: Values of a switch beyond ``controls``' on and off: a prevention ``inherited`` (the
#: Cloud Storage default, no prevention) is off; access ``allowed`` is on.
_SWITCH: Final = {
    "inherited": False, "unspecified": False, "allow": True, "allowed": True, "blob": True,
    "container": True,
}  # fmt: skip
#: Verbs that create a resource: a setting's public value at creation is the resource's
#: design (a public repository created), not something that existed made public ...
_CREATE: Final = frozenset(
    ("create", "created", "insert", "inserted", "new", "add", "added", "run", "launch",
     "launched", "restore", "restored", "copy", "copied", "import", "imported", "register",
     "registered", "fork", "forked", "clone", "cloned", "upload", "uploaded", "generate",
     "generated")
)  # fmt: skip
#: ... unless what is created is itself a grant: a link for anyone, a permission for
#: ``allUsers``.
_GRANTS: Final = frozenset(
    ("share", "shares", "sharing", "link", "links", "url", "urls", "permission",
     "permissions", "grant", "grants", "acl", "acls", "binding", "bindings", "policy",
     "policies", "access", "invitation", "invitations", "invite", "member", "members",
     "collaborator", "collaborators", "principal", "principals")
)  # fmt: skip
#: Actions that read, preview or check: the policies in their requests grant nothing.
_READS: Final = frozenset(
    ("get", "list", "describe", "read", "view", "search", "lookup", "head", "query", "scan",
     "select", "download", "export", "simulate", "validate", "check", "preview", "batch_get",
     "estimate", "generate_service_last_accessed_details")
)  # fmt: skip
#: Actions whose metadata says with whom something was shared (``document.share`` with
#: ``{"shared_with": "anyone"}``, GitHub's ``repo.access`` with ``{"visibility": ...}``).
_SHARING_ACTIONS: Final = frozenset(
    ("share", "shared", "sharing", "unshare", "visibility", "access", "permission",
     "permissions", "acl", "link", "links", "privacy", "audience", "expose", "public")
)  # fmt: skip
#: Metadata keys whose value is the setting before the change (GitHub's
#: ``previous_visibility``).
_BEFORE_WORDS: Final = frozenset(("previous", "prev", "old", "prior", "from", "before", "was"))
#: Verbs that remove a public access block by name, and its names.
_OFF_VERBS: Final = frozenset(
    ("delete", "deleted", "remove", "removed", "disable", "disabled", "deactivate",
     "deactivated", "unblock", "unblocked")
)  # fmt: skip
_MAKE_VERBS: Final = frozenset(
    ("make", "made", "set", "mark", "marked", "share", "shared", "open", "opened", "expose",
     "exposed")
)  # fmt: skip
#: (and the verbs of a lower-cased ``MakePublic``, as a mapping file writes them)
_PUBLICIZE: Final = frozenset(
    ("publicize", "publicise", "publicized", "publicised", "makepublic", "setpublic")
)
_LINK_NOUNS: Final = frozenset(("link", "links", "url", "urls", "share", "sharing"))
_LINK_VERBS: Final = frozenset(
    ("create", "created", "add", "added", "enable", "enabled", "generate", "generated",
     "update", "updated", "set", "make", "made")
)  # fmt: skip
#: Producers whose records describe the object's state rather than carry the request
#: (their imports write what changed into ``changes``).
_STATE_RECORDS: Final = frozenset(("github",))
#: Keys of a producer's record that hold what came back or what was, not what was asked:
#: a policy read back (``GetBucketAcl``), the whole policy after a change or the state
#: before it (Google Cloud's ``resourceOriginalState``) is not a grant.
_RESPONSES: Final = frozenset(
    ("responseElements", "response", "responseJson", "resourceOriginalState", "userIdentity")
)
#: Keys that only wrap a request: a setting's phrase names the key without them.
_ENVELOPES: Final = frozenset(
    ("requestParameters", "request", "data", "original", "detail", "eventData", "details")
)
#: Keys of a canned access control list, and the canned lists that let everybody in.
_CANNED_KEYS: Final = frozenset(
    ("x-amz-acl", "acl", "cannedacl", "canned_acl", "predefinedacl", "predefineddefaultobjectacl")
)
_CANNED_PUBLIC: Final = frozenset(
    ("publicread", "publicreadwrite", "authenticatedread", "allauthenticatedusers", "allusers")
)
_AWS_GROUPS: Final = ("acs.amazonaws.com/groups/global/AllUsers",
                      "acs.amazonaws.com/groups/global/AuthenticatedUsers")  # fmt: skip
#: Conditions that narrow ``Principal: *`` to one organisation, account, network or
#: resource (a topic policy for one account's S3 events): not public.
_NARROWING: Final = frozenset(
    ("aws:principalorgid", "aws:principalorgpaths", "aws:principalaccount", "aws:sourceaccount",
     "aws:sourcearn", "aws:sourceowner", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceip",
     "aws:principalarn", "aws:userid", "aws:username", "aws:sourceorgid", "aws:sourceorgpaths",
     "aws:resourceorgid", "aws:calledvia", "kms:calleraccount", "kms:viaservice",
     "lambda:functionurlauthtype")
)  # fmt: skip
#: ... and the parameters that do so for a resource's permission (a Lambda function's,
#: an event bus's condition).
_NARROWING_PARAMS: Final = frozenset(
    ("sourcearn", "sourceaccount", "principalorgid", "eventsourcetoken", "condition")
)
_NOT_WORD: Final = re.compile(r"[^a-z0-9*]+")
#: Cheap tests run over every event before the exact one: words of the values and names
#: above (and of the producers' grants), in any case.
_HINTS: Final = [
    "public", "anyone", "everyone", "everybody", "internet", "world", "anonymous",
    "unauthenticated", "allusers", "all_users", "all users", "authenticatedusers",
    "people_with", "visib", "link", '"all"', '"open"', '"*"', '\\"*\\"', 'principal"',
    'principal\\"', "valuestoadd", "createvolumepermission", "launchpermission", "authtype",
    "private", "accountidstoadd",
]  # fmt: skip
#: Targets that are where the setting was changed rather than what it exposes (an
#: organisation's settings), or who was let in (Google Cloud's members).
_NOT_EXPOSED: Final = ["settings", "setting", "configuration", "config", "principal"]
#: What an action changes when it changes the whole organisation's or account's rules
#: (``settings.update``): a switch there lets people expose things, it exposes nothing.
_WIDE: Final = [*_NOT_EXPOSED[:-1], "organization", "organisation", "org", "account", "tenant",
                "workspace"]  # fmt: skip
_ACTION_HINT: Final = r"(?i)public|publish"
#: Names that only hold the word (a public key, IP address or DNS name): taken out of a
#: record's text before the hints are looked for, so that a launch with a public
#: address is not parsed.
_WORD_ONLY: Final = (
    r"(?i)public_?(?:ip|dns|key|hostname|address|subnet|cidr|holiday)|private_?(?:ip|dns|key)"
)


def _norm(value: str) -> str:
    return _NOT_WORD.sub("_", value.strip().lower()).strip("_")


def _everybody(value: Any, *, audience: bool = False, level: bool = False) -> bool:
    """Whether a value names everybody (``allUsers``, ``anyone_with_link``, ``*``; with
    ``audience``, ``all`` and ``open`` too; with ``level``, GitLab's level 20).

    >>> [_everybody(v) for v in ("Anyone with link", "allUsers", "*", ["u1", "*"], "domain")]
    [True, True, True, True, False]
    >>> _everybody("all"), _everybody("all", audience=True), _everybody(20, level=True)
    (False, True, True)
    """
    if isinstance(value, list):  # of names: a list inside it names nobody
        return any(
            _everybody(v, audience=audience, level=level)
            for v in value
            if not isinstance(v, list | Mapping)
        )
    if isinstance(value, bool) or value is None or value is _MISSING:
        return False
    if isinstance(value, int | float):
        return level and value == 20
    if not isinstance(value, str):
        return False
    if value.strip() == "*" or any(group in value for group in _AWS_GROUPS):
        return True
    text = _norm(value)
    return (
        text in _EVERYBODY
        or (audience and text in _EVERYBODY_IF_AUDIENCE)
        or (level and text == "20")
    )


def _switch(value: Any) -> bool | None:
    """On, off or neither, as :func:`controls._state` reads it, and a prevention
    ``inherited`` is off."""
    if isinstance(value, str) and value.strip().lower() in _SWITCH:
        return _SWITCH[value.strip().lower()]
    if isinstance(value, Mapping):
        return None
    return _state(value)


def _kind(words: list[str]) -> str | None:
    """What a setting's name (as words) makes of its value: a switch of public access
    (``"switch"``, ``"inverted"`` when on means closed), an audience, a list of
    grantees, or nothing.

    >>> [_kind(_words(n)) for n in ("is_public", "BlockPublicAcls", "isPrivate",
    ...     "visibility_level", "members", "publicKey", "republic_day", "anonymous_usage")]
    ['switch', 'inverted', 'inverted', 'audience', 'grantees', None, None, None]
    """
    names = set(words)
    pairs = set(itertools.pairwise(words))
    open_word = bool(names & _OPEN_WORDS) or bool(names & _NEEDS_ACCESS and names & _ACCESS_VERBS)
    if open_word and not names & _NOT_ACCESS:
        return "inverted" if names & _INVERTING else "switch"
    if "private" in names and not names & (_NOT_ACCESS | _NOT_PRIVATE_ACCESS):
        return "switch" if names & (_INVERTING - {"private"}) else "inverted"
    if pairs & _LINK_PAIRS:
        return "inverted" if names & _INVERTING else "switch"
    if names & _AUDIENCE:
        return "audience"
    if names & _GRANTEES:
        return "grantees"
    if names & _ACCESS:
        return "access"
    return None


def _open(kind: str, words: list[str], value: Any) -> bool | None:
    """Whether a setting of that kind with that value lets everybody in (None: the
    value says neither, as ``"sms"`` for a block)."""
    if kind in ("switch", "inverted"):
        on = _switch(value)
        if on is None:
            return _everybody(value, audience=True) if kind == "switch" else None
        return on != (kind == "inverted")
    level = "visibility" in words and "level" in words
    return _everybody(value, audience=kind == "audience", level=level)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(removed)"
    if isinstance(value, str) and len(value) <= 40 and value.strip() == value and value:
        return value
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):  # nested beyond any setting
        return "…"
    return text if len(text) <= 40 else text[:39] + "…"


def _opened(kind: str, words: list[str], before: Any, after: Any) -> bool:
    """Whether a change of one setting let everybody in: open after, closed before
    (for lists of grantees: everybody added)."""
    if _open(kind, words, after) is not True:
        return False
    if kind != "switch" and kind != "inverted" and isinstance(after, list):
        names = [v for v in after if isinstance(v, str)]
        old = {v for v in before if isinstance(v, str)} if isinstance(before, list) else set()
        return _open(kind, words, [v for v in names if v not in old]) is True
    return _open(kind, words, before) is False


def _from_changes(parsed: Any, noun: list[str], creating: bool) -> Iterator[str]:
    """Settings of a ``changes`` object that went from closed to open."""
    for path, before, after in _pairs(parsed):
        words = _words(path) if path else noun  # a scalar change: the noun names it
        kind = _kind(words)
        if kind is None or (creating and before is _MISSING):
            continue
        if _opened(kind, words, before, after):
            yield f"{path or '_'.join(noun)} {_show(before)} → {_show(after)}"


def _key(mapping: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` in ``mapping``, whatever its case."""
    wanted = {n.lower() for n in names}
    for k, v in mapping.items():
        if isinstance(k, str) and k.lower() in wanted:
            return v
    return None


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _any_principal(principal: Any) -> bool:
    """``*``, ``{"AWS": "*"}``, ``{"AWS": ["*"]}``."""
    if isinstance(principal, Mapping):
        return any("*" in _texts(v) for v in principal.values())
    return "*" in _texts(principal)


def _narrowed(condition: Any) -> bool:
    """Whether a statement's condition narrows ``Principal: *`` (a positive test of a
    key of :data:`_NARROWING` whose values are not everybody: ``aws:SourceIp``
    ``0.0.0.0/0`` is not, see :func:`narrows`)."""
    return narrows(condition, _NARROWING)


def _policy_name(path: tuple[str, ...]) -> str:
    for key in reversed(path):
        words = _words(key)
        if "policy" in words or "policies" in words:
            return " ".join(words)
    return "policy"


def _parsed_text(text: str) -> Any:
    """A JSON object given as text inside a request (an SQS, KMS or ECR policy; OCSF's
    ``api.request.data`` as a data lake stores it)."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    return json_or_none(stripped)


class _Request:
    """What a producer's record asked for that lets everybody in."""

    def __init__(self, creating: bool) -> None:
        self.creating = creating
        self.found: list[str] = []
        self.deltas = False  # Google Cloud's binding deltas: the change, not the policy
        self.bindings: list[str] = []  # public members of whole policies, if no delta

    def walk(self, node: Any, path: tuple[str, ...] = (), depth: int = 0) -> None:
        if depth > _DEEPEST:
            return
        if isinstance(node, list):
            for item in node[:1000]:
                self.walk(item, path, depth + 1)
            return
        if isinstance(node, str):
            inner = _parsed_text(node)
            if inner is not None:
                self.walk(inner, path, depth + 1)
            return
        if not isinstance(node, Mapping):
            return
        self.shapes(node, path)
        in_policy = any(k.lower() in ("statement", "condition", "principal") for k in path)
        for key, value in node.items():
            if not isinstance(key, str) or key in _RESPONSES:
                continue
            scalars = not isinstance(value, list) or not any(
                isinstance(v, Mapping | list) for v in value
            )
            if not in_policy and not isinstance(value, Mapping) and scalars:
                self.setting(key, value, path)
            if isinstance(value, Mapping | list) or (isinstance(value, str) and value[:1] == "{"):
                self.walk(value, (*path, key), depth + 1)

    def shapes(self, node: Mapping[str, Any], path: tuple[str, ...]) -> None:
        """Grants by their shape: a policy statement, a resource permission, a binding,
        an access control list's grant, a snapshot's or image's permission."""
        effect = _key(node, "Effect")
        if isinstance(effect, str):
            principal = _key(node, "Principal")
            if (effect.lower() == "allow" and _any_principal(principal)
                    and not _narrowed(_key(node, "Condition"))):  # fmt: skip
                actions = _texts(_key(node, "Action"))
                to = f" to {', '.join(actions[:2])}" if actions else ""
                name = _policy_name(path)
                verb = "allow" if name.endswith("policies") else "allows"
                self.found.append(f"{name} {verb} Principal *{to}")
            return
        principal = _key(node, "principal")
        if principal == "*" and not any(
            isinstance(k, str) and k.lower() in _NARROWING_PARAMS and v for k, v in node.items()
        ):
            action = _key(node, "action")
            self.found.append(
                "permission for principal *" + (f" ({action})" if isinstance(action, str) else "")
            )
        auth = node.get("authType", node.get("AuthType"))
        if isinstance(auth, str) and auth.upper() == "NONE":
            self.found.append("function URL with auth type NONE")
        member, role = _key(node, "member"), _key(node, "role")
        if isinstance(member, str) and isinstance(_key(node, "action"), str):
            self.deltas = True
            if str(_key(node, "action")).upper() == "ADD" and _everybody(member):
                self.found.append(f"{member} granted {role}")
        members = _key(node, "members")
        if isinstance(members, list) and isinstance(role, str):
            self.bindings += [f"{m} granted {role}" for m in members if _everybody(m)]
        entity = _key(node, "entity")
        if isinstance(entity, str) and _everybody(entity):
            self.found.append(f"{entity} granted {role}")
        grantee = _key(node, "Grantee")
        if isinstance(grantee, Mapping):
            uri = _key(grantee, "URI")
            if isinstance(uri, str) and any(group in uri for group in _AWS_GROUPS):
                permission = _key(node, "Permission")
                self.found.append(f"ACL grants {permission} to {uri.rsplit('/', 1)[-1]}")
        add = _key(node, "add")
        items = _key(add, "items") if isinstance(add, Mapping) else add
        if isinstance(items, list) and any(
            isinstance(i, Mapping) and str(_key(i, "group", "userGroup")).lower() == "all"
            for i in items
        ):
            self.found.append(f"{path[-1] if path else 'permission'} shared with all")
        added = _key(node, "valuesToAdd")
        if isinstance(added, list) and any(str(v).lower() == "all" for v in added):
            attribute = _key(node, "attributeName")
            self.found.append(f"{attribute or 'attribute'} shared with all")
        # Systems Manager's ModifyDocumentPermission: a document (its scripts, and what
        # they hold) shared with every AWS account
        added = _key(node, "accountIdsToAdd")
        if isinstance(added, list) and any(str(v).lower() == "all" for v in added):
            self.found.append("document shared with all accounts")

    def setting(self, key: str, value: Any, path: tuple[str, ...]) -> None:
        """A request's own setting: a canned list, a grant header, a switch or audience."""
        lowered = key.lower()
        if lowered in _CANNED_KEYS or lowered.startswith("x-amz-grant"):
            for text in _texts(value):
                if _norm(text).replace("_", "") in _CANNED_PUBLIC:
                    self.found.append(f"{key} {text}")
                self.found += [f"{key} {g.rsplit('/', 1)[-1]}" for g in _AWS_GROUPS if g in text]
            return
        words = _words(key)
        kind = _kind(words)
        if kind is None or kind == "grantees" or self.creating:
            return
        if _open(kind, words, value) is True:
            parent = path[-1] if path and path[-1] not in _ENVELOPES else None
            self.found.append(f"{parent + '.' if parent else ''}{key} {_show(value)}")

    def result(self) -> list[str]:
        return self.found if self.deltas else [*self.found, *self.bindings]


def _from_details(original: Any, depth: int = 0) -> Iterator[str]:
    """GitLab's ``{"change": "visibility", "from": "Private", "to": "Public"}``."""
    if not isinstance(original, Mapping) or depth > 2:
        return
    change = original.get("change")
    if isinstance(change, str) and ("from" in original or "to" in original):
        words = _words(change)
        kind = _kind(words)
        before, after = original.get("from", _MISSING), original.get("to", _MISSING)
        if kind is not None and _opened(kind, words, before, after):
            yield f"{change} {_show(before)} → {_show(after)}"
    for key in ("details", "detail"):
        yield from _from_details(original.get(key), depth + 1)


def _from_metadata(meta: Mapping[str, Any]) -> Iterator[str]:
    """A sharing action's metadata that names everybody (``shared_with: anyone``)."""
    flat = [(p, v) for p, v in _flat({k: v for k, v in meta.items() if k != "original"}) if p]
    earlier = {
        " ".join(w for w in _words(p) if w not in _BEFORE_WORDS): v
        for p, v in flat
        if _BEFORE_WORDS.intersection(_words(p))
    }
    for path, value in flat:
        words = _words(path)
        if _BEFORE_WORDS.intersection(words):
            continue
        kind = _kind(words)
        if kind is None or _open(kind, words, value) is not True:
            continue
        before = earlier.get(" ".join(words), _MISSING)
        if before is _MISSING or _open(kind, words, before) is False:
            yield f"{path} {_show(value)}"


def _by_name(name: str) -> str | None:
    """What an action's (or the producer's) name says it did, if it says so."""
    noun, verb = action_words(name)
    words = set(noun) | set(verb)
    if "public" in words and "access" in words and words & {"block", "prevention"}:
        return f"public access block removed ({name})" if words & _OFF_VERBS else None
    made = (words & {"public", "publicly"} and words & _MAKE_VERBS) or words & _PUBLICIZE
    if made and not set(noun) & {"public", "publicly"}:
        return f"made public ({name})"
    if set(noun) & {"public", "publicly", "anyone", "anonymous"} and set(noun) & _LINK_NOUNS:
        return f"public link created ({name})" if set(verb) & _LINK_VERBS else None
    if words & {"publish", "published"} and (set(noun) & _LINK_NOUNS or "web" in words):
        return f"published{' to the web' if 'web' in words else ''} ({name})"
    return None


def _hinted(text: pl.Expr) -> pl.Expr:
    """Whether a JSON text holds one of the hints (false for null)."""
    return text.str.contains_any(_HINTS, ascii_case_insensitive=True).fill_null(False)


def _reads(action: str) -> bool:
    """Whether an action reads, checks or previews (its verb's first word says so)."""
    return bool(set(action_words(action)[1][:1]) & _READS)


def _writes(action: str) -> bool:
    return not _reads(action)


def public_exposures(action: str, changes: str | None, metadata: str | None = None) -> list[str]:
    """How the event let everybody in, one phrase each (empty when it did not).

    Examples
    --------
    >>> public_exposures("repository.update",
    ...     '{"before": {"visibility": "private"}, "after": {"visibility": "public"}}')
    ['visibility private → public']
    >>> public_exposures("repository.update",
    ...     '{"before": {"visibility": "public"}, "after": {"visibility": "internal"}}')
    []
    >>> public_exposures("settings.update", '{"before": {"publicKey": null},'
    ...     ' "after": {"publicKey": "ssh-ed25519 AAAA"}}')
    []
    >>> public_exposures("policy.update", None, '{"original": {"requestParameters": {'
    ...     '"bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*",'
    ...     ' "Action": "s3:GetObject"}]}}}}')
    ['bucket policy allows Principal * to s3:GetObject']
    >>> public_exposures("document.make_public", None)
    ['made public (document.make_public)']
    >>> public_exposures("article.publish", None)  # publishing is what a CMS is for
    []
    """
    found: list[str] = []
    said = False
    noun, verb = action_words(action)
    creating = bool(set(verb) & _CREATE) and not set(noun) & _GRANTS
    if changes:
        parsed = json_or_none(changes)  # not JSON, or nested beyond any setting: None
        found += _from_changes(parsed, noun, creating)
        # changes that name an access setting say what happened: the name does not
        said = any(_kind(_words(path) if path else noun) for path, _, _ in _pairs(parsed))
    meta = json_or_none(metadata)
    names = [action]
    if isinstance(meta, Mapping):
        source = meta.get("source_action")
        original = meta.get("original")
        if isinstance(source, str) and source != action:
            names.append(source)
        reading = (
            meta.get("read_only") is True
            or _reads(action)
            or (isinstance(source, str) and _reads(source))
        )
        # a GitHub record says what the object is (public_repo, visibility,
        # previous_visibility), not what was asked: its import puts what changed in
        # ``changes``, which is read above
        stated = meta.get("source_format") in _STATE_RECORDS
        if isinstance(original, Mapping) and not reading and not stated:
            request = _Request(creating)
            request.walk(original)
            found += request.result()
            if not changes:
                found += _from_details(original)
        if set(noun + verb) & _SHARING_ACTIONS and not creating and not reading:
            found += _from_metadata(meta)
    if not found and not said:
        for name in names:
            by_name = _by_name(name)
            if by_name is not None:
                found.append(by_name)
                break
    return list(dict.fromkeys(found))


#: Words of an action (or of the producer's own name for it) that change who may reach
#: a resource: after one of them on a resource, the same exposure again is news.
_ACCESS_CHANGES: Final = frozenset(
    ("policy", "policies", "acl", "acls", "access", "permission", "permissions", "iam",
     "binding", "bindings", "public", "publicly", "private", "visibility", "sharing", "share",
     "shared", "unshare", "grant", "grants", "revoke", "ownership", "attribute", "attributes",
     "url", "audience", "privacy", "block", "member", "members", "principal", "principals",
     "link", "links", "publish", "unpublish")
)  # fmt: skip
#: ... and the verbs that take the resource away (a bucket deleted and made again).
_GONE: Final = frozenset(("delete", "deleted", "remove", "removed", "destroy", "destroyed"))
#: Keys of a request that say how it was sent, not what it asked for.
_TRANSPORT: Final = re.compile(
    r"(?i)^(?:host|content-md5|contentmd5|etag|x-amz-content-sha256|x-amz-sdk-checksum.*|"
    r"x-amz-checksum.*|requestid|request_id|clienttoken|client_token|idempotencytoken)$"
)


def _canonical(value: Any, depth: int = 0) -> Any:
    """A request as data: JSON held as text read as JSON, keys of how it was sent left
    out, so that the same request sent by two tools compares equal."""
    if depth > _DEEPEST:
        return None
    if isinstance(value, str):
        inner = _parsed_text(value)
        return value if inner is None else _canonical(inner, depth + 1)
    if isinstance(value, Mapping):
        return {
            str(k): _canonical(v, depth + 1)
            for k, v in value.items()
            if not (isinstance(k, str) and _TRANSPORT.match(k))
        }
    if isinstance(value, list):
        return [_canonical(v, depth + 1) for v in value]
    return value


def _restated(action: str, changes: str | None, metadata: str | None) -> str:
    """What an exposure asked for, as a text that the same request made again gives
    again (the request of the producer's record, as data; or the action and its
    metadata); empty when the event shows the resource closed before it (a setting
    from private to public, a Google Cloud binding delta that adds ``allUsers``): such
    an exposure is new each time."""
    found = public_exposures(action, changes, metadata)
    if not found or any(" → " in f for f in found):
        return ""
    meta = json_or_none(metadata)
    original = meta.get("original") if isinstance(meta, Mapping) else None
    if isinstance(original, Mapping):
        request = _Request(creating=False)
        request.walk(original)
        if request.deltas:  # a delta says what changed: the member was not there before
            return ""
    # what was asked for; the phrases alone when the producer's request is not kept
    # (the metadata's other keys say who sent it and how: a session's key, an agent)
    request_data = producer_request(original)
    try:
        return json.dumps(
            [action, sorted(found), _canonical(request_data)],
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
    except (ValueError, RecursionError):
        return ""


def _changes_access(action: str, changes: str | None, metadata: str | None) -> bool:
    """Whether an event that exposes nothing may still change who reaches its
    resource (a policy deleted or replaced, a block put back, a setting made private,
    the resource deleted): after it, the same exposure again is news."""
    meta = json_or_none(metadata)
    names = [action]
    if isinstance(meta, Mapping) and isinstance(meta.get("source_action"), str):
        names.append(meta["source_action"])
    for name in names:
        noun_words, verb_words = action_words(name)
        words = {w for part in (*noun_words, *verb_words) for w in _words(part)}
        if words & _ACCESS_CHANGES or (verb_words and verb_words[0] in _GONE):
            return True
    parsed = json_or_none(changes)
    return any(_kind(_words(path)) for path, _, _ in _pairs(parsed) if path)


def _reapplied(events: Events, hits: pl.DataFrame, within: timedelta) -> pl.DataFrame:
    """Per exposure of ``hits``: whether it re-applied an exposure its resource already
    had (``_again``), and since when (``_since``).  The same request (as data) on the
    same resources, after a successful one no more than ``within`` earlier, with no
    successful change of who may reach those resources in between (a policy deleted or
    replaced, a block put back, the resource deleted) and no evidence that they were
    closed just before (a setting going from private to public is new each time)."""
    cols = ("tenant_id", "event_id", "occurred_at", "action", "changes", "metadata", "outcome")
    target = pl.element().struct
    done = hits.select(*cols, "targets", "_exposed", "_wide").filter(
        (pl.col("outcome") == "success") & ~pl.col("_wide") & (pl.col("_exposed").list.len() > 0)
    )
    none = hits.select("event_id").with_columns(
        _again=pl.lit(False), _since=pl.lit(None, dtype=hits.schema["occurred_at"])
    )
    if done.height == 0:
        return none
    restated = {
        row: _restated(*row)
        for row in done.select("action", "changes", "metadata").unique().iter_rows()
    }
    done = (
        done.with_columns(
            _said=pl.Series(
                [restated[r] for r in done.select("action", "changes", "metadata").iter_rows()],
                dtype=pl.String,
            ),
            _where=pl.col("targets").list.eval(
                pl.concat_list(target.field("id"), target.field("name"))
            ),
        )
        .with_columns(
            _where=pl.col("_where").list.eval(pl.element().list.explode().drop_nulls()),
            _res=pl.col("_exposed").list.sort().list.join("\x1f"),
        )
        .filter(pl.col("_said") != "")
        .sort("occurred_at", maintain_order=True)
        .with_columns(_prev_at=T.shift(1).over("tenant_id", "_res", "_said"))
    )
    maybe = done.filter(pl.col("_prev_at").is_not_null() & (T - pl.col("_prev_at") <= within))
    if maybe.height == 0:
        return none
    # the successful events that may have changed who reaches those resources meanwhile
    places = maybe.get_column("_where").explode().drop_nulls().unique().implode()
    exposures = hits.get_column("event_id").implode()
    touched = subset(
        events,
        (
            "tenant_id",
            "event_id",
            "occurred_at",
            "action",
            "changes",
            "metadata",
            "targets",
            "outcome",
        ),
        pl.col("targets")
        .list.eval(target.field("id").is_in(places) | target.field("name").is_in(places))
        .list.any()
        .fill_null(False),
        pl.col("outcome") == "success",
        ~pl.col("event_id").is_in(exposures),
    ).collect()
    closing: list[tuple[str, Any, set[str]]] = []
    if touched.height:
        changing = {
            row: _changes_access(*row) and not _reads(row[0])
            for row in touched.select("action", "changes", "metadata").unique().iter_rows()
        }
        for row in touched.iter_rows(named=True):
            if changing[(row["action"], row["changes"], row["metadata"])]:
                where = {v for t in row["targets"] or [] for v in (t["id"], t["name"]) if v}
                closing.append((row["tenant_id"], row["occurred_at"], where))
    again = set()
    for row in maybe.iter_rows(named=True):
        where = set(row["_where"])
        if not any(
            tenant == row["tenant_id"] and row["_prev_at"] < at < row["occurred_at"] and where & w
            for tenant, at, w in closing
        ):
            again.add(row["event_id"])
    # since when the resources have had that exposure: the start of each run of repeats
    runs = done.with_columns(_again=pl.col("event_id").is_in(list(again))).with_columns(
        _since=pl.when(~pl.col("_again")).then(T).forward_fill().over("tenant_id", "_res", "_said")
    )
    return (
        none.drop("_again", "_since")
        .join(
            runs.select("event_id", "_again", "_since"),
            on="event_id",
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("_again").fill_null(False))
    )


@register_detector("public_exposure", title="Resource made public", severity="high")
def public_exposure(
    events: Events, *, gap: str | timedelta = "1h", reapplied_within: str | timedelta = "30d"
) -> pl.DataFrame:
    """A resource made public: a bucket, repository, document, snapshot or function
    opened to everybody by a setting, a policy, an access control list or a share.

    A setting of visibility, sharing or access (``changes`` setting by setting, the
    request of the producer's original record, the metadata of a sharing action)
    that went from closed to everybody (``public``, ``anyone_with_link``,
    ``allUsers``, ``*``, GitLab's visibility 20), a switch of public access turned on
    (``is_public``, ``publicly_accessible``) or a block of it turned off
    (``BlockPublicAcls``, ``private``); a policy that allows ``Principal: *``, a
    binding or an access control list that adds ``allUsers``, a snapshot or image
    shared with ``all``; or an action that says so by name (``DeletePublicAccessBlock``,
    ``document.make_public``).  One actor's such events no more than ``gap`` apart
    make one finding: high when one succeeded, medium when every attempt was denied
    or failed.  An exposure the resource already had is no news: the same request on
    the same resources again (a deployment re-applying a website bucket's public
    policy), within ``reapplied_within`` of a successful one and with no change of
    who may reach them in between, is low when the finding holds nothing else.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "repository.update", "actor": {"id": "mallory"},
    ...     "targets": [{"id": "repo-7", "name": "acme/payments"}],
    ...     "changes": {"before": {"visibility": "private"},
    ...                 "after": {"visibility": "public"}}}])
    >>> print(public_exposure(df)["summary"][0])
    'mallory' made 'acme/payments' public at 2026-01-05 09:00 UTC: visibility private → public.
    """
    g = duration(gap, name="gap")
    within = duration(reapplied_within, name="reapplied_within")
    named = pl.col("action").is_in(
        actions_matching(events, pl.col("action").str.contains(_ACTION_HINT))
    )
    changed = _hinted(pl.col("changes"))
    # a producer's record is read for the actions that change something (a trail's
    # volume is its reads); first for any word of the hints, then (on the few rows left)
    # for one that is not a public key's or address's
    writes = pl.col("action").is_in(actions_where(events, _writes))
    lf = subset(
        events,
        ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "changes",
         "metadata", "targets"),
        changed | named | (writes & pl.col("metadata").is_not_null()),
    )  # fmt: skip
    lf = lf.filter(changed | named | _hinted(pl.col("metadata"))).collect().lazy()
    lf = lf.filter(changed | named | _hinted(pl.col("metadata").str.replace_all(_WORD_ONLY, "")))
    hits = classified(lf, ["action", "changes", "metadata"], public_exposures)
    if hits is None:
        return empty()
    target = pl.element().struct
    hits = hits.with_columns(
        _exposed=pl.col("targets")
        .list.eval(
            pl.when(
                ~target.field("type").str.to_lowercase().is_in(_NOT_EXPOSED).fill_null(False)
                & ~target.field("id").is_in(["allUsers", "allAuthenticatedUsers", "*"])
            ).then(pl.coalesce(target.field("name"), target.field("id")))
        )
        .list.drop_nulls()
        .fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    exposing = hits.with_columns(
        _wide=(pl.col("_exposed").list.len() == 0)
        & noun(pl.col("action")).str.to_lowercase().is_in(_WIDE)
    ).collect()
    exposing = exposing.join(
        _reapplied(events, exposing, within), on="event_id", how="left", maintain_order="left"
    )
    many = pl.col("_exposed").list.len() > 3
    ok = pl.col("outcome") == "success"
    found = (
        classified_episodes(
            exposing.lazy(),
            g,
            pl.col("_exposed").list.explode().drop_nulls().unique(maintain_order=True),
            pl.col("_wide").all(),
            # every success re-applied what the resources already had
            (pl.col("_again") | ~ok).all().alias("_again"),
            pl.col("_since").filter(pl.col("_again")).min().alias("_since"),
        )
        .with_columns(
            # something exposed is high; a switch in the organisation's or account's
            # settings (a settings.update) that only lets people expose things ("allow
            # public links") is a weakened policy to review: medium, as are attempts
            # that all failed (a public access block deleted by name stays high); the
            # same exposure re-applied is low
            severity=pl.when(pl.col("_done") & ~pl.col("_wide") & pl.col("_again"))
            .then(pl.lit("low"))
            .when(pl.col("_done") & ~pl.col("_wide"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} {}: {}.",
                q(pl.col("actor_id")),
                pl.when(pl.col("_exposed").list.len() == 0)
                .then(
                    pl.concat_str(
                        pl.when("_done")
                        .then(pl.lit("opened public access"))
                        .otherwise(pl.lit("tried to open public access")),
                        # a switch that lets people share publicly, not a share
                        pl.when("_wide").then(pl.lit(" in the settings")).otherwise(pl.lit("")),
                    )
                )
                .otherwise(
                    pl.concat_str(
                        pl.when("_done")
                        .then(pl.lit("made '"))
                        .otherwise(pl.lit("tried to make '")),
                        pl.col("_exposed").list.head(3).list.join("', '"),
                        pl.lit("'"),
                        pl.when(many).then(
                            pl.format(" and {} more", pl.col("_exposed").list.len() - 3)
                        ),
                        pl.lit(" public"),
                        ignore_nulls=True,
                    )
                ),
                pl.when(pl.col("first_seen") == pl.col("last_seen"))
                .then(pl.concat_str(pl.lit("at "), fmt_time(pl.col("first_seen"))))
                .otherwise(
                    pl.format(
                        "between {} and {}",
                        fmt_time(pl.col("first_seen")),
                        fmt_time(pl.col("last_seen")),
                    )
                ),
                first_few(pl.col("_what"), 5),
            ),
        )
        .with_columns(
            summary=pl.when(pl.col("_done") & ~pl.col("_wide") & pl.col("_again"))
            .then(
                pl.format(
                    "{} Re-applied: the same exposure had been in place since {}, with no change "
                    "of access in between.",
                    pl.col("summary"),
                    fmt_time(pl.col("_since")),
                )
            )
            .otherwise(pl.col("summary"))
        )
    )
    return finalize(found, "public_exposure")
