"""`Sweep`: a hyper-parameter search, its runs and its best run; `Sweeps` lists a project's."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.fields import NodeAttributes, count, wire_field
from prefect_wandb_public.api.paging import Paginator, project_connection
from prefect_wandb_public.api.queries.projects import (
    AGENT_RUNS_QUERY,
    SWEEP_AGENT_QUERY,
    SWEEP_AGENTS_QUERY,
    SWEEP_QUERY,
    SWEEPS_QUERY,
)
from prefect_wandb_public.api.query_generator import QueryGenerator
from prefect_wandb_public.api.runs import Run, Runs, encode_filters
from prefect_wandb_public.errors import NotFoundError

if TYPE_CHECKING:
    from prefect_wandb_public.api.client import Api


def _parse_config(text: Any) -> dict[str, Any]:
    """The sweep config arrives as YAML text."""
    if isinstance(text, Mapping):
        return dict(text)
    if not text:
        return {}
    import yaml

    loaded = yaml.safe_load(text)
    return dict(loaded) if isinstance(loaded, Mapping) else {}


class Agent(NodeAttributes):
    """A sweep agent: `id`, `name`, `host`, `state`, `total_runs`, `created_at`,
    `heartbeat_at`."""

    def __init__(self, client: Api, sweep: Sweep, attrs: Mapping[str, Any]) -> None:
        self.client = client
        self.sweep = sweep
        self._attrs = dict(attrs)

    def runs(self, per_page: int = 50) -> AgentRuns:
        """The runs this agent started, oldest first."""
        return AgentRuns(self, per_page)

    def __repr__(self) -> str:
        return f"<Agent {self._attrs.get('name')} ({self._attrs.get('state')})>"


class AgentRuns(Paginator["Run"]):
    """The runs one sweep agent started; `len()` is the agent's `totalRuns`."""

    QUERY = AGENT_RUNS_QUERY

    def __init__(self, agent: Agent, per_page: int = 50) -> None:
        self.agent = agent
        sweep = agent.sweep
        variables = {
            "agentID": agent._attrs.get("name"),
            "sweep": sweep.id,
            "entity": sweep.entity,
            "project": sweep.project,
        }
        super().__init__(agent.client, variables, per_page)

    def _node(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        sweep = ((data.get("project") or {}).get("sweep")) or {}
        node = sweep.get("agent")
        if node is None:
            raise NotFoundError(f"agent {self.variables['agentID']!r} of {self.agent.sweep!r} gone")
        return dict(node)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        conn: Mapping[str, Any] | None = self._node(data).get("runs")
        return conn

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Run:
        sweep = self.agent.sweep
        return Run(self.client, sweep.entity, sweep.project, node["name"], node)

    @property
    def length(self) -> int | None:
        if self.last_response is None:
            self.next_page()
        return int(self._node(self.last_response or {}).get("totalRuns") or 0)


class Sweep(NodeAttributes):
    """A sweep: `id`, `name`, `state`, `config` (parsed), `runs`, `best_run()`, `agents()`;
    other node fields by name (`display_name`, `updated_at`)."""

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        sweep_id: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.entity = entity
        self.project = project
        self.id = sweep_id
        self._attrs = dict(attrs or {})
        self.config = _parse_config(self._attrs.get("config"))
        self.runs = self._new_runs()

    def _new_runs(self) -> Runs:
        """The sweep's runs, oldest first, loaded lazily."""
        return Runs(
            self.client,
            self.entity,
            self.project,
            filters={"$and": [{"sweep": self.id}]},
            order="+created_at",
            per_page=10,
        )

    @classmethod
    def fetch(cls, client: Api, entity: str, project: str, sweep_id: str) -> Sweep:
        """Fetch sweep `entity/project/sweep_id` (NotFoundError naming it when missing)."""
        return cls(client, entity, project, sweep_id, cls._node(client, entity, project, sweep_id))

    @staticmethod
    def _node(client: Api, entity: str, project: str, sweep_id: str) -> dict[str, Any]:
        data = client.transport.graphql(
            SWEEP_QUERY, {"name": sweep_id, "project": project, "entity": entity}
        )
        if data.get("project") is None:
            raise NotFoundError(
                f"sweep {entity}/{project}/{sweep_id} not found: "
                f"project {entity}/{project} does not exist"
            )
        node = data["project"].get("sweep")
        if node is None:
            raise NotFoundError(f"sweep {entity}/{project}/{sweep_id} not found")
        return dict(node)

    def load(self, force: bool = False) -> Mapping[str, Any]:
        """The sweep's node fields, as 0.31's `Sweep.load`: fetched again (config and runs
        included) when nothing is loaded yet or `force` is true, else those already held."""
        if force or not self._attrs:
            self._attrs = self._node(self.client, self.entity, self.project, self.id)
            self.config = _parse_config(self._attrs.get("config"))
            self.runs = self._new_runs()
        return self._attrs

    @classmethod
    def get(
        cls,
        api: Api,
        entity: str | None = None,
        project: str | None = None,
        sid: str | None = None,
        order: str | None = None,
        query: str | None = None,
        **kwargs: Any,
    ) -> Sweep | None:
        """The official classmethod: load `entity/project/sid`, None when it does not exist."""
        try:
            return cls.fetch(
                api,
                entity or api.default_entity,
                project or api.default_project,
                sid or "",
            )
        except NotFoundError:
            return None

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self._attrs.get("displayName") or self.id)

    state: str | None = wire_field("state")

    @property
    def method(self) -> str | None:
        return self._attrs.get("method") or self.config.get("method")

    best_loss: float | None = wire_field("bestLoss")
    expected_run_count: int | None = wire_field("runCountExpected")
    run_count: int = wire_field("runCount", count)
    created_at: str | None = wire_field("createdAt")

    @property
    def username(self) -> str:
        """Deprecated in 0.31: the entity."""
        warnings.warn(
            "Sweep.username is deprecated. please use Sweep.entity instead.",
            DeprecationWarning,
            2,
        )
        return self.entity

    def agent(self, agent_id: str) -> Agent:
        """One agent of the sweep by name; NotFoundError when it has none of that name."""
        data = self.client.transport.graphql(
            SWEEP_AGENT_QUERY,
            {"agentID": agent_id, "sweep": self.id, "entity": self.entity, "project": self.project},
        )
        node = (((data.get("project") or {}).get("sweep")) or {}).get("agent")
        if not node:
            raise NotFoundError(f"sweep {'/'.join(self.path)} has no agent {agent_id!r}")
        return Agent(self.client, self, node)

    def agents(self) -> list[Agent]:
        """The agents that ran (or run) this sweep's trials; [] when the sweep is gone."""
        data = self.client.transport.graphql(
            SWEEP_AGENTS_QUERY, {"sweep": self.id, "entity": self.entity, "project": self.project}
        )
        sweep = (data.get("project") or {}).get("sweep") or {}
        edges = (sweep.get("agents") or {}).get("edges") or []
        return [Agent(self.client, self, e["node"]) for e in edges if e.get("node")]

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str:
        return f"{self.client.app_url}/{self.entity}/{self.project}/sweeps/{self.id}"

    @property
    def order(self) -> str | None:
        """Order that puts the best run first: the metric, ascending unless maximized."""
        metric = self.config.get("metric") or {}
        name = metric.get("name")
        if not name:
            return None
        prefix = "-" if metric.get("goal") == "maximize" else "+"
        return QueryGenerator.format_order_key(prefix + name)

    def best_run(self, order: str | None = None) -> Run | None:
        """The run ranked first by `order` (a bare metric means `summary_metrics.<metric>`,
        descending unless prefixed `+`), by default the sweep metric's goal; with neither, the
        first run created (as the official client answers). None when the sweep has no runs."""
        order = QueryGenerator.format_order_key(order) if order else self.order
        runs = Runs(
            self.client,
            self.entity,
            self.project,
            filters={"$and": [{"sweep": self.id}]},
            order=order or "+created_at",
            per_page=1,
        )
        return runs[0] if runs else None

    def __repr__(self) -> str:
        return f"<Sweep {self.entity}/{self.project}/{self.id} ({self.state})>"


class Sweeps(Paginator[Sweep]):
    """A project's sweeps."""

    QUERY = SWEEPS_QUERY

    def __init__(
        self,
        client: Api,
        entity: str,
        project: str,
        per_page: int = 50,
        filters: Mapping[str, Any] | None = None,
    ) -> None:
        self.entity = entity
        self.project = project
        variables = {"entity": entity, "project": project, "filters": encode_filters(filters)}
        super().__init__(client, variables, per_page)

    def connection(self, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return project_connection(data, self.entity, self.project, "sweeps")

    def convert(self, node: Mapping[str, Any], edge: Mapping[str, Any]) -> Sweep:
        return Sweep(self.client, self.entity, self.project, node["name"], node)

    @property
    def length(self) -> int | None:
        """The project's sweep count; a filtered listing counts by loading."""
        if self.variables.get("filters") not in (None, "{}"):
            return None
        if self.last_response is None:
            self.next_page()
        assert self.last_response is not None
        return int((self.last_response.get("project") or {}).get("totalSweeps") or 0)


__all__ = ["Agent", "AgentRuns", "Sweep", "Sweeps"]
