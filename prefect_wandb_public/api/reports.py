"""`Reports` (a project's saved reports) and `BetaReport`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from prefect_wandb_public.api.fields import NodeAttributes, text, wire_field
from prefect_wandb_public.api.paging import Paginator, project_connection
from prefect_wandb_public.api.queries.projects import REPORTS_QUERY
from prefect_wandb_public.api.query_generator import QueryGenerator
from prefect_wandb_public.api.runs import Runs
from prefect_wandb_public.errors import InvalidInputError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api


class Reports(Paginator["BetaReport"]):
    """A project's reports (optionally only the one named `name`)."""

    QUERY = REPORTS_QUERY
    CURSOR_VARIABLE = "reportCursor"
    SIZE_VARIABLE = "reportLimit"

    def __init__(
        self, client: Api, entity: str, project: str, name: str | None = None, per_page: int = 50
    ) -> None:
        self.entity = entity
        self.project = project
        self.name = name
        variables = {"entity": entity, "project": project, "viewName": name}
        super().__init__(client, variables, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return project_connection(data, self.entity, self.project, "allViews")

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> BetaReport:
        return BetaReport(self.client, node, entity=self.entity, project=self.project)

    def __repr__(self) -> str:
        return f"<Reports {self.entity}/{self.project}>"


class BetaReport(NodeAttributes):
    """A report: `name`, `display_name`, `description`, `user`, `spec` (parsed), `url`, and
    the runs of its panel sections (`runs(section)`)."""

    def __init__(
        self,
        client: Api,
        attrs: Mapping[str, Any],
        entity: str | None = None,
        project: str | None = None,
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        self._attrs = dict(attrs)
        self.query_generator = QueryGenerator()
        spec = self._attrs.get("spec")
        self.spec: dict[str, Any] = json.loads(spec) if isinstance(spec, str) else dict(spec or {})

    id: str = wire_field("id", text)
    name: str | None = wire_field("name")
    display_name: str | None = wire_field("displayName")
    description: str | None = wire_field("description")
    user: dict[str, Any] | None = wire_field("user")
    updated_at: str | None = wire_field("updatedAt")
    created_at: str | None = wire_field("createdAt")

    @property
    def sections(self) -> list[Any]:
        return list(self.spec.get("panelGroups") or [])

    def runs(
        self, section: Mapping[str, Any], per_page: int = 50, only_selected: bool = True
    ) -> Runs:
        """The runs of a section's open run set, filtered and sorted as the report shows them
        (with `only_selected`, only the runs ticked in the run set)."""
        try:
            run_set = section["runSets"][section.get("openRunSet", 0)]
            sort = run_set["sort"]
            order = (
                "+" if sort.get("ascending") else "-"
            ) + self.query_generator.key_to_server_path(sort["key"])
            filters = self.query_generator.filter_to_mongo(run_set["filters"]) or {}
            if only_selected:
                filters["$or"][0]["$and"].append({"name": {"$in": run_set["selections"]["tree"]}})
        except (KeyError, IndexError, TypeError) as exc:
            raise InvalidInputError(
                f"report section has no run set with sort, filters and selections: {exc!r}"
            ) from exc
        return Runs(
            self.client,
            self.entity or "",
            self.project or "",
            filters=filters,
            order=order,
            per_page=per_page,
        )

    @property
    def url(self) -> str:
        """`{app}/{entity}/{project}/reports/{slug}--{id}` as the web UI links reports."""
        slug = re.sub(r"\W+", "-", self.display_name or "").strip("-")
        return (
            f"{self.client.app_url}/{self.entity}/{self.project}/reports/"
            f"{quote(slug)}--{self.id.replace('=', '')}"
        )

    def __repr__(self) -> str:
        return f"<BetaReport {self.display_name!r}>"


__all__ = ["BetaReport", "Reports"]
