"""GraphQL mechanics of the local server: schema loading, cached parse + validation, fast execution.

graphql-core validates every document exactly as a spec-compliant server does (so an unknown field
fails with the usual "Cannot query field ..." message). Execution is graphql-core's, with one
shortcut: a leaf field read straight from a dict (no arguments, no resolver) is serialized in place
instead of going through the generic per-field machinery, which is most of the cost of a page of
runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    build_schema,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    parse,
    validate,
)
from graphql.execution import ExecutionContext, ExecutionResult, execute
from graphql.pyutils import Path

_SCHEMA_FILES = (
    "schema.graphql",
    "schema_artifacts.graphql",
    "schema_accounts.graphql",
    "schema_registry.graphql",
)


@lru_cache(maxsize=1)
def load_schema() -> GraphQLSchema:
    """Build the schema from the SDL files shipped beside this module, once per process: every
    server shares it (it holds no state), so field plans made for one apply to all."""
    package = resources.files("prefect_wandb_public.testing")
    sdl = "\n".join(package.joinpath(name).read_text() for name in _SCHEMA_FILES)
    return build_schema(sdl)


def resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Read a field from a dict (or attribute); callables are lazy fields called with the args."""
    value = (
        source.get(info.field_name)
        if isinstance(source, Mapping)
        else getattr(source, info.field_name, None)
    )
    return value(**args) if callable(value) else value


@dataclass(frozen=True)
class _Plan:
    """How to complete one field of a dict source without graphql-core's per-field machinery."""

    is_list: bool
    non_null: bool
    item_non_null: bool
    serialize: Callable[[Any], Any] | None = None  # leaf fields
    trusted: tuple[type, ...] = ()  # leaf values of these exact types are already serialized
    object_type: GraphQLObjectType | None = None  # object fields


_TYPENAME = "__typename"
# Python types that the standard scalars serialize to themselves.
_TRUSTED = {
    GraphQLString.name: (str,),
    GraphQLID.name: (str,),
    GraphQLBoolean.name: (bool,),
    GraphQLInt.name: (int,),
    GraphQLFloat.name: (float,),
}

_Compiled = list[tuple[str, str, "_Plan | None", list[Any]]]


class FastExecutionContext(ExecutionContext):
    """Completes fields of dict sources inline: leaves are serialized in place and plain nested
    dicts (objects, lists of objects) recurse directly. Anything else (callables, arguments,
    nulls in non-null positions, meta fields) goes through graphql-core as usual. The field list
    of each selection set is compiled once per request."""

    # Keyed by the type object, not its name: a plan holds types of the schema it was made for.
    _plans: dict[tuple[GraphQLObjectType, str], _Plan | None] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[Any]],
    ) -> Any:
        if not isinstance(source_value, dict):
            return super().execute_fields(parent_type, source_value, path, fields)
        return self._execute_compiled(
            parent_type, source_value, path, self._compile(parent_type, fields)
        )

    def _execute_compiled(
        self,
        parent_type: GraphQLObjectType,
        source_value: dict[str, Any],
        path: Path | None,
        compiled: _Compiled,
    ) -> dict[str, Any]:
        results: dict[str, Any] = {}
        get = source_value.get
        for response_name, name, plan, field_nodes in compiled:
            if plan is not None:
                value = get(name)
                if type(value) in plan.trusted or (value is None and not plan.non_null):
                    results[response_name] = value
                    continue
                done, completed = self._complete_inline(
                    plan, value, field_nodes, path, response_name
                )
                if done:
                    results[response_name] = completed
                    continue
            elif name == _TYPENAME:
                results[response_name] = parent_type.name
                continue
            results[response_name] = self.execute_field(
                parent_type, source_value, field_nodes, Path(path, response_name, parent_type.name)
            )
        return results

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_nodes: list[Any],
        info: GraphQLResolveInfo,
        path: Path,
        result: Any,
    ) -> Any:
        """A resolver's list of leaves (history rows, events) passes through in one step when
        every item already has its serialized form; otherwise item by item as usual."""
        item_type = return_type.of_type
        nullable = get_nullable_type(item_type)
        if isinstance(result, list) and is_leaf_type(nullable):
            allows_null = not isinstance(item_type, GraphQLNonNull)
            identity = nullable.serialize is GraphQLScalarType.serialize
            if identity and (allows_null or None not in result):
                return list(result)
            trusted = _TRUSTED.get(nullable.name, ())
            if trusted and all(
                type(item) in trusted or (item is None and allows_null) for item in result
            ):
                return list(result)
        return super().complete_list_value(return_type, field_nodes, info, path, result)

    def _compile(self, parent_type: GraphQLObjectType, fields: dict[str, list[Any]]) -> _Compiled:
        """(response name, field name, plan or None, nodes) per field, cached for this request."""
        cache: dict[tuple[str, int], tuple[Any, _Compiled]] = self.__dict__.setdefault(
            "_compiled", {}
        )
        key = (parent_type.name, id(fields))
        hit = cache.get(key)
        if hit is not None and hit[0] is fields:
            return hit[1]
        compiled: _Compiled = []
        for response_name, field_nodes in fields.items():
            node = field_nodes[0]
            name = node.name.value
            plan = None if node.arguments else self._plan(parent_type, name)
            compiled.append((response_name, name, plan, field_nodes))
        cache[key] = (fields, compiled)
        return compiled

    def _complete_inline(
        self,
        plan: _Plan,
        value: Any,
        field_nodes: list[Any],
        path: Path | None,
        response_name: str,
    ) -> tuple[bool, Any]:
        """(True, result) when the value is plain data this plan completes; else (False, None)."""
        if value is None:
            return (not plan.non_null, None)
        if callable(value):
            return (False, None)
        if plan.is_list:
            if not isinstance(value, (list, tuple)):
                return (False, None)
            if plan.item_non_null and any(item is None for item in value):
                return (False, None)
        if plan.serialize is not None:
            serialize = plan.serialize
            if plan.is_list:
                return (True, [None if item is None else serialize(item) for item in value])
            return (True, serialize(value))
        object_type = plan.object_type
        assert object_type is not None
        compiled = self._compile(object_type, self.collect_subfields(object_type, field_nodes))
        field_path = Path(path, response_name, None)
        if not plan.is_list:
            if not isinstance(value, dict):
                return (False, None)
            return (True, self._execute_compiled(object_type, value, field_path, compiled))
        if not all(item is None or isinstance(item, dict) for item in value):
            return (False, None)
        execute = self._execute_compiled
        return (
            True,
            [
                None
                if item is None
                else execute(object_type, item, Path(field_path, index, None), compiled)
                for index, item in enumerate(value)
            ],
        )

    @classmethod
    def _plan(cls, parent_type: GraphQLObjectType, name: str) -> _Plan | None:
        key = (parent_type, name)
        if key not in cls._plans:
            cls._plans[key] = _plan_of(parent_type, name)
        return cls._plans[key]


def _plan_of(parent_type: GraphQLObjectType, name: str) -> _Plan | None:
    field = parent_type.fields.get(name)
    if field is None or field.resolve is not None:
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    nullable = get_nullable_type(field.type)
    is_list = is_list_type(nullable)
    item_type = nullable.of_type if is_list else nullable
    item_non_null = is_list and isinstance(item_type, GraphQLNonNull)
    item = get_nullable_type(item_type)
    if is_leaf_type(item):
        trusted = () if is_list else _TRUSTED.get(item.name, ())
        return _Plan(is_list, non_null, item_non_null, serialize=item.serialize, trusted=trusted)
    if isinstance(item, GraphQLObjectType) and item.is_type_of is None:
        return _Plan(is_list, non_null, item_non_null, object_type=item)
    return None


class GraphQLEngine:
    """Parses, validates (both cached by query text) and executes documents against one schema."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self._prepare = lru_cache(maxsize=512)(self._prepare_uncached)

    def _prepare_uncached(self, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        try:
            document = parse(query)
        except GraphQLError as exc:
            return None, [exc]
        return document, validate(self.schema, document)

    def operation_name(self, query: str, requested: str | None) -> str | None:
        """The name of the operation that will run: the requested one, else the only one."""
        document, _ = self._prepare(query)
        if document is None:
            return requested or None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if requested:
            return requested
        if len(operations) == 1 and operations[0].name is not None:
            return operations[0].name.value
        return None

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        root: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Run one request; returns the response body (`data` and/or `errors`)."""
        document, errors = self._prepare(query)
        if document is None or errors:
            return {"errors": [e.formatted for e in errors]}
        declared = _declared_variables(document, operation_name)
        given = {k: v for k, v in (variables or {}).items() if k in declared}
        result = execute(
            self.schema,
            document,
            root_value=root,
            variable_values=given,
            operation_name=operation_name or None,
            field_resolver=resolve_field,
            execution_context_class=FastExecutionContext,
        )
        assert isinstance(result, ExecutionResult), "resolvers are synchronous"
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        return body


def _declared_variables(document: DocumentNode, operation_name: str | None) -> set[str]:
    """Variables the chosen operation declares; clients send extra ones that must be ignored."""
    names: set[str] = set()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name and (definition.name is None or definition.name.value != operation_name):
            continue
        names.update(v.variable.name.value for v in definition.variable_definitions or ())
    return names


__all__ = [
    "FastExecutionContext",
    "GraphQLEngine",
    "load_schema",
    "resolve_field",
]
