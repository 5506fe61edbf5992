"""MongoDB-subset evaluation of W&B ``project.runs(filters:, order:)`` arguments.

The local server stores runs as plain dicts ("run documents") and uses this module to
filter and sort them the way the real W&B backend does for the subset of MongoDB query
syntax the public API and the W&B UI emit.  Stdlib only, so the server stays light.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

Document = Mapping[str, Any]
Predicate = Callable[[Document], bool]
ValueTest = Callable[[Any], bool]
Resolver = Callable[[Document], Any]
Coerce = Callable[[Any], Any]
SortKey = tuple[int, int, Any]

# First path segments the SDK/UI spell differently from the stored document.
_ALIASES = {
    "display_name": "displayName",
    "created_at": "createdAt",
    "heartbeat_at": "heartbeatAt",
    "updated_at": "heartbeatAt",
    "job_type": "jobType",
    "sweepName": "sweep",
    "summary": "summary_metrics",
}
_DATE_FIELDS = frozenset({"createdAt", "heartbeatAt"})
_LOGICAL = frozenset({"$and", "$or", "$nor"})
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
# Dates as W&B's docs and UI write them: a day, optionally with an hour (`2025-01-10T00`, the
# public-API guide's form), minutes, seconds, a 1-9 digit fraction and a zone.
_ISO_DATE = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}(?::\d{2}(?::\d{2})?)?)(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)
_DEFAULT_ORDER = "+createdAt"


class FilterError(ValueError):
    """A filter or order the server cannot evaluate; message names the offending operator/field."""


# Result of a path that does not resolve; only ``$exists`` tells it apart from null.
_MISSING: Any = object()


def compile_filter(filters: Mapping[str, Any] | None) -> Predicate:
    """Validate ``filters`` once and return a predicate over a run document.

    Validating up front means a bad filter fails the request even when no run exists.
    """
    if filters is None:
        return lambda doc: True
    return _compile_document(filters, "filters")


def compile_order(order: str | None) -> tuple[Callable[[Document], SortKey], bool]:
    """Parse ``+field``/``-field``/``field`` into ``(sort_key, reverse)``.

    ``sort_key(doc)`` is ``(missing, type_rank, value)``: ``missing`` is 1 for absent,
    None or NaN values; ``type_rank`` orders numbers before strings before booleans before
    anything else, so keys of one rank are always comparable.  ``reverse`` is meant for the
    present values only: :func:`sort_documents` keeps missing values last in both
    directions, so a ``-summary_metrics.acc`` page of one never yields a run without ``acc``.
    None or "" means ``+createdAt``.
    """
    if order is None or order == "":
        order = _DEFAULT_ORDER
    if not isinstance(order, str):
        raise FilterError(f"order must be a string, got {type(order).__name__}")
    reverse = order[0] == "-"
    field = order[1:] if order[0] in "+-" else order
    if not field or field[0] in "+-$" or field != field.strip():
        raise FilterError(f"invalid order {order!r}: expected '+field', '-field' or 'field'")
    resolve, _ = _compile_path(field)
    return (lambda doc: _sort_key(resolve(doc))), reverse


def sort_documents(docs: Sequence[Document], order: str | None) -> list[Document]:
    """Return ``docs`` sorted by ``order``; ties keep ``_seq`` (insertion) order for paging."""
    sort_key, reverse = compile_order(order)
    keyed = [(sort_key(doc), doc) for doc in sorted(docs, key=lambda doc: doc.get("_seq", 0))]
    present = [pair for pair in keyed if pair[0][0] == 0]
    # Python's sort stays stable with reverse=True, so ties remain in _seq order.
    present.sort(key=lambda pair: pair[0], reverse=reverse)
    return [doc for _, doc in present] + [doc for key, doc in keyed if key[0] == 1]


def _compile_document(spec: Any, where: str) -> Predicate:
    """Compile a query document: an implicit AND of logical operators and field conditions."""
    if not isinstance(spec, Mapping):
        raise FilterError(f"{where} must be an object, got {type(spec).__name__}")
    predicates: list[Predicate] = []
    for key, value in spec.items():
        if key in _LOGICAL:
            predicates.append(_compile_logical(key, value))
        elif key.startswith("$"):
            raise FilterError(f"unknown top-level operator {key!r}")
        else:
            predicates.append(_compile_field(key, value))
    return lambda doc: all(predicate(doc) for predicate in predicates)


def _compile_logical(op: str, clauses: Any) -> Predicate:
    """Compile ``$and``/``$or``/``$nor`` over a list of query documents. An empty ``$and``
    (or ``$nor``) matches everything: the SDK sends ``{"$or": [{"$and": []}]}`` for a report
    run set without filters. An empty ``$or`` would match nothing and is refused."""
    if not isinstance(clauses, (list, tuple)):
        raise FilterError(f"{op} must be a list of filters")
    if not clauses:
        if op == "$or":
            raise FilterError("$or must be a non-empty list of filters")
        return lambda doc: True
    predicates = [_compile_document(clause, f"{op}[{i}]") for i, clause in enumerate(clauses)]
    if op == "$and":
        return lambda doc: all(predicate(doc) for predicate in predicates)
    if op == "$or":
        return lambda doc: any(predicate(doc) for predicate in predicates)
    return lambda doc: not any(predicate(doc) for predicate in predicates)


def _compile_field(field: str, condition: Any) -> Predicate:
    """Compile ``{field: condition}``; a condition with ``$`` keys is an operator object."""
    resolve, coerce = _compile_path(field)
    if _is_operator_object(field, condition):
        test = _compile_operators(field, condition, coerce)
    else:
        test = _eq_test(condition, coerce)
    return lambda doc: test(resolve(doc))


def _is_operator_object(field: str, condition: Any) -> bool:
    """Tell an operator object from a literal sub-document, rejecting a mix of both."""
    if not isinstance(condition, Mapping) or not condition:
        return False
    dollar = [key.startswith("$") for key in condition]
    if any(dollar) and not all(dollar):
        raise FilterError(f"field {field!r} mixes operators and plain keys: {list(condition)}")
    return all(dollar)


def _compile_operators(field: str, spec: Mapping[str, Any], coerce: Coerce) -> ValueTest:
    """Compile an operator object such as ``{"$gt": 1, "$lt": 5}`` into one value test."""
    tests: list[ValueTest] = []
    for op, operand in spec.items():
        if op in _COMPARISONS:
            tests.append(_compare_test(_COMPARISONS[op], operand, coerce))
        elif op == "$eq":
            tests.append(_eq_test(operand, coerce))
        elif op == "$ne":
            tests.append(_negate(_eq_test(operand, coerce)))
        elif op in ("$in", "$nin"):
            test = _in_test(field, op, operand, coerce)
            tests.append(test if op == "$in" else _negate(test))
        elif op == "$exists":
            tests.append(_exists_test(field, operand))
        elif op == "$regex":
            tests.append(_regex_test(field, operand, spec.get("$options", "")))
        elif op == "$options":
            if "$regex" not in spec:
                raise FilterError(f"$options without $regex for field {field!r}")
        elif op == "$not":
            if not isinstance(operand, Mapping) or not _is_operator_object(field, operand):
                raise FilterError(f"$not for field {field!r} must wrap an operator object")
            tests.append(_negate(_compile_operators(field, operand, coerce)))
        else:
            raise FilterError(f"unknown operator {op!r} for field {field!r}")
    return lambda value: all(test(value) for test in tests)


def _negate(test: ValueTest) -> ValueTest:
    """Invert a value test (``$ne``, ``$nin``, ``$not``); missing values then match."""
    return lambda value: not test(value)


def _eq_test(query: Any, coerce: Coerce) -> ValueTest:
    """Equality: the whole value or, for arrays, any element equals ``query``.

    A null query also matches a missing field, as in MongoDB.
    """
    target = coerce(query)

    def test(value: Any) -> bool:
        if value is _MISSING:
            return query is None
        return any(_equal(coerce(candidate), target) for candidate in _candidates(value))

    return test


def _in_test(field: str, op: str, operand: Any, coerce: Coerce) -> ValueTest:
    """``$in``: equality against any listed value (so arrays match on any shared element)."""
    if not isinstance(operand, (list, tuple)):
        raise FilterError(f"{op} for field {field!r} needs a list, got {type(operand).__name__}")
    tests = [_eq_test(query, coerce) for query in operand]
    return lambda value: any(test(value) for test in tests)


def _compare_test(compare: Callable[[Any, Any], bool], query: Any, coerce: Coerce) -> ValueTest:
    """Range comparison; arrays match if any element does, incomparable types never match."""
    target = coerce(query)
    return lambda value: any(
        _ordered(compare, coerce(candidate), target) for candidate in _candidates(value)
    )


def _exists_test(field: str, operand: Any) -> ValueTest:
    """``$exists``: whether the path resolves at all (an explicit null exists)."""
    if not isinstance(operand, (bool, int)):
        raise FilterError(f"$exists for field {field!r} needs a boolean, got {operand!r}")
    wanted = bool(operand)
    return lambda value: (value is not _MISSING) == wanted


def _regex_test(field: str, pattern: Any, options: Any) -> ValueTest:
    """``$regex`` via ``re.search``; only strings (or string array elements) can match."""
    if not isinstance(pattern, str):
        raise FilterError(f"$regex for field {field!r} needs a string, got {pattern!r}")
    if not isinstance(options, str) or any(flag not in _REGEX_FLAGS for flag in options):
        raise FilterError(f"unsupported $options {options!r} for field {field!r}")
    flags = 0
    for flag in options:
        flags |= _REGEX_FLAGS[flag]
    try:
        regex = re.compile(pattern, flags)
    except re.error as exc:
        raise FilterError(f"invalid $regex {pattern!r} for field {field!r}: {exc}") from exc
    return lambda value: any(
        isinstance(candidate, str) and regex.search(candidate) is not None
        for candidate in _candidates(value)
    )


def _candidates(value: Any) -> list[Any]:
    """Values an operator is tried against: the value itself plus, for arrays, each element."""
    return [value, *value] if isinstance(value, list) else [value]


def _is_number(value: Any) -> bool:
    """Int or float but not bool, which MongoDB treats as its own type."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    """Type-aware equality: 1 == 1.0, True != 1, NaN == NaN, containers compared deeply."""
    if _is_number(left) and _is_number(right):
        return bool(left == right or (left != left and right != right))
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_equal, left, right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and bool(left == right)


def _ordered(compare: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    """Apply ``compare`` only to same-kind values (numbers, strings, bools, datetimes)."""
    if _is_number(left) and _is_number(right):
        return compare(left, right)
    if type(left) is type(right) and isinstance(left, (str, bool, datetime)):
        return compare(left, right)
    return False


def _compile_path(field: str) -> tuple[Resolver, Coerce]:
    """Compile a dotted field path into a resolver and the coercion its comparisons use.

    ``config.<k>`` unwraps W&B's ``{"value": v, "desc": d}`` so ``config.k`` and
    ``config.k.value`` (the UI spelling) reach the same value.  Date columns coerce ISO
    strings to UTC datetimes so ``"...Z"`` and offset-less timestamps compare correctly.
    """
    segments = field.split(".")
    if not all(segments):
        raise FilterError(f"invalid field path {field!r}")
    head = _ALIASES.get(segments[0], segments[0])
    rest = segments[1:]
    coerce: Coerce = _date_coercion(field) if head in _DATE_FIELDS and not rest else _identity
    if head != "config" or not rest:
        path = [head, *rest]
        return (lambda doc: _walk(doc, path)), coerce
    key, tail = rest[0], rest[1:]

    def resolve(doc: Document) -> Any:
        entry = _walk(doc, ["config", key])
        wrapped = _is_wrapped(entry)
        if wrapped:
            entry = entry["value"]
        has_value_key = isinstance(entry, Mapping) and "value" in entry
        skip_value = tail[:1] == ["value"] and (wrapped or not has_value_key)
        return _walk(entry, tail[1:] if skip_value else tail)

    return resolve, coerce


def _walk(value: Any, path: Sequence[str]) -> Any:
    """Follow ``path`` through nested mappings, returning ``_MISSING`` if it breaks off."""
    for segment in path:
        if not isinstance(value, Mapping) or segment not in value:
            return _MISSING
        value = value[segment]
    return value


def _is_wrapped(entry: Any) -> bool:
    """Whether a config entry has W&B's stored ``{"value": v, "desc": d}`` shape."""
    return isinstance(entry, Mapping) and "value" in entry and entry.keys() <= {"value", "desc"}


def _identity(value: Any) -> Any:
    """Coercion for ordinary fields: compare values as stored."""
    return value


def _date_coercion(field: str) -> Coerce:
    """Coercion for a date column: ISO strings become datetimes; a string that is no date is a
    FilterError naming the field (it would otherwise silently match nothing)."""

    def coerce(value: Any) -> Any:
        parsed = _as_datetime(value)
        if isinstance(parsed, str):
            raise FilterError(
                f"{parsed!r} for field {field!r} is not an ISO 8601 date "
                "(YYYY-MM-DD, optionally THH, THH:MM, THH:MM:SS, a fraction and a zone)"
            )
        return parsed

    return coerce


def _as_datetime(value: Any) -> Any:
    """Parse an ISO-8601 string into a naive UTC datetime; anything else passes through.

    Normalises what Python 3.10's ``fromisoformat`` rejects: ``Z``, 1-9 digit fractions and an
    hour without minutes (``2025-01-10T00``).
    """
    match = _ISO_DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return value
    date, time, fraction, zone = match.groups()
    if time is not None and len(time) == 2:
        time += ":00"
    stamp = f"{date}T{time or '00:00'}"
    if fraction:
        stamp += "." + fraction[:6].ljust(6, "0")
    if zone:
        stamp += "+00:00" if zone == "Z" else f"{zone[:3]}:{zone[-2:]}"
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _sort_key(value: Any) -> SortKey:
    """Rank a value for a total order across mixed types; missing/None/NaN rank as missing."""
    if value is _MISSING or value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0, 0)
    if _is_number(value):
        return (0, 0, value)
    if isinstance(value, str):
        return (0, 1, value)
    if isinstance(value, bool):
        return (0, 2, value)
    return (0, 3, repr(value))


__all__ = [
    "Coerce",
    "Document",
    "FilterError",
    "Predicate",
    "Resolver",
    "SortKey",
    "ValueTest",
    "compile_filter",
    "compile_order",
    "sort_documents",
]
