"""Runs: the listing, one run, and the run mutations."""

from __future__ import annotations

LIGHT_RUN_FIELDS = """
  id tags name displayName sweepName state group jobType commit readOnly createdAt heartbeatAt
  description notes historyLineCount projectId user { name username }
"""
FULL_RUN_FIELDS = LIGHT_RUN_FIELDS + " config systemMetrics summaryMetrics historyKeys"

RUNS_QUERY = """
query Runs($project: String!, $entity: String!, $cursor: String, $perPage: Int = 50,
           $order: String, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    internalId
    runCount(filters: $filters)
    readOnly
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges { node { %s } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

RUN_QUERY = (
    """
query Run($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) { run(name: $name) { %s } }
}
"""
    % FULL_RUN_FIELDS
)

UPDATE_RUN_MUTATION = (
    """
mutation UpsertBucket($id: String!, $description: String, $display_name: String, $notes: String,
    $tags: [String!], $config: JSONString!, $groupName: String, $jobType: String,
    $summaryMetrics: JSONString) {
  upsertBucket(input: {id: $id, description: $description, displayName: $display_name,
      notes: $notes, tags: $tags, config: $config, groupName: $groupName, jobType: $jobType,
      summaryMetrics: $summaryMetrics}) {
    bucket { %s }
  }
}
"""
    % FULL_RUN_FIELDS
)

CREATE_RUN_MUTATION = (
    """
mutation CreateRun($project: String, $entity: String, $name: String!, $state: String) {
  upsertBucket(input: {modelName: $project, entityName: $entity, name: $name, state: $state}) {
    bucket { %s }
    inserted
  }
}
"""
    % FULL_RUN_FIELDS
)

DELETE_RUN_MUTATION = """
mutation DeleteRun($id: ID!, $deleteArtifacts: Boolean) {
  deleteRun(input: {id: $id, deleteArtifacts: $deleteArtifacts}) { clientMutationId }
}
"""

LINEAGE_RUN_FIELDS = LIGHT_RUN_FIELDS + " project { name entity { name } }"

UPDATE_SUMMARY_MUTATION = """
mutation UpsertBucket($id: String, $summaryMetrics: JSONString) {
  upsertBucket(input: {id: $id, summaryMetrics: $summaryMetrics}) { bucket { id } }
}
"""

RUN_STATE_QUERY = """
query RunState($project: String!, $entity: String!, $name: String!) {
  project(name: $project, entityName: $entity) { run(name: $name) { state } }
}
"""

UPDATE_RUN_STATE_MUTATION = """
mutation UpdateRunState($input: UpdateRunStateInput!) {
  updateRunState(input: $input) { success }
}
"""

STOP_RUN_MUTATION = """
mutation StopRun($id: ID!) { stopRun(input: {id: $id}) { success } }
"""

LOG_LINE_FIELDS = "edges { node { number timestamp level label line } }"

CONSOLE_LOG_PAGE_QUERY = (
    """
query RunConsoleLogPage($entity: String!, $project: String!, $runName: String!, $first: Int,
    $after: String) {
  project(name: $project, entityName: $entity) {
    run(name: $runName) {
      logLineCount
      logLines(first: $first, after: $after, useImprovedPagination: true) {
        %s pageInfo { endCursor hasNextPage }
      }
    }
  }
}
"""
    % LOG_LINE_FIELDS
)

CONSOLE_LOG_TAIL_QUERY = (
    """
query RunConsoleLogTail($entity: String!, $project: String!, $runName: String!, $last: Int!) {
  project(name: $project, entityName: $entity) {
    run(name: $runName) { logLineCount logLines(last: $last) { %s } }
  }
}
"""
    % LOG_LINE_FIELDS
)


__all__ = [
    "CONSOLE_LOG_PAGE_QUERY",
    "CONSOLE_LOG_TAIL_QUERY",
    "CREATE_RUN_MUTATION",
    "DELETE_RUN_MUTATION",
    "FULL_RUN_FIELDS",
    "LIGHT_RUN_FIELDS",
    "LINEAGE_RUN_FIELDS",
    "LOG_LINE_FIELDS",
    "RUNS_QUERY",
    "RUN_QUERY",
    "RUN_STATE_QUERY",
    "STOP_RUN_MUTATION",
    "UPDATE_RUN_MUTATION",
    "UPDATE_RUN_STATE_MUTATION",
    "UPDATE_SUMMARY_MUTATION",
]
