"""Run history: bounds, step-range pages, sampled reads."""

from __future__ import annotations

RUN_HISTORY_BOUNDS_QUERY = """
query RunHistoryBounds($entity: String!, $project: String!, $run: String!, $minStep: Int64,
                       $maxStep: Int64) {
  project(name: $project, entityName: $entity) {
    run(name: $run) {
      historyKeys
      historyLineCount
      firstRow: history(minStep: $minStep, maxStep: $maxStep, samples: 1)
    }
  }
}
"""

RUN_HISTORY_FIRST_ROW_QUERY = """
query RunHistoryFirstRow($entity: String!, $project: String!, $run: String!, $minStep: Int64,
                         $maxStep: Int64) {
  project(name: $project, entityName: $entity) {
    run(name: $run) { history(minStep: $minStep, maxStep: $maxStep, samples: 1) }
  }
}
"""

HISTORY_PAGE_QUERY = """
query HistoryPage($entity: String!, $project: String!, $run: String!, $minStep: Int64!,
                  $maxStep: Int64!, $pageSize: Int!) {
  project(name: $project, entityName: $entity) {
    run(name: $run) { history(minStep: $minStep, maxStep: $maxStep, samples: $pageSize) }
  }
}
"""

SAMPLED_HISTORY_PAGE_QUERY = """
query SampledHistoryPage($entity: String!, $project: String!, $run: String!, $spec: JSONString!) {
  project(name: $project, entityName: $entity) {
    run(name: $run) { sampledHistory(specs: [$spec]) }
  }
}
"""

RUN_FULL_HISTORY_QUERY = """
query RunFullHistory($project: String!, $entity: String!, $name: String!, $samples: Int) {
  project(name: $project, entityName: $entity) { run(name: $name) { %s(samples: $samples) } }
}
"""

RUN_SAMPLED_HISTORY_QUERY = """
query RunSampledHistory($project: String!, $entity: String!, $name: String!,
                        $specs: [JSONString!]!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) { historyKeys sampledHistory(specs: $specs) }
  }
}
"""


__all__ = [
    "HISTORY_PAGE_QUERY",
    "RUN_FULL_HISTORY_QUERY",
    "RUN_HISTORY_BOUNDS_QUERY",
    "RUN_HISTORY_FIRST_ROW_QUERY",
    "RUN_SAMPLED_HISTORY_QUERY",
    "SAMPLED_HISTORY_PAGE_QUERY",
]
