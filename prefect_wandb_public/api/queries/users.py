"""Users, teams, and creating a project."""

from __future__ import annotations

USER_FIELDS = """
  id name username email admin flags entity deletedAt
  apiKeys { edges { node { id name description } } }
  teams { edges { node { name } } }
"""

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

CREATE_PROJECT_MUTATION = """
mutation CreateProject($input: UpsertModelInput!) {
  upsertModel(input: $input) { project { id name entityName } inserted }
}
"""


__all__ = [
    "CREATE_PROJECT_MUTATION",
    "SEARCH_USERS_QUERY",
    "TEAM_QUERY",
    "USER_FIELDS",
]
