"""Integrations (Slack channels, webhooks) and automations (triggers), read-only."""

from __future__ import annotations

INTEGRATION_FIELDS = """
  __typename
  ... on SlackIntegration { id teamName channelName }
  ... on GenericWebhookIntegration { id name urlEndpoint }
"""

INTEGRATIONS_QUERY = (
    """
query IntegrationsByEntity($entity: String!, $cursor: String, $perPage: Int) {
  entity(name: $entity) {
    integrations(after: $cursor, first: $perPage) {
      pageInfo { endCursor hasNextPage }
      edges { node { %s } cursor }
    }
  }
}
"""
    % INTEGRATION_FIELDS
)

TRIGGER_FIELDS = """
  id createdAt updatedAt name description enabled
  scope {
    __typename
    ... on Project { id name }
    ... on ArtifactSequence { id name }
    ... on Entity { id name }
  }
  triggeringCondition { ... on FilterEventTriggeringCondition { eventType filter } }
  triggeredAction {
    __typename
    ... on NotificationTriggeredAction {
      integration { id teamName channelName } title message severity
    }
    ... on GenericWebhookTriggeredAction { integration { id name urlEndpoint } requestPayload }
    ... on NoOpTriggeredAction { noOp }
    ... on ARIATriggeredAction { prompt }
  }
"""

ENTITY_AUTOMATIONS_QUERY = (
    """
query GetEntityAutomations($entity: String!, $cursor: String, $perPage: Int, $order: String,
    $filters: JSONString) {
  entity(name: $entity) {
    triggers(after: $cursor, first: $perPage, order: $order, filters: $filters) {
      pageInfo { endCursor hasNextPage }
      edges { node { %s } cursor }
    }
  }
}
"""
    % TRIGGER_FIELDS
)


__all__ = [
    "ENTITY_AUTOMATIONS_QUERY",
    "INTEGRATIONS_QUERY",
    "INTEGRATION_FIELDS",
    "TRIGGER_FIELDS",
]
