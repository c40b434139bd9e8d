"""IAM policy evaluation for identity-based policies, the way AWS decides a request.

An explicit Deny wins, then any Allow, otherwise the request is implicitly denied. Actions match without
regard to case, resources with it; `*` and `?` are the only wildcards. Condition operators follow the IAM
reference: a missing key makes a positive operator false and a negated one true, `...IfExists` is true when
the key is missing, `ForAllValues` is true for a missing or empty key and `ForAnyValue` false.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class PolicyError(ValueError):
    """A policy this evaluator cannot read (unknown condition operator, malformed statement)."""


@dataclass(frozen=True)
class Request:
    """One authorization: an IAM action on a resource ARN, with the condition keys the request carries."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)  # key -> value, list of values, or callable
    because: str = ""  # why the call needs it when it is implicit ("the table is encrypted with ...")

    def value(self, key: str) -> list[str] | None:
        for name, value in self.context.items():
            if name.lower() == key.lower():
                value = value() if callable(value) else value
                if value is None:
                    return None
                return (
                    [str(item) for item in value] if isinstance(value, list | tuple | set) else [str(value)]
                )
        return None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    request: Request
    statement: dict | None = None  # the Deny that refused it or the Allow that granted it

    @property
    def explicit_deny(self) -> bool:
        return not self.allowed and self.statement is not None


def statements(documents: Iterable[Any]) -> list[dict]:
    """The statements of policy documents (JSON strings or dicts; Statement as an object or a list)."""
    found = []
    for document in documents:
        if isinstance(document, str):
            document = json.loads(document)
        body = document.get("Statement", [])
        for statement in body if isinstance(body, list) else [body]:
            if statement.get("Effect") not in ("Allow", "Deny"):
                raise PolicyError(f"statement without Effect Allow/Deny: {statement}")
            found.append(statement)
    return found


def evaluate(policy_statements: list[dict], request: Request) -> Decision:
    allow = None
    for statement in policy_statements:
        if not _applies(statement, request):
            continue
        if statement["Effect"] == "Deny":
            return Decision(False, request, statement)
        allow = allow or statement
    return Decision(allow is not None, request, allow)


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _pattern(str(pattern), ignore_case).match(str(value)) is not None


def _applies(statement: dict, request: Request) -> bool:
    if "Action" in statement:
        if not any(matches(p, request.action, ignore_case=True) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(matches(p, request.action, ignore_case=True) for p in _as_list(statement["NotAction"])):
            return False
    else:
        raise PolicyError(f"statement without Action or NotAction: {statement}")
    if "Resource" in statement:
        if not any(matches(p, request.resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(matches(p, request.resource) for p in _as_list(statement["NotResource"])):
            return False
    return all(
        _condition(operator, key, _as_list(values), request)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, values in block.items()
    )


def _string_equals(policy: str, value: str) -> bool:
    return policy == value


def _string_equals_ignore_case(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def check(policy: str, value: str) -> bool:
        try:
            return compare(float(value), float(policy))
        except ValueError:
            return False

    return check


# operator -> (match one request value against one policy value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (lambda policy, value: matches(policy, value), False),
    "StringNotLike": (lambda policy, value: matches(policy, value), True),
    "ArnEquals": (lambda policy, value: matches(policy, value), False),
    "ArnLike": (lambda policy, value: matches(policy, value), False),
    "ArnNotEquals": (lambda policy, value: matches(policy, value), True),
    "ArnNotLike": (lambda policy, value: matches(policy, value), True),
    "Bool": (lambda policy, value: str(policy).lower() == str(value).lower(), False),
    "NumericEquals": (_numeric(lambda v, p: v == p), False),
    "NumericNotEquals": (_numeric(lambda v, p: v == p), True),
    "NumericLessThan": (_numeric(lambda v, p: v < p), False),
    "NumericLessThanEquals": (_numeric(lambda v, p: v <= p), False),
    "NumericGreaterThan": (_numeric(lambda v, p: v > p), False),
    "NumericGreaterThanEquals": (_numeric(lambda v, p: v >= p), False),
}


def _condition(operator: str, key: str, policy_values: list, request: Request) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    values = request.value(key)
    if base == "Null":
        return (values is None) == (str(policy_values[0]).lower() == "true")
    if base not in _OPERATORS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise PolicyError(f"condition operator {operator} is not supported by local IAM evaluation")
    compare, negated = _OPERATORS[base]
    policy_values = [str(value) for value in policy_values]

    def one(value: str) -> bool:
        hit = any(compare(policy, value) for policy in policy_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return values is None or all(one(value) for value in values)
    if qualifier == "ForAnyValue":
        return values is not None and any(one(value) for value in values)
    if values is None:
        return if_exists or negated
    return all(one(value) for value in values) if negated else any(one(value) for value in values)
