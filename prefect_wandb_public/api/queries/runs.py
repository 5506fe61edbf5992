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


__all__ = [
    "CREATE_RUN_MUTATION",
    "DELETE_RUN_MUTATION",
    "FULL_RUN_FIELDS",
    "LIGHT_RUN_FIELDS",
    "LINEAGE_RUN_FIELDS",
    "RUNS_QUERY",
    "RUN_QUERY",
    "UPDATE_RUN_MUTATION",
]
