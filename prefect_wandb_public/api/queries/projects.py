"""The viewer, projects, sweeps and reports."""

from __future__ import annotations

from prefect_wandb_public.api.queries.runs import LIGHT_RUN_FIELDS
from prefect_wandb_public.api.queries.users import USER_FIELDS

VIEWER_QUERY = "query GetViewer { viewer { %s } }" % USER_FIELDS

PROJECT_FIELDS = (
    "id internalId name entityName createdAt isBenchmark readOnly user { name username }"
)

PROJECTS_QUERY = (
    """
query GetProjects($entity: String, $cursor: String, $perPage: Int = 50) {
  models(entityName: $entity, after: $cursor, first: $perPage) {
    pageInfo { endCursor hasNextPage }
    edges { node { %s } cursor }
  }
}
"""
    % PROJECT_FIELDS
)

PROJECT_QUERY = (
    """
query GetProject($name: String!, $entity: String!) {
  project(name: $name, entityName: $entity) { %s }
}
"""
    % PROJECT_FIELDS
)

SWEEP_FIELDS = """
  id name displayName method state description bestLoss config createdAt updatedAt
  runCount runCountExpected
"""

SWEEP_QUERY = (
    """
query GetSweep($name: String!, $project: String, $entity: String) {
  project(name: $project, entityName: $entity) { sweep(sweepName: $name) { %s } }
}
"""
    % SWEEP_FIELDS
)

SWEEPS_QUERY = (
    """
query GetSweeps($project: String!, $entity: String!, $filters: JSONString, $cursor: String,
    $perPage: Int = 50) {
  project(name: $project, entityName: $entity) {
    totalSweeps
    sweeps(after: $cursor, first: $perPage, filters: $filters) {
      pageInfo { endCursor hasNextPage }
      edges { node { %s } cursor }
    }
  }
}
"""
    % SWEEP_FIELDS
)

AGENT_FIELDS = "id name host state totalRuns createdAt heartbeatAt"

SWEEP_AGENTS_QUERY = (
    """
query GetSweepAgents($sweep: String!, $entity: String, $project: String) {
  project(name: $project, entityName: $entity) {
    sweep(sweepName: $sweep) { agents { edges { node { %s } } } }
  }
}
"""
    % AGENT_FIELDS
)

SWEEP_AGENT_QUERY = (
    """
query GetSweepAgent($agentID: String!, $sweep: String!, $entity: String, $project: String) {
  project(name: $project, entityName: $entity) {
    sweep(sweepName: $sweep) { agent(agentName: $agentID) { %s } }
  }
}
"""
    % AGENT_FIELDS
)

AGENT_RUNS_QUERY = (
    """
query GetAgentRuns($agentID: String!, $sweep: String!, $entity: String, $project: String,
    $cursor: String, $perPage: Int, $order: String = "+created_at") {
  project(name: $project, entityName: $entity) {
    sweep(sweepName: $sweep) {
      agent(agentName: $agentID) {
        totalRuns
        runs(after: $cursor, first: $perPage, order: $order) {
          pageInfo { endCursor hasNextPage }
          edges { cursor node { %s } }
        }
      }
    }
  }
}
"""
    % LIGHT_RUN_FIELDS
)

REPORTS_QUERY = """
query ProjectViews($project: String!, $entity: String!, $reportCursor: String,
    $reportLimit: Int!, $viewType: String = "runs", $viewName: String) {
  project(name: $project, entityName: $entity) {
    allViews(viewType: $viewType, viewName: $viewName, first: $reportLimit,
             after: $reportCursor) {
      edges {
        node {
          id name displayName description user { username photoUrl email }
          spec updatedAt createdAt
        }
        cursor
      }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""


__all__ = [
    "AGENT_FIELDS",
    "AGENT_RUNS_QUERY",
    "PROJECTS_QUERY",
    "PROJECT_FIELDS",
    "PROJECT_QUERY",
    "REPORTS_QUERY",
    "SWEEPS_QUERY",
    "SWEEP_AGENTS_QUERY",
    "SWEEP_AGENT_QUERY",
    "SWEEP_FIELDS",
    "SWEEP_QUERY",
    "VIEWER_QUERY",
]
