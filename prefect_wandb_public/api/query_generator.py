"""Client-side translation between W&B run filters, sort orders and MongoDB-style queries.

This module mirrors the public surface of `wandb.apis.public.QueryGenerator`,
`wandb.apis.public.PythonMongoishQueryGenerator` and `wandb.apis.public.PanelMetricsHelper`
as of wandb 0.31.0. Nothing here talks to a server: every method is a pure function of its
arguments (the only state is the set of config keys a `PythonMongoishQueryGenerator` consults).

Contract: wherever the official SDK returns a value, these classes return an equal value,
including its documented quirks (for example `format_order_key("name")` is `None`).
Wherever the official SDK fails with an incidental `KeyError`, `AttributeError`, `TypeError`,
`IndexError` or `StopIteration` on malformed input, these classes raise
`prefect_wandb_public.errors.InvalidInputError` (a `ValueError`) naming the offending input.
The few deliberate departures are listed in the docstrings of the methods concerned.

Vocabulary:

* A *key* is `{"section": ..., "name": ...}` with section one of `config`, `summary`,
  `keys_info`, `tags` or `run`.
* A *filter* is either individual, `{"key": key, "op": "=", "value": ..., "disabled": bool}`,
  or a group, `{"op": "AND" | "OR", "filters": [filter, ...]}`.
* A *mongo filter* is what the GraphQL `runs(filters: JSONString)` argument expects.
"""

from __future__ import annotations

import ast
import logging
import reprlib
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from prefect_wandb_public.errors import InvalidInputError

__all__ = ["PanelMetricsHelper", "PythonMongoishQueryGenerator", "QueryGenerator"]

logger = logging.getLogger(__name__)

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 80
_repr.maxdict = 6
_repr.maxlist = 6
_repr.maxlevel = 3


def _invalid(what: str, value: object, problem: str) -> InvalidInputError:
    """Build an `InvalidInputError` that names the input (shortened, never huge)."""
    return InvalidInputError(f"{what} {problem}: {_repr.repr(value)}")


def _require_mapping(what: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid(what, value, f"must be a dict, not {type(value).__name__}")
    return value


def _require_str(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise _invalid(what, value, f"must be a str, not {type(value).__name__}")
    return value


def _field(what: str, container: Mapping[str, Any], name: str) -> Any:
    """`container[name]`, raising `InvalidInputError` when the field is missing."""
    try:
        return container[name]
    except KeyError:
        raise _invalid(what, container, f"has no {name!r} field") from None


def _iterate(what: str, value: object) -> list[Any]:
    """Materialise any iterable (the SDK iterates whatever it is given)."""
    if not isinstance(value, Iterable):
        raise _invalid(what, value, f"must be a list, not {type(value).__name__}")
    return list(value)


# Run sections and the prefix each one has in a server path. The "run" section has no prefix.
_SECTION_PREFIXES: tuple[tuple[str, str], ...] = (
    ("config", "config."),
    ("summary", "summary_metrics."),
    ("keys_info", "keys_info.keys."),
    ("tags", "tags."),
)

# Bare sort keys that name a run column; `format_order_key` returns None for them.
_RUN_COLUMNS = frozenset({"createdAt", "updatedAt", "name", "sweep"})
# Dotted sort-key prefixes that `format_order_key` keeps as they are.
_KNOWN_ORDER_PREFIXES = frozenset({"config", "summary_metrics", "tags"})


class QueryGenerator:
    """Helper to translate run filters and sort orders to and from their server form."""

    INDIVIDUAL_OP_TO_MONGO: ClassVar[dict[str, str]] = {
        "!=": "$ne",
        ">": "$gt",
        ">=": "$gte",
        "<": "$lt",
        "<=": "$lte",
        "IN": "$in",
        "NIN": "$nin",
        "REGEX": "$regex",
    }
    MONGO_TO_INDIVIDUAL_OP: ClassVar[dict[str, str]] = {
        mongo: op for op, mongo in INDIVIDUAL_OP_TO_MONGO.items()
    }

    GROUP_OP_TO_MONGO: ClassVar[dict[str, str]] = {"AND": "$and", "OR": "$or"}
    MONGO_TO_GROUP_OP: ClassVar[dict[str, str]] = {
        mongo: op for op, mongo in GROUP_OP_TO_MONGO.items()
    }

    def __init__(self) -> None:
        pass

    # ----------------------------------------------------------------------------- sort order

    @classmethod
    def format_order_key(cls, key: str) -> str | None:
        """Format a sort key as `±path`; the direction defaults to `-` (descending).

        A bare key is taken to be a summary metric (`"loss"` -> `"-summary_metrics.loss"`),
        except the run columns createdAt, updatedAt, name and sweep, for which the result is
        `None` (a quirk kept from the SDK). A dotted key keeps its prefix if that is config,
        summary_metrics or tags, and gets `summary_metrics.` prepended otherwise.
        """
        text = _require_str("order key", key)
        direction = "-"
        if text[:1] in ("+", "-"):
            direction, text = text[0], text[1:]
        head, dot, _ = text.partition(".")
        if not dot:
            if head in _RUN_COLUMNS:
                return None
            return f"{direction}summary_metrics.{text}"
        if head in _KNOWN_ORDER_PREFIXES:
            return direction + text
        return f"{direction}summary_metrics.{text}"

    def keys_to_order(self, keys: Mapping[str, Any]) -> list[str]:
        """Convert `{"keys": [{"key": key, "ascending": bool}, ...]}` to `["±path", ...]`."""
        spec = _require_mapping("order keys", keys)
        orders: list[str] = []
        for entry in _iterate("order keys 'keys'", _field("order keys", spec, "keys")):
            item = _require_mapping("order key entry", entry)
            path = self.key_to_server_path(_field("order key entry", item, "key"))
            orders.append(("+" if item.get("ascending") else "-") + path)
        return orders

    def order_to_keys(self, order: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Convert `["+name", "-createdAt", ...]` to `{"keys": [...]}` with run-section keys.

        Every element must start with `+` (ascending) or `-` (descending). Deliberate
        difference: a single string is rejected (the SDK would iterate its characters).
        """
        if isinstance(order, str) or not isinstance(order, Iterable):
            raise _invalid("order", order, "must be a list of '+key' / '-key' strings")
        keys: list[dict[str, Any]] = []
        for item in order:
            if not isinstance(item, str) or item[:1] not in ("+", "-"):
                raise _invalid("order entry", item, "must start with ascending(+) or descending(-)")
            keys.append({"key": {"section": "run", "name": item[1:]}, "ascending": item[0] == "+"})
        return {"keys": keys}

    # ------------------------------------------------------------------------------ key paths

    def key_to_server_path(self, key: Mapping[str, Any]) -> str:
        """Convert `{"section": ..., "name": ...}` to a server path such as `config.lr`.

        Deliberate difference: a non-string name is rejected even in the run section, where
        the SDK would return it unchanged.
        """
        spec = _require_mapping("key", key)
        section = _field("key", spec, "section")
        name = _field("key", spec, "name")
        if section == "run":
            return _require_str("run key name", name)
        for candidate, prefix in _SECTION_PREFIXES:
            if section == candidate:
                return prefix + _require_str(f"{candidate} key name", name)
        raise _invalid("key", key, "has an unknown section (Invalid key)")

    def server_path_to_key(self, path: str) -> dict[str, str]:
        """Convert a server path such as `summary_metrics.acc` to `{"section", "name"}`."""
        text = _require_str("server path", path)
        for section, prefix in _SECTION_PREFIXES:
            if text.startswith(prefix):
                return {"section": section, "name": text[len(prefix) :]}
        return {"section": "run", "name": text}

    # -------------------------------------------------------------------------------- filters

    def _is_group(self, op: Mapping[str, Any]) -> bool:
        return op.get("filters") is not None

    def _is_individual(self, op: Mapping[str, Any]) -> bool:
        return op.get("key") is not None

    def _to_mongo_op_value(self, op: str, value: Any) -> Any:
        if op == "=":
            return value
        try:
            return {self.INDIVIDUAL_OP_TO_MONGO[op]: value}
        except (KeyError, TypeError):
            raise _invalid("filter op", op, "is not a known operator") from None

    def _to_mongo_individual(self, filter: Mapping[str, Any]) -> dict[str, Any] | None:
        key = _require_mapping("filter key", filter["key"])
        name = _field("filter key", key, "name")
        # Blank, valueless (for ops other than = and !=) and disabled filters are skipped.
        if name == "":
            return None
        if filter.get("value") is None:
            op = _field("filter", filter, "op")
            if op != "=" and op != "!=":
                return None
        if filter.get("disabled"):
            return None
        section = _field("filter key", key, "section")
        if section == "tags":
            if _field("filter", filter, "op") == "IN":
                return {"tags": {"$in": filter["value"]}}
            if _field("filter", filter, "value") is False:
                return {"$or": [{"tags": None}, {"tags": {"$ne": name}}]}
            return {"tags": name}
        if section == "run" and name is None:
            return None
        path = self.key_to_server_path(key)
        op = _field("filter", filter, "op")
        value = _field("filter", filter, "value")
        return {path: self._to_mongo_op_value(op, value)}

    def filter_to_mongo(self, filter: Mapping[str, Any]) -> dict[str, Any] | None:
        """Convert a filter (individual or group, nested) to a mongo filter.

        Returns `None` for a filter that is skipped (blank key name, disabled, or no value for
        an operator other than `=` / `!=`) and for a dict that is neither kind; inside a group
        such children stay in the list as `None`, as in the SDK.
        """
        spec = _require_mapping("filter", filter)
        if self._is_individual(spec):
            return self._to_mongo_individual(spec)
        if self._is_group(spec):
            op = _field("filter group", spec, "op")
            try:
                mongo_op = self.GROUP_OP_TO_MONGO[op]
            except (KeyError, TypeError):
                raise _invalid("filter group op", op, "is not AND or OR") from None
            children = _iterate("filter group 'filters'", spec["filters"])
            return {mongo_op: [self.filter_to_mongo(child) for child in children]}
        return None

    def mongo_to_filter(self, filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Convert a mongo filter back to the filter format (`None` stays `None`).

        `$and` / `$or` anywhere among the keys makes a group (the first such key wins);
        otherwise only the first `path: value` / `path: {"$op": value}` item is converted.
        """
        if filter is None:
            return None
        spec = _require_mapping("mongo filter", filter)
        group_key = next((k for k in spec if k in self.MONGO_TO_GROUP_OP), None)
        if group_key is not None:
            children = _iterate(f"mongo filter {group_key!r}", spec[group_key])
            return {
                "op": self.MONGO_TO_GROUP_OP[group_key],
                "filters": [self.mongo_to_filter(child) for child in children],
            }
        for path, condition in spec.items():
            key = self.server_path_to_key(path)
            if not isinstance(condition, dict):
                return {"key": key, "op": "=", "value": condition}
            if not condition:
                raise _invalid("mongo filter", filter, f"has an empty condition for {path!r}")
            mongo_op = next(iter(condition))
            try:
                op = self.MONGO_TO_INDIVIDUAL_OP[mongo_op]
            except (KeyError, TypeError):
                raise _invalid("mongo operator", mongo_op, "is not supported") from None
            return {"key": key, "op": op, "value": condition[mongo_op]}
        return None


class PanelMetricsHelper:
    """Name translations between the W&B UI and the backend used by report panels."""

    FRONTEND_NAME_MAPPING: ClassVar[dict[str, str]] = {
        "Step": "_step",
        "Relative Time (Wall)": "_absolute_runtime",
        "Relative Time (Process)": "_runtime",
        "Wall Time": "_timestamp",
    }
    FRONTEND_NAME_MAPPING_REVERSED: ClassVar[dict[str, str]] = {
        back: front for front, back in FRONTEND_NAME_MAPPING.items()
    }

    RUN_MAPPING: ClassVar[dict[str, str]] = {
        "Created Timestamp": "createdAt",
        "Latest Timestamp": "heartbeatAt",
    }
    RUN_MAPPING_REVERSED: ClassVar[dict[str, str]] = {
        back: front for front, back in RUN_MAPPING.items()
    }

    @staticmethod
    def _lookup(table: Mapping[str, str], name: Any) -> Any:
        try:
            return table.get(name, name)
        except TypeError:
            raise _invalid("metric name", name, "is not hashable") from None

    def front_to_back(self, name: str) -> str:
        """Translate a UI metric name (e.g. `Step`) to its backend name (`_step`)."""
        return self._lookup(self.FRONTEND_NAME_MAPPING, name)

    def back_to_front(self, name: str) -> str:
        """Translate a backend metric name (e.g. `_step`) to its UI name (`Step`)."""
        return self._lookup(self.FRONTEND_NAME_MAPPING_REVERSED, name)

    def special_front_to_back(self, name: str | None) -> str | None:
        """Translate a ScatterPlot / ParallelCoordinates UI name to its backend name.

        `c::lr` -> `config:lr.value`, `s::acc` -> `summary:acc`, `Created Timestamp` ->
        `run:createdAt`, `Step` -> `summary:_step`, `Index` stays, others get `summary:`.
        """
        if name is None:
            return None
        text = _require_str("metric name", name)
        head = text.split(".", 1)[0]
        rest = text[len(head) :]
        if head.startswith("c::"):
            return f"config:{head[3:]}.value{rest}"
        if head.startswith("s::"):
            return f"summary:{text[3:]}"
        if text in self.RUN_MAPPING:
            return "run:" + self.RUN_MAPPING[text]
        if text in self.FRONTEND_NAME_MAPPING:
            return "summary:" + self.FRONTEND_NAME_MAPPING[text]
        if text == "Index":
            return text
        return "summary:" + text

    def special_back_to_front(self, name: str | None) -> str | None:
        """Translate a ScatterPlot / ParallelCoordinates backend name to its UI name.

        The name must contain a `:` (`kind:rest`); `config:lr.value` -> `c::lr`,
        `summary:acc` -> `s::acc`, `run:createdAt` -> `Created Timestamp`.
        """
        if name is None:
            return None
        text = _require_str("metric name", name)
        kind, colon, rest = text.partition(":")
        if not colon:
            raise _invalid("metric name", name, "has no 'kind:' prefix")
        if kind == "config":
            pieces = rest.split(".")
            if len(pieces) < 2:
                raise _invalid("metric name", name, "is not of the form config:<key>.value")
            # Drop the second piece (the `value` of `config:<key>.value[.<sub>]`).
            return "c::" + ".".join([pieces[0], *pieces[2:]])
        if kind == "summary":
            return "s::" + rest
        if "summary:" in text:
            stripped = text.replace("summary:", "")
            return self.FRONTEND_NAME_MAPPING_REVERSED.get(stripped, stripped)
        if "run:" in text:
            stripped = text.replace("run:", "")
            if stripped not in self.RUN_MAPPING_REVERSED:
                raise _invalid("metric name", name, "is not a known run column")
            return self.RUN_MAPPING_REVERSED[stripped]
        return text


class PythonMongoishQueryGenerator:
    """Translate Python-style comparisons (`acc > 0.9 and State == 'finished'`) to mongo filters.

    `run_set` is only consulted for its `_runs_config` attribute (a container of the config
    keys of the runs in a report's run set): a name found there becomes `config.<name>.value`,
    any other unknown name `summary_metrics.<name>`. Deliberate difference: `run_set=None` is
    accepted and means "no config keys" (the SDK needs a live `wandb_workspaces` run set).

    Quirks kept from the SDK: a bare name on the left may be dotted only inside quotes
    (`'a.b' > 1`; an unquoted `a.b > 1` is rejected), only the first operator of a chained
    comparison counts, negative literals (`x > -1`) and mixed `and`/`or` are rejected, and a
    bare name on the right-hand side is taken as a string (`a == b` means `a == 'b'`).
    """

    SPACER = "----------"
    DECIMAL_SPACER = ";;;"
    FRONTEND_NAME_MAPPING: ClassVar[dict[str, str]] = {
        "ID": "name",
        "Name": "displayName",
        "Tags": "tags",
        "State": "state",
        "CreatedTimestamp": "createdAt",
        "Runtime": "duration",
        "User": "username",
        "Sweep": "sweep",
        "Group": "group",
        "JobType": "jobType",
        "Hostname": "host",
        "UsingArtifact": "inputArtifacts",
        "OutputtingArtifact": "outputArtifacts",
        "Step": "_step",
        "Relative Time (Wall)": "_absolute_runtime",
        "Relative Time (Process)": "_runtime",
        "Wall Time": "_timestamp",
    }
    FRONTEND_NAME_MAPPING_REVERSED: ClassVar[dict[str, str]] = {
        back: front for front, back in FRONTEND_NAME_MAPPING.items()
    }
    AST_OPERATORS: ClassVar[dict[type[ast.AST], str]] = {
        ast.Lt: "$lt",
        ast.LtE: "$lte",
        ast.Gt: "$gt",
        ast.GtE: "$gte",
        ast.Eq: "=",
        ast.Is: "=",
        ast.NotEq: "$ne",
        ast.IsNot: "$ne",
        ast.In: "$in",
        ast.NotIn: "$nin",
        ast.And: "$and",
        ast.Or: "$or",
        ast.Not: "$not",
    }
    AST_FIELDS: ClassVar[dict[type[ast.AST], str]] = {
        ast.Constant: "value",
        ast.Name: "id",
        ast.List: "elts",
        ast.Tuple: "elts",
    }

    def __init__(self, run_set: Any = None) -> None:
        self.run_set = run_set
        self.panel_metrics_helper = PanelMetricsHelper()

    # --------------------------------------------------------------------------- config keys

    def _is_config_key(self, name: str) -> bool:
        if self.run_set is None:
            return False
        try:
            return name in self.run_set._runs_config
        except AttributeError:
            raise _invalid("run_set", self.run_set, "has no _runs_config") from None
        except TypeError:
            raise _invalid("run_set._runs_config", self.run_set, "is not a container") from None

    # ------------------------------------------------------------------------- text encoding

    def _encode(self, filterstr: str) -> str:
        """Hide the dots of dotted names from the parser, keeping decimal points intact."""
        if len(filterstr) < 2:
            raise _invalid("filter expression", filterstr, "is too short to be a comparison")
        last = len(filterstr) - 1
        decimal_points = {
            i
            for i in range(1, last)
            if filterstr[i] == "."
            and (
                (
                    filterstr[i - 1].isdigit()
                    and (filterstr[i + 1].isdigit() or filterstr[i + 1] == " ")
                )
                or (filterstr[i - 1] == " " and filterstr[i + 1].isdigit())
            )
        }
        if filterstr[last] == "." and filterstr[last - 1].isdigit():
            decimal_points.add(last)
        marked = "".join(
            self.DECIMAL_SPACER if i in decimal_points else char for i, char in enumerate(filterstr)
        )
        body = marked.replace(".", self.SPACER).replace(self.DECIMAL_SPACER, ".")
        return f"({body})"

    def _decode(self, text: str) -> str:
        return text.replace(self.SPACER, ".")

    # ---------------------------------------------------------------------------- AST walking

    def _operand(self, node: ast.AST) -> Any:
        # `ast.parse` never yields subclasses of these node types, so isinstance is exact here.
        if isinstance(node, ast.Constant):
            value = node.value
            return self._decode(value) if isinstance(value, str) else value
        if isinstance(node, ast.Name):
            return self._decode(node.id)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._operand(element) for element in node.elts]
        raise _invalid(
            "filter operand",
            ast.unparse(node),
            "must be a name, a literal, or a list or tuple of them",
        )

    def _comparison(self, node: ast.AST) -> dict[str, Any]:
        if not isinstance(node, ast.Compare):
            raise _invalid("filter expression", ast.unparse(node), "is not a comparison")
        left = self._operand(node.left)
        if not isinstance(left, str):
            raise _invalid("filter comparison", ast.unparse(node), "must have a name on the left")
        path = self.front_to_back(left)
        op = self.AST_OPERATORS[type(node.ops[0])]
        value = self._operand(node.comparators[0])
        return {path: value} if op == "=" else {path: {op: value}}

    def python_to_mongo(self, filterstr: str) -> dict[str, Any]:
        """Convert e.g. `"acc > 0.5 and State == 'finished'"` to a mongo filter.

        The result is always `{"$or": [{"$and" | "$or": [comparison, ...]}]}`.
        """
        text = _require_str("filter expression", filterstr)
        source = self._encode(text)
        try:
            tree = ast.parse(source, mode="eval")
        except (SyntaxError, ValueError) as e:
            raise _invalid(
                "filter expression",
                filterstr,
                "is an invalid python comparison expression; form something like `my_col == 123`",
            ) from e
        body = tree.body
        if isinstance(body, ast.BoolOp):
            op = self.AST_OPERATORS[type(body.op)]
            comparisons = [self._comparison(value) for value in body.values]
        elif isinstance(body, ast.Compare):
            op = "$and"
            comparisons = [self._comparison(body)]
        else:
            raise _invalid("filter expression", filterstr, "is not a comparison")
        return {"$or": [{op: comparisons}]}

    # ----------------------------------------------------------------------- name translation

    def front_to_back(self, name: str) -> str:
        """Translate a UI column name to a backend path.

        Known UI names (`State`, `Step`, ...) map to their backend names and backend names stay
        (both drop any `.suffix`); config keys become `config.<name>.value<.suffix>`; anything
        else becomes `summary_metrics.<name>`.
        """
        text = _require_str("column name", name)
        head = text.split(".", 1)[0]
        rest = text[len(head) :]
        if head in self.FRONTEND_NAME_MAPPING:
            return self.FRONTEND_NAME_MAPPING[head]
        if head in self.FRONTEND_NAME_MAPPING_REVERSED:
            return head
        if self._is_config_key(head):
            return f"config.{head}.value{rest}"
        return f"summary_metrics.{head}{rest}"

    def back_to_front(self, name: str) -> str:
        """Translate a backend path to a UI column name; unknown names are logged and kept."""
        text = _require_str("column name", name)
        if text in self.FRONTEND_NAME_MAPPING_REVERSED:
            return self.FRONTEND_NAME_MAPPING_REVERSED[text]
        if text in self.FRONTEND_NAME_MAPPING:
            return text
        if text.startswith("config.") and ".value" in text:
            return text.replace("config.", "").replace(".value", "")
        if text.startswith("summary_metrics."):
            return text.replace("summary_metrics.", "")
        logger.error("Unknown token: %s", text)
        return text

    def pc_front_to_back(self, name: str) -> str:
        """Translate a UI name to the backend name used by ParallelCoordinatesPlot panels."""
        text = _require_str("column name", name)
        head = text.split(".", 1)[0]
        rest = text[len(head) :]
        panel_names = self.panel_metrics_helper.FRONTEND_NAME_MAPPING
        if head in panel_names:
            return "summary:" + panel_names[head]
        if head in self.FRONTEND_NAME_MAPPING:
            return self.FRONTEND_NAME_MAPPING[head]
        if head in self.FRONTEND_NAME_MAPPING_REVERSED:
            return head
        if self._is_config_key(head):
            return f"config:{head}.value{rest}"
        return f"summary:{head}{rest}"

    def pc_back_to_front(self, name: str | None) -> str | None:
        """Translate a ParallelCoordinatesPlot backend name to a UI name (`None` stays)."""
        if name is None:
            return None
        text = _require_str("column name", name)
        if "summary:" in text:
            stripped = text.replace("summary:", "")
            reverse = self.panel_metrics_helper.FRONTEND_NAME_MAPPING_REVERSED
            return reverse.get(stripped, stripped)
        if text in self.FRONTEND_NAME_MAPPING_REVERSED:
            return self.FRONTEND_NAME_MAPPING_REVERSED[text]
        if text in self.FRONTEND_NAME_MAPPING:
            return text
        if text.startswith("config:") and ".value" in text:
            return text.replace("config:", "").replace(".value", "")
        if text.startswith("summary_metrics."):
            return text.replace("summary_metrics.", "")
        return text
