"""Run files: listing, deletion and uploads."""

from __future__ import annotations

FILE_FIELDS = "id name url(upload: $upload) directUrl sizeBytes mimetype updatedAt md5"

RUN_FILES_QUERY = (
    """
query RunFiles($project: String!, $entity: String!, $name: String!, $fileCursor: String,
    $fileLimit: Int = 50, $fileNames: [String] = [], $upload: Boolean = false, $pattern: String) {
  project(name: $project, entityName: $entity) {
    internalId
    run(name: $name) {
      fileCount
      files(names: $fileNames, after: $fileCursor, first: $fileLimit, pattern: $pattern) {
        edges { node { %s } cursor }
        pageInfo { endCursor hasNextPage }
      }
    }
  }
}
"""
    % FILE_FIELDS
)

DELETE_FILES_MUTATION = """
mutation DeleteFiles($files: [ID!]!, $projectId: Int) {
  deleteFiles(input: {files: $files, projectId: $projectId}) { success }
}
"""

CREATE_RUN_FILES_MUTATION = """
mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) {
    runID
    uploadHeaders
    files { name uploadUrl }
  }
}
"""

MARK_UPLOADED_MUTATION = """
mutation MarkRunFilesUploaded($entity: String!, $project: String!, $run: String!,
                              $files: [String!]!) {
  markRunFilesUploaded(input: {entityName: $entity, projectName: $project, runName: $run,
                               files: $files}) { success }
}
"""

MEMBERSHIP_FILES_QUERY = """
query ArtifactMembershipFiles($entity: String!, $project: String!, $collection: String!,
    $alias: String!, $fileNames: [String!], $cursor: String, $perPage: Int = 50) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $collection) {
      artifactMembership(aliasName: $alias) {
        files(names: $fileNames, after: $cursor, first: $perPage) {
          edges { node { id name url sizeBytes mimetype updatedAt md5 directUrl } cursor }
          pageInfo { endCursor hasNextPage }
        }
      }
    }
  }
}
"""


__all__ = [
    "CREATE_RUN_FILES_MUTATION",
    "DELETE_FILES_MUTATION",
    "FILE_FIELDS",
    "MARK_UPLOADED_MUTATION",
    "MEMBERSHIP_FILES_QUERY",
    "RUN_FILES_QUERY",
]
