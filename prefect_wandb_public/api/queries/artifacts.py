"""Artifacts: lookup by name, manifests, types, collections, versions, aliases, lineage, and
the save pipeline's mutations."""

from __future__ import annotations

from prefect_wandb_public.api.queries.runs import LINEAGE_RUN_FIELDS

ARTIFACT_FIELDS = """
  id versionIndex state size digest fileCount commitHash createdAt updatedAt description metadata
  ttlDurationSeconds ttlIsInherited historyStep digestAlgorithm
  artifactType { name }
  artifactSequence { name project { name entity { name } } }
  aliases { alias artifactCollection { name project { name entity { name } } } }
  tags { id name }
"""

COLLECTION_FIELDS = """
  __typename id name description createdAt updatedAt type: defaultArtifactType { name }
  project { id internalId name entity { name } }
  tags { edges { node { id name } } }
"""

ARTIFACT_BY_NAME_QUERY = (
    """
query ArtifactMembershipByName($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactCollectionMembership(name: $name) {
      versionIndex createdAt
      artifactCollection { __typename name project { name entity { name } } }
      artifact { %s currentManifest { file { directUrl } } }
    }
  }
}
"""
    % ARTIFACT_FIELDS
)

MANIFEST_QUERY = """
query FetchArtifactManifest($id: ID!) {
  artifact(id: $id) { currentManifest { file { directUrl } } }
}
"""

PROJECT_COLLECTIONS_QUERY = (
    """
query ProjectArtifactCollections($entity: String!, $project: String!, $cursor: String,
    $perPage: Int, $filters: JSONString, $order: String) {
  project(name: $project, entityName: $entity) {
    artifactCollections(after: $cursor, first: $perPage, filters: $filters, order: $order) {
      totalCount
      edges { node { %s } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""
    % COLLECTION_FIELDS
)

UPDATE_SEQUENCE_MUTATION = """
mutation UpdateArtifactSequence($input: UpdateArtifactSequenceInput!) {
  updateArtifactSequence(input: $input) { artifactCollection { id name } }
}
"""

UPDATE_PORTFOLIO_MUTATION = """
mutation UpdateArtifactPortfolio($input: UpdateArtifactPortfolioInput!) {
  updateArtifactPortfolio(input: $input) { artifactCollection { id name } }
}
"""

MOVE_SEQUENCE_MUTATION = """
mutation UpdateArtifactSequenceType($input: MoveArtifactSequenceInput!) {
  moveArtifactSequence(input: $input) { artifactCollection { id name } }
}
"""

ADD_COLLECTION_TAGS_MUTATION = """
mutation AddArtifactCollectionTags($input: CreateArtifactCollectionTagAssignmentsInput!) {
  createArtifactCollectionTagAssignments(input: $input) { tags { id name } }
}
"""

DELETE_COLLECTION_TAGS_MUTATION = """
mutation DeleteArtifactCollectionTags($input: DeleteArtifactCollectionTagAssignmentsInput!) {
  deleteArtifactCollectionTagAssignments(input: $input) { success }
}
"""

DELETE_SEQUENCE_MUTATION = """
mutation DeleteArtifactSequence($id: ID!) {
  deleteArtifactSequence(input: {artifactSequenceID: $id}) {
    artifactCollection { __typename state }
  }
}
"""

DELETE_PORTFOLIO_MUTATION = """
mutation DeleteArtifactPortfolio($id: ID!) {
  deleteArtifactPortfolio(input: {artifactPortfolioID: $id}) {
    artifactCollection { __typename state }
  }
}
"""

ARTIFACT_TYPES_QUERY = """
query ProjectArtifactTypes($entity: String!, $project: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactTypes(after: $cursor, first: $perPage) {
      edges { node { id name description createdAt } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

ARTIFACT_TYPE_QUERY = """
query ProjectArtifactType($entity: String!, $project: String!, $type: String!) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) { id name description createdAt }
  }
}
"""

TYPE_COLLECTIONS_QUERY = (
    """
query ArtifactTypeArtifactCollections($entity: String!, $project: String!, $type: String!,
    $cursor: String, $perPage: Int, $filters: JSONString, $order: String) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollections(after: $cursor, first: $perPage, filters: $filters, order: $order) {
        totalCount
        edges { node { %s } cursor }
        pageInfo { endCursor hasNextPage }
      }
    }
  }
}
"""
    % COLLECTION_FIELDS
)

COLLECTION_QUERY = (
    """
query ProjectArtifactCollection($entity: String!, $project: String!, $type: String!,
    $name: String!) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) { artifactCollection(name: $name) { %s } }
  }
}
"""
    % COLLECTION_FIELDS
)

COLLECTION_ALIASES_QUERY = """
query ArtifactCollectionAliases($id: ID!, $cursor: String, $perPage: Int = 1000) {
  artifactCollection(id: $id) {
    aliases(after: $cursor, first: $perPage) {
      edges { node { alias } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

VERSIONS_QUERY = (
    """
query ProjectArtifacts($entity: String!, $project: String!, $type: String!,
    $collection: String!, $cursor: String, $perPage: Int = 50, $order: String,
    $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollection(name: $collection) {
        artifacts(after: $cursor, first: $perPage, order: $order, filters: $filters) {
          totalCount
          edges { version node { %s } cursor }
          pageInfo { endCursor hasNextPage }
        }
      }
    }
  }
}
"""
    % ARTIFACT_FIELDS
)

RUN_ARTIFACTS_QUERY = """
query %s($entity: String!, $project: String!, $run: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    run(name: $run) {
      artifacts: %s(after: $cursor, first: $perPage) {
        totalCount
        edges { node { %s } cursor }
        pageInfo { endCursor hasNextPage }
      }
    }
  }
}
"""

USED_BY_QUERY = """
query ArtifactUsedBy($id: ID!) {
  artifact(id: $id) { usedBy { edges { node { %s } } } }
}
""" % (LINEAGE_RUN_FIELDS)

CREATED_BY_QUERY = """
query ArtifactCreatedBy($id: ID!) {
  artifact(id: $id) { createdBy { __typename ... on Run { %s } } }
}
""" % (LINEAGE_RUN_FIELDS)

ADD_ALIASES_MUTATION = """
mutation AddAliases($input: AddAliasesInput!) { addAliases(input: $input) { success } }
"""

DELETE_ALIASES_MUTATION = """
mutation DeleteAliases($input: DeleteAliasesInput!) { deleteAliases(input: $input) { success } }
"""

UPDATE_ARTIFACT_MUTATION = (
    """
mutation UpdateArtifact($input: UpdateArtifactInput!) {
  updateArtifact(input: $input) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)

DELETE_ARTIFACT_MUTATION = """
mutation DeleteArtifact($input: DeleteArtifactInput!) {
  deleteArtifact(input: $input) { artifact { id } }
}
"""

USE_ARTIFACT_MUTATION = (
    """
mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!,
    $artifactID: ID!, $usedAs: String) {
  useArtifact(input: {entityName: $entityName, projectName: $projectName, runName: $runName,
                      artifactID: $artifactID, usedAs: $usedAs}) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)

CREATE_ARTIFACT_MUTATION = (
    """
mutation CreateArtifact($artifactTypeName: String!, $artifactCollectionNames: [String!],
    $entityName: String!, $projectName: String!, $runName: String, $digest: String!,
    $digestAlgorithm: ArtifactDigestAlgorithm!, $aliases: [ArtifactAliasInput!],
    $tags: [TagInput!]) {
  createArtifact(input: {artifactTypeName: $artifactTypeName,
      artifactCollectionNames: $artifactCollectionNames, entityName: $entityName,
      projectName: $projectName, runName: $runName, digest: $digest,
      digestAlgorithm: $digestAlgorithm, aliases: $aliases, tags: $tags,
      enableDigestDeduplication: true}) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)

# ---------------------------------------------------------------------- the save pipeline
UPSERT_PROJECT_MUTATION = """
mutation UpsertModel($input: UpsertModelInput!) { upsertModel(input: $input) { project { id } } }
"""

CREATE_AUTO_RUN_MUTATION = """
mutation CreateAutoRun($entity: String, $project: String, $name: String!) {
  upsertBucket(input: {entityName: $entity, modelName: $project, name: $name,
                       jobType: "auto", state: "finished"}) { bucket { id } }
}
"""

SAVE_ARTIFACT_MUTATION = (
    """
mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)

CREATE_MANIFEST_MUTATION = """
mutation CreateArtifactManifest($input: CreateArtifactManifestInput!) {
  createArtifactManifest(input: $input) {
    artifactManifest { id file { id uploadUrl uploadHeaders } }
  }
}
"""

CREATE_ARTIFACT_FILES_MUTATION = """
mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) {
    files {
      edges {
        node {
          name
          storagePath
          uploadUrl
          uploadHeaders
          uploadMultipartUrls { uploadID uploadUrlParts { partNumber uploadUrl } }
          artifact { id }
        }
      }
    }
  }
}
"""

# Transfer notes §3.2: the document wandb-core 0.31 sends once every part is stored.
COMPLETE_MULTIPART_MUTATION = """
mutation CompleteMultipartUploadArtifact($completeMultipartAction: CompleteMultipartAction!,
    $completedParts: [UploadPartsInput!]!, $artifactID: ID!, $storagePath: String!,
    $uploadID: String!) {
  completeMultipartUploadArtifact(input: {completeMultipartAction: $completeMultipartAction,
      completedParts: $completedParts, artifactID: $artifactID, storagePath: $storagePath,
      uploadID: $uploadID}) {
    digest
  }
}
"""

ARTIFACT_BY_ID_QUERY = (
    """
query ArtifactByID($id: ID!) { artifact(id: $id) { %s } }
"""
    % ARTIFACT_FIELDS
)

COMMIT_ARTIFACT_MUTATION = (
    """
mutation CommitArtifact($input: CommitArtifactInput!) {
  commitArtifact(input: $input) { artifact { %s } }
}
"""
    % ARTIFACT_FIELDS
)


__all__ = [
    "ADD_ALIASES_MUTATION",
    "ADD_COLLECTION_TAGS_MUTATION",
    "ARTIFACT_BY_ID_QUERY",
    "ARTIFACT_BY_NAME_QUERY",
    "ARTIFACT_FIELDS",
    "ARTIFACT_TYPES_QUERY",
    "ARTIFACT_TYPE_QUERY",
    "COLLECTION_ALIASES_QUERY",
    "COLLECTION_FIELDS",
    "COLLECTION_QUERY",
    "COMMIT_ARTIFACT_MUTATION",
    "COMPLETE_MULTIPART_MUTATION",
    "CREATED_BY_QUERY",
    "CREATE_ARTIFACT_FILES_MUTATION",
    "CREATE_ARTIFACT_MUTATION",
    "CREATE_AUTO_RUN_MUTATION",
    "CREATE_MANIFEST_MUTATION",
    "DELETE_ALIASES_MUTATION",
    "DELETE_ARTIFACT_MUTATION",
    "DELETE_COLLECTION_TAGS_MUTATION",
    "DELETE_PORTFOLIO_MUTATION",
    "DELETE_SEQUENCE_MUTATION",
    "MANIFEST_QUERY",
    "MOVE_SEQUENCE_MUTATION",
    "PROJECT_COLLECTIONS_QUERY",
    "RUN_ARTIFACTS_QUERY",
    "SAVE_ARTIFACT_MUTATION",
    "TYPE_COLLECTIONS_QUERY",
    "UPDATE_ARTIFACT_MUTATION",
    "UPDATE_PORTFOLIO_MUTATION",
    "UPDATE_SEQUENCE_MUTATION",
    "UPSERT_PROJECT_MUTATION",
    "USED_BY_QUERY",
    "USE_ARTIFACT_MUTATION",
    "VERSIONS_QUERY",
]
