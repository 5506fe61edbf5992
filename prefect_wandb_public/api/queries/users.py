"""Users, teams, organizations, and creating a project."""

from __future__ import annotations

USER_FIELDS = """
  id name username email admin flags entity deletedAt
  apiKeys { edges { node { id name description } } }
  teams { edges { node { name } } }
"""

VIEWER_QUERY = "query GetViewer { viewer { %s } }" % USER_FIELDS

SEARCH_USERS_QUERY = (
    """
query SearchUsers($query: String) { users(query: $query) { edges { node { %s } } } }
"""
    % USER_FIELDS
)

TEAM_QUERY = """
query GetTeamEntity($name: String!) {
  entity(name: $name) {
    id name available photoUrl readOnly readOnlyAdmin isTeam entityType privateOnly storageBytes
    codeSavingEnabled defaultAccess isPaid
    members { id admin pending email username name photoUrl accountType apiKey }
  }
}
"""

ORGANIZATION_QUERY = """
query FetchOrganization($org: String!) {
  organization(name: $org) { id name orgEntity { id name entityType } }
}
"""

CREATE_PROJECT_MUTATION = """
mutation CreateProject($input: UpsertModelInput!) {
  upsertModel(input: $input) { project { id name entityName } inserted }
}
"""


__all__ = [
    "CREATE_PROJECT_MUTATION",
    "ORGANIZATION_QUERY",
    "SEARCH_USERS_QUERY",
    "TEAM_QUERY",
    "USER_FIELDS",
    "VIEWER_QUERY",
]
