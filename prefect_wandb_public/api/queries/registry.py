"""Organizations, registries, registry searches and links (registry notes §1.2-§1.10)."""

from __future__ import annotations

from prefect_wandb_public.api.queries.artifacts import ARTIFACT_FIELDS

SERVER_FEATURES_QUERY = """
query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }
"""

ORG_INFO_QUERY = """
query FetchOrgInfoFromEntity($entity: String!) {
  entity(name: $entity) {
    organization { name orgEntity { name } }
    user { organizations { name orgEntity { name } } }
  }
}
"""

ORGANIZATION_QUERY = """
query FetchOrganization($org: String!) {
  organization(name: $org) { id name orgEntity { __typename id name entityType } }
}
"""

ADVANCED_FEATURES_QUERY = """
query FetchAdvancedRegistryFeatures($organization: String!) {
  organization(name: $organization) { advancedRegistryFeatures { advancedSearch } }
}
"""

REGISTRY_FIELDS = """
  __typename id internalId name description createdAt updatedAt access
  entity { name organization { name } }
  allowAllArtifactTypes: allowAllArtifactTypesInRegistry
  artifactTypes(includeAll: true) { edges { node { name } } }
"""

REGISTRIES_QUERY = (
    """
query FetchRegistries($organization: String!, $filters: JSONString, $cursor: String,
    $perPage: Int, $order: String) {
  organization(name: $organization) {
    orgEntity {
      projects(filters: $filters, after: $cursor, first: $perPage, order: $order) {
        pageInfo { endCursor hasNextPage }
        edges { node { %s } cursor }
      }
    }
  }
}
"""
    % REGISTRY_FIELDS
)

REGISTRY_QUERY = (
    """
query FetchRegistry($name: String, $entity: String) {
  entity(name: $entity) { project(name: $name) { %s } }
}
"""
    % REGISTRY_FIELDS
)

UPSERT_REGISTRY_MUTATION = (
    """
mutation UpsertRegistry($input: UpsertModelInput!) {
  upsertModel(input: $input) { inserted project { %s } }
}
"""
    % REGISTRY_FIELDS
)

RENAME_REGISTRY_MUTATION = (
    """
mutation RenameRegistry($input: RenameProjectInput!) {
  renameProject(input: $input) { inserted project { %s } }
}
"""
    % REGISTRY_FIELDS
)

DELETE_REGISTRY_MUTATION = """
mutation DeleteRegistry($id: String!) { deleteModel(input: {id: $id}) { success } }
"""

REGISTRY_COLLECTION_FIELDS = """
  __typename id name description createdAt updatedAt
  project { name internalId entity { name } }
  type: defaultArtifactType { name }
  tags { edges { node { name } } }
"""

REGISTRY_COLLECTIONS_QUERY = (
    """
query RegistryCollections($organization: String!, $registryFilter: JSONString,
    $collectionFilter: JSONString, $collectionTypes: [ArtifactCollectionType!] = [PORTFOLIO],
    $cursor: String, $perPage: Int, $order: String) {
  organization(name: $organization) {
    orgEntity {
      name
      artifactCollections(projectFilters: $registryFilter, filters: $collectionFilter,
          collectionTypes: $collectionTypes, after: $cursor, first: $perPage, order: $order) {
        totalCount
        pageInfo { endCursor hasNextPage }
        edges { node { %s } cursor }
      }
    }
  }
}
"""
    % REGISTRY_COLLECTION_FIELDS
)

# A link (or a version's own membership) with the source version it points at.
MEMBERSHIP_FIELDS = (
    """
  id versionIndex createdAt
  aliases { alias }
  artifactCollection { __typename name project { name entity { name } } }
  artifact { %s }
"""
    % ARTIFACT_FIELDS
)

REGISTRY_VERSIONS_QUERY = (
    """
query RegistryVersions($organization: String!, $registryFilter: JSONString,
    $collectionFilter: JSONString, $artifactFilter: JSONString, $cursor: String,
    $perPage: Int, $order: String) {
  organization(name: $organization) {
    orgEntity {
      name
      artifactMemberships(projectFilters: $registryFilter, collectionFilters: $collectionFilter,
          filters: $artifactFilter, after: $cursor, first: $perPage, order: $order) {
        pageInfo { endCursor hasNextPage }
        edges { node { %s } cursor }
      }
    }
  }
}
"""
    % MEMBERSHIP_FIELDS
)

LINK_ARTIFACT_MUTATION = (
    """
mutation LinkArtifact($input: LinkArtifactInput!) {
  linkArtifact(input: $input) { versionIndex artifactMembership { %s } }
}
"""
    % MEMBERSHIP_FIELDS
)

UNLINK_ARTIFACT_MUTATION = """
mutation UnlinkArtifact($input: UnlinkArtifactInput!) { unlinkArtifact(input: $input) { success } }
"""

LINKED_ARTIFACTS_QUERY = """
query FetchLinkedArtifacts($artifactID: ID!) {
  artifact(id: $artifactID) {
    artifactMemberships {
      edges {
        node {
          id versionIndex createdAt
          aliases { alias }
          artifactCollection { __typename name project { name entity { name } } }
        }
      }
    }
  }
}
"""


__all__ = [
    "ADVANCED_FEATURES_QUERY",
    "DELETE_REGISTRY_MUTATION",
    "LINKED_ARTIFACTS_QUERY",
    "LINK_ARTIFACT_MUTATION",
    "MEMBERSHIP_FIELDS",
    "ORGANIZATION_QUERY",
    "ORG_INFO_QUERY",
    "REGISTRIES_QUERY",
    "REGISTRY_COLLECTIONS_QUERY",
    "REGISTRY_COLLECTION_FIELDS",
    "REGISTRY_FIELDS",
    "REGISTRY_QUERY",
    "REGISTRY_VERSIONS_QUERY",
    "RENAME_REGISTRY_MUTATION",
    "SERVER_FEATURES_QUERY",
    "UNLINK_ARTIFACT_MUTATION",
    "UPSERT_REGISTRY_MUTATION",
]
