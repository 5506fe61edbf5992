"""Run history: plans (keys, exports, live steps), step-range pages, sampled reads."""

from __future__ import annotations

# What a scan needs to know before reading: the keys and last step, the export files and the
# steps logged since (`liveKeys: ["_step"]`, as 0.31 asks). A long run is asked for its URLs
# alone first (`HISTORY_PLAN_URL_FIELDS`): a million live steps are a million liveData rows.
HISTORY_PLAN_FIELDS = """
  historyKeys
  historyLineCount
  parquetHistory(liveKeys: ["_step"]) { parquetUrls liveData }
"""
HISTORY_PLAN_URL_FIELDS = """
  historyKeys
  historyLineCount
  parquetHistory(liveKeys: ["_step"]) { parquetUrls }
"""

_RUN_PLAN = """
query RunHistoryPlan($entity: String!, $project: String!, $run: String!) {
  project(name: $project, entityName: $entity) { run(name: $run) { %s } }
}
"""
RUN_HISTORY_PLAN_QUERY = _RUN_PLAN % HISTORY_PLAN_FIELDS
RUN_HISTORY_PLAN_URLS_QUERY = _RUN_PLAN % HISTORY_PLAN_URL_FIELDS

# The plans of many runs of one project in one request: `%s` holds the variable declarations
# (`$r0: String!, ...`) and then one aliased `rN: run(name: $rN) { name <plan fields> }` each.
RUN_HISTORY_PLANS_QUERY = """
query RunHistoryPlans($entity: String!, $project: String!, %s) {
  project(name: $project, entityName: $entity) { %s }
}
"""

# Fresh export URLs (signatures expire), exactly as 0.31 asks for them.
RUN_PARQUET_HISTORY_QUERY = """
query RunParquetHistory($entity: String!, $project: String!, $runName: String!,
                        $liveKeys: [String!]!) {
  project(name: $project, entityName: $entity) {
    run(name: $runName) { parquetHistory(liveKeys: $liveKeys) { parquetUrls liveData } }
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
    "HISTORY_PLAN_FIELDS",
    "HISTORY_PLAN_URL_FIELDS",
    "RUN_FULL_HISTORY_QUERY",
    "RUN_HISTORY_FIRST_ROW_QUERY",
    "RUN_HISTORY_PLANS_QUERY",
    "RUN_HISTORY_PLAN_QUERY",
    "RUN_HISTORY_PLAN_URLS_QUERY",
    "RUN_PARQUET_HISTORY_QUERY",
    "RUN_SAMPLED_HISTORY_QUERY",
    "SAMPLED_HISTORY_PAGE_QUERY",
]
