"""GraphQL mechanics of the local server: schema loading, cached parse + validation, fast execution.

graphql-core validates every document exactly as a spec-compliant server does (so an unknown field
fails with the usual "Cannot query field ..." message). Execution is graphql-core's, with one
shortcut: a leaf field read straight from a dict (no arguments, no resolver) is serialized in place
instead of going through the generic per-field machinery, which is most of the cost of a page of
runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
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

_SCHEMA_FILES = ("schema.graphql",)


def load_schema() -> GraphQLSchema:
    """Build the schema from the SDL files shipped beside this module."""
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


_Leaf = tuple[bool, Callable[[Any], Any], bool]  # (is_list, serialize, non_null)


class FastExecutionContext(ExecutionContext):
    """Completes plain leaf values of dict sources inline; everything else as graphql-core does."""

    _leaves: dict[tuple[str, str], _Leaf | None] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[Any]],
    ) -> Any:
        if not isinstance(source_value, dict):
            return super().execute_fields(parent_type, source_value, path, fields)
        results: dict[str, Any] = {}
        for response_name, field_nodes in fields.items():
            node = field_nodes[0]
            name = node.name.value
            leaf = self._leaf(parent_type, name)
            if leaf is not None and not node.arguments:
                value = source_value.get(name)
                if not callable(value) and (value is not None or not leaf[2]):
                    results[response_name] = _serialize(leaf, value)
                    continue
            results[response_name] = self.execute_field(
                parent_type, source_value, field_nodes, Path(path, response_name, parent_type.name)
            )
        return results

    @classmethod
    def _leaf(cls, parent_type: GraphQLObjectType, name: str) -> _Leaf | None:
        key = (parent_type.name, name)
        if key not in cls._leaves:
            cls._leaves[key] = _leaf_of(parent_type, name)
        return cls._leaves[key]


def _leaf_of(parent_type: GraphQLObjectType, name: str) -> _Leaf | None:
    field = parent_type.fields.get(name)
    if field is None or field.resolve is not None:
        return None
    nullable = get_nullable_type(field.type)
    non_null = isinstance(field.type, GraphQLNonNull)
    if is_leaf_type(nullable):
        return (False, nullable.serialize, non_null)
    if is_list_type(nullable):
        item = get_nullable_type(nullable.of_type)
        if is_leaf_type(item):
            return (True, item.serialize, non_null)
    return None


def _serialize(leaf: _Leaf, value: Any) -> Any:
    if value is None:
        return None
    is_list, serialize, _ = leaf
    if is_list:
        return [None if item is None else serialize(item) for item in value]
    return serialize(value)


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
