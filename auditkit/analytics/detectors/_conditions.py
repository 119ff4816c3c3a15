"""Whether a policy statement's ``Condition`` narrows ``Principal: *`` to somebody.

A condition narrows only when some test of it can be true for a few callers and is false
for everybody else, whoever they are and whatever their request carries:

- a positive operator (``StringEquals``, ``StringEqualsIgnoreCase``, ``StringLike``,
  ``ArnEquals``, ``ArnLike``, ``IpAddress``, each also under ``ForAnyValue:``).  A
  negated one (``StringNotEquals``, ``NotIpAddress``...) lets in everybody but a few;
  ``...IfExists`` and ``ForAllValues:`` are true when the key is absent (an anonymous
  caller has no organisation, no VPC, no source account); ``Null`` only asks that a
  key be there;
- on a key that names who or where (``aws:PrincipalOrgID``, ``aws:SourceVpce``,
  ``aws:SourceIp``...: the caller's set);
- with values that are not everybody: an ``aws:SourceIp`` list covering ``0.0.0.0/0``
  or ``::/0``, or half of either address space or more, is every address; a ``*``-only
  pattern (``StringLike``, ``ArnLike``, ``o-*`` for an organisation) or an ARN pattern
  for any resource of any account (``arn:aws:iam::*:role/*``) matches anyone;
  ``lambda:FunctionUrlAuthType`` ``NONE`` asks for no authentication.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from typing import Any, Final

__all__ = ["narrows"]

#: Operators under which a test can narrow (lower case, without ``ForAnyValue:``).
_POSITIVE: Final = frozenset(
    ("stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress")
)
#: Operators whose values may hold wildcards.
_PATTERNS: Final = frozenset(("stringlike", "arnequals", "arnlike"))
_WILD: Final = re.compile(r"^[*?]+$")
#: An ARN pattern: partition, service, region, account, resource.
_ARN: Final = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:([^:]*):(.*)$", re.IGNORECASE)
#: An organisation id or path pattern for any organisation (``o-*``, ``o-*/*``).
_ANY_ORG: Final = re.compile(r"^o-[*?]")
#: An ARN's resource part for any resource (``*``, ``role/*``, ``function:*``).
_ANY_RESOURCE: Final = re.compile(r"^(?:[\w.-]+[/:])?[*?]+$")
_V4_HALF: Final = 2**31
_V6_HALF: Final = 2**127


def _values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    return [
        str(v).strip()
        for v in items
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    ]


def _every_address(values: list[str]) -> bool:
    """Whether CIDR blocks cover every address (``0.0.0.0/0``, ``::/0``), or at least
    half of IPv4 or IPv6 (``0.0.0.0/1``: the internet is not narrowed by halves).

    >>> _every_address(["203.0.113.0/24"]), _every_address(["10.0.0.0/8", "0.0.0.0/0"])
    (False, True)
    >>> _every_address(["0.0.0.0/1", "128.0.0.0/1"]), _every_address(["::/0"])
    (True, True)
    """
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for value in values:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            continue
        (v4 if isinstance(net, ipaddress.IPv4Network) else v6).append(net)  # type: ignore[arg-type]
    covered4 = sum(n.num_addresses for n in ipaddress.collapse_addresses(v4))
    covered6 = sum(n.num_addresses for n in ipaddress.collapse_addresses(v6))
    return covered4 >= _V4_HALF or covered6 >= _V6_HALF


def _anyone(value: str, key: str, patterns: bool) -> bool:
    """Whether one value of a test matches any caller."""
    if key == "lambda:functionurlauthtype":
        return value.upper() == "NONE"
    if not patterns:
        return False
    if _WILD.match(value) or _ANY_ORG.match(value):
        return True
    arn = _ARN.match(value)
    if arn is None:
        return False
    # any account's (or, without an account, as S3 writes it, any bucket's) anything: a
    # named resource (``arn:aws:s3:*:*:my-bucket``, whose names are global) narrows
    account, resource = arn.group(1), arn.group(2)
    return (not account or bool(_WILD.match(account))) and bool(_ANY_RESOURCE.match(resource))


def _restricts(operator: str, key: str, raw: Any) -> bool:
    values = _values(raw)
    if not values:
        return isinstance(raw, list)  # no value matches: nobody
    if operator == "ipaddress" or key == "aws:sourceip":
        return operator == "ipaddress" and not _every_address(values)
    return not any(_anyone(v, key, operator in _PATTERNS) for v in values)


def narrows(condition: Any, keys: Collection[str]) -> bool:
    """Whether a statement's ``Condition`` narrows ``Principal: *`` to a few callers: a
    test by a positive operator of one of ``keys`` (lower case) whose values are not
    everybody (see the module).

    >>> keys = {"aws:sourceip", "aws:principalorgid", "aws:sourcevpce"}
    >>> narrows({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, keys)
    True
    >>> narrows({"IpAddress": {"aws:SourceIp": ["198.51.100.7/32", "0.0.0.0/0"]}}, keys)
    False
    >>> narrows({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, keys)
    False
    >>> narrows({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b"}}, keys)
    False
    >>> narrows({"StringLike": {"aws:PrincipalOrgID": "*"}}, keys)
    False
    >>> narrows({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, keys)
    True
    """
    if not isinstance(condition, Mapping):
        return False
    for operator, test in condition.items():
        if not isinstance(operator, str) or not isinstance(test, Mapping):
            continue
        op = operator.strip().lower()
        if op.startswith("forallvalues:"):
            continue  # true when the key is absent
        op = op.removeprefix("foranyvalue:")
        if op not in _POSITIVE:
            continue
        for key, raw in test.items():
            name = key.strip().lower() if isinstance(key, str) else ""
            if name in keys and _restricts(op, name, raw):
                return True
    return False
