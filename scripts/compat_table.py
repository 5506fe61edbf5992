"""Generate `docs/compatibility.md`: every public member of the official `wandb.apis.public`
0.31 objects, and whether ours has it.

    .venv/bin/python scripts/compat_table.py           # rewrite docs/compatibility.md
    .venv/bin/python scripts/compat_table.py --check   # exit 1 when the file is stale

Both clients read the same seeded `LocalWandbServer`; the members of each official object are
those of the live object (`dir()`, plus the node fields 0.31's `Attrs` objects answer by
snake_case name), and presence on ours is checked on the matching live object, not in the
source. Scope notes and the deliberate differences are the lists below. The official SDK
(`wandb==0.31.0`, a test dependency) is imported here only, never by the package.
`tests/oracle/test_compat_table.py` fails when the file is stale.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parents[1]
TARGET = CHECKOUT / "docs" / "compatibility.md"
ENTITY, PROJECT, TEAM = "compat", "compat-project", "compat-team"
ORG, REGISTRY = "Compat Org", "compat-models"

# Members whose absence here is deliberate, by reason (member names, or `Object.member`).
OUT_OF_SCOPE: dict[str, tuple[str, ...]] = {
    "notebook display helpers": ("display", "to_html", "snake_to_camel"),
    "W&B Launch": (
        "Api.queued_run",
        "Api.run_queue",
        "Api.create_run_queue",
        "Api.upsert_run_queue",
        "Api.job",
        "Api.list_jobs",
        "Sweep.enqueue_run",
    ),
    "admin account and credential management": (
        "Api.create_user",
        "Api.create_team",
        "Team.create",
        "Team.invite",
        "Team.create_service_account",
        "Member.delete",
        "User.create",
        "User.generate_api_key",
        "User.delete_api_key",
    ),
    "registry membership administration (the Registry issue 15 left it out)": (
        "Registry.members",
        "Registry.user_members",
        "Registry.team_members",
        "Registry.add_members",
        "Registry.remove_members",
        "Registry.update_member",
    ),
    "custom charts": ("Api.create_custom_chart",),
    "tensorboard sync": ("Api.sync_tensorboard",),
    "h5/tensor summaries (need h5py and numpy)": (
        "HTTPSummary.open_h5",
        "HTTPSummary.read_h5",
        "HTTPSummary.write_h5",
    ),
    "the state of 0.31's one-page-at-a-time loop (ours fetches pages ahead in parallel and "
    "has no single current page)": (
        "HistoryScan.page_offset",
        "HistoryScan.rows",
        "HistoryScan.scan_offset",
    ),
    "automation writes (W&B changes reach Prefect through the watcher's events instead)": (
        "Api.create_automation",
        "Api.update_automation",
        "Api.delete_automation",
    ),
}
DIFFERENCES = [
    (
        "`Api.runs` default order",
        "`-created_at` (newest first), as the public-API reference documents; 0.31's code "
        "uses `+created_at`.",
    ),
    (
        "`Run.summary` iteration",
        "A `collections.abc.Mapping`: `iter()`, `len()` and `==` work (0.31's cannot be "
        "iterated); a missing attribute raises an error that is a `KeyError` (as 0.31) and an "
        "`AttributeError`, so `getattr(summary, k, None)` works; `del` leaves no stale value.",
    ),
    (
        "local-only summary edits",
        "`summary[k] = v` changes the local copy only, as in 0.31, and logs once that "
        "`summary.update()` or `run.update()` saves it (a change silently never saved would "
        "be a defect).",
    ),
    (
        "errors",
        "Typed errors (`NotFoundError`, `InvalidInputError`, `DestinationExistsError`, "
        "`ChecksumError`...) where 0.31 wraps nearly everything in `CommError`; input errors are "
        "`ValueError`s, artifact-state errors `AttributeError`s too, as in 0.31.",
    ),
    (
        "`File.download` on an existing file",
        "`DestinationExistsError` (a `ValueError`) with 0.31's message; 0.31 raises it wrapped "
        "in `CommError`. Root may be any fsspec URL; bytes are md5-verified.",
    ),
    (
        "`Run.wait_until_finished`",
        "Also stops at `killed` (0.31 polls a killed run forever); keyword-only `timeout` "
        "(`WaitTimeoutError`) and `poll_interval` (default 5 s, as 0.31).",
    ),
    (
        "`Run.metadata`",
        "None when the run has no `wandb-metadata.json` (or it is not JSON); transport failures "
        "raise instead of reading as None.",
    ),
    (
        "`Run.load(force=True)`",
        "Refreshes `run.summary` too; 0.31's summary object keeps the values it was made with "
        "(`summary_metrics` is fresh in both).",
    ),
    (
        "`Run.dir`",
        "Created on first use; 0.31 creates a directory for every run object it builds.",
    ),
    (
        "`Api.project`",
        "Loads at once (NotFoundError for a missing project); 0.31 is lazy.",
    ),
    (
        "`Artifact.add`",
        "Takes a pandas DataFrame (stored as a W&B table the SDK reads back); there are no "
        "wandb media types here. Drafts are published with `Api.log_artifact` or "
        "`Run.log_artifact`, not `Artifact.save()`.",
    ),
    (
        "`Artifact.add_file` / `add_dir` `skip_cache`",
        "Accepted; uploads never fill the local download cache here, so there is nothing to "
        "skip (0.31 copies uploaded files into its cache unless `skip_cache`).",
    ),
    (
        "`Artifact.download` of references",
        "Reference entries (`s3://`, `http(s)://`, `file://`) are skipped with a warning, so "
        "`allow_missing_references` changes nothing; `multipart` is accepted, files stream "
        "whole on parallel workers.",
    ),
    (
        "`Api.automations` without an entity",
        "The default entity's automations (0.31 walks every project of the viewer); "
        "automations and integrations are frozen dataclasses, not pydantic models.",
    ),
    (
        "`Run.username`",
        "The creator's username (0.31's deprecated property returns the entity).",
    ),
]


@dataclass(frozen=True)
class Pair:
    """One public object: its name, the official live object and ours."""

    name: str
    official: Any
    ours: Any


# ---------------------------------------------------------------------- seeding
def seed(server: Any) -> None:
    server.create_user("compat-ada", email="ada@compat.example")
    server.create_team(TEAM, members=[server.store.viewer.username, "compat-ada"])
    server.create_webhook_integration(TEAM, "hook", "https://ci.example/hook")
    server.create_slack_integration(TEAM, "acme", "#ml")
    team_project = server.create_project(TEAM, "compat-team-project")
    server.create_automation(
        "compat-automation",
        scope_type="PROJECT",
        scope_id=team_project.id,
        event_type="RUN_STATE",
        event_filter={"run_filter": '{"$and":[]}', "run_state_filter": {"states": ["FAILED"]}},
        action_type="NO_OP",
        action_config={"noOpActionInput": {"noOp": True}},
    )
    server.create_sweep(
        ENTITY, PROJECT, "sw", {"method": "grid", "metric": {"name": "loss", "goal": "minimize"}}
    )
    run = server.create_run(
        ENTITY,
        PROJECT,
        "r1",
        config={"lr": 0.1},
        summary={"loss": 0.5, "eval": {"f1": 0.9}},
        history=[{"loss": 1.0 / (step + 1)} for step in range(5)],
        files={"wandb-metadata.json": b'{"host": "h"}', "notes.txt": b"hi"},
        sweep="sw",
    )
    run.log_lines[:] = ["2025-01-10T05:00:00 hello"]
    server.create_sweep_agent(ENTITY, PROJECT, "sw", "agent-1", runs=["r1"])
    server.create_artifact(
        ENTITY, PROJECT, "ds", "dataset", {"a.txt": b"a"}, aliases=["best"], created_by="r1"
    )
    server.create_report(ENTITY, PROJECT, "Compat report", spec={"panelGroups": []})
    server.create_organization(ORG, members=[ENTITY])
    server.create_registry(ORG, REGISTRY, artifact_types=["dataset"])
    server.link_artifact(ENTITY, PROJECT, "ds:v0", f"wandb-registry-{REGISTRY}/ds-linked")


def pairs(official: Any, ours: Any) -> Iterator[Pair]:
    """The live objects, official first, built the same way through both clients."""
    path = f"{ENTITY}/{PROJECT}"

    def both(name: str, make: Callable[[Any], Any], first: bool = False) -> Pair:
        made = make(official), make(ours)
        if first:
            for listing in made:
                listing[0]  # load the first page, as code that lists would
        return Pair(name, *made)

    yield both("Api", lambda api: api)
    yield both("Run", lambda api: api.run(f"{path}/r1"))
    yield both("HTTPSummary", lambda api: api.run(f"{path}/r1").summary)
    yield both("Runs", lambda api: api.runs(path), first=True)
    yield both("Files", lambda api: api.run(f"{path}/r1").files(), first=True)
    yield both("File", lambda api: api.run(f"{path}/r1").file("notes.txt"))
    yield both("HistoryScan", lambda api: api.run(f"{path}/r1").scan_history())
    yield both("ConsoleLogs", lambda api: api.run(f"{path}/r1").console_logs(), first=True)
    yield both("Artifact", lambda api: api.artifact(f"{path}/ds:v0"))
    yield both("ArtifactCollection", lambda api: api.artifact_collection("dataset", f"{path}/ds"))
    yield both(
        "ArtifactCollections", lambda api: api.artifact_collections(path, "dataset"), first=True
    )
    yield both(
        "ProjectArtifactCollections",
        lambda api: api.project(PROJECT, ENTITY).collections(),
        first=True,
    )
    yield both("ArtifactType", lambda api: api.artifact_type("dataset", path))
    yield both("ArtifactTypes", lambda api: api.artifact_types(path), first=True)
    yield both("ArtifactFiles", lambda api: api.artifact(f"{path}/ds:v0").files(), first=True)
    yield both("Artifacts", lambda api: api.artifacts("dataset", f"{path}/ds"), first=True)
    yield both("RunArtifacts", lambda api: api.run(f"{path}/r1").logged_artifacts(), first=True)
    yield both("Project", lambda api: api.project(PROJECT, ENTITY))
    yield both("Projects", lambda api: api.projects(ENTITY), first=True)
    yield both("Sweep", lambda api: api.sweep(f"{path}/sw"))
    yield both("Sweeps", lambda api: api.project(PROJECT, ENTITY).sweeps(), first=True)
    yield both("Agent", lambda api: api.sweep(f"{path}/sw").agents()[0])
    yield both("Reports", lambda api: api.reports(path), first=True)
    yield both("BetaReport", lambda api: api.reports(path)[0])
    yield both("User", lambda api: api.viewer)
    yield both("Team", lambda api: api.team(TEAM))
    yield both("Member", lambda api: api.team(TEAM).members[0])
    yield both("Integrations", lambda api: api.integrations(TEAM))
    yield both("WebhookIntegration", lambda api: next(iter(api.webhook_integrations(TEAM))))
    yield both("SlackIntegration", lambda api: next(iter(api.slack_integrations(entity=TEAM))))
    yield both("Automation", lambda api: next(iter(api.automations(TEAM))))
    yield both("Organization", lambda api: api.organization(ORG))
    yield both("Registry", lambda api: api.registry(REGISTRY, organization=ORG))
    yield both("Registries", lambda api: api.registries(organization=ORG), first=True)


# ---------------------------------------------------------------------- members
_PROTOCOL = ("__getitem__", "__iter__", "__len__", "__contains__", "__next__")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def official_members(obj: Any) -> list[str]:
    """Public names of a live official object: `dir()`, 0.31's `Attrs` node fields by
    snake_case name, the container protocol it defines, and `_json_dict` of a summary."""
    import pydantic

    names = {n for n in dir(obj) if not n.startswith("_")}
    bases: tuple[type, ...] = (object,)
    if isinstance(obj, pydantic.BaseModel):  # the model machinery and its GraphQL `typename__`
        names -= {*dir(pydantic.BaseModel), "typename__"}
        bases = (object, pydantic.BaseModel)
    attrs = getattr(obj, "_attrs", None)
    if isinstance(attrs, dict) and hasattr(type(obj), "__getattr__"):
        names |= {_CAMEL.sub("_", key).lower() for key in attrs if not key.startswith("_")}
    own = [k for k in type(obj).__mro__ if not any(issubclass(b, k) for b in bases)]
    names |= {n for n in _PROTOCOL if any(n in k.__dict__ for k in own)}
    if type(obj).__name__ == "HTTPSummary":
        names.add("_json_dict")
    return sorted(names)


def has_member(obj: Any, name: str) -> bool:
    """Whether our live object has `name`: reading it works (or raises something other than
    AttributeError), or it is defined on the object or its class."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            getattr(obj, name)
        except AttributeError:
            pass
        except Exception:
            return True
        else:
            return True
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True


def scope_of(obj: str, member: str) -> str:
    for reason, names in OUT_OF_SCOPE.items():
        if member in names or f"{obj}.{member}" in names:
            return f"out: {reason}"
    return ""


# ---------------------------------------------------------------------- the document
def render(rows: list[tuple[Pair, list[tuple[str, bool, str]]]]) -> str:
    total = sum(len(members) for _, members in rows)
    in_scope = [(m, here) for _, members in rows for m, here, scope in members if not scope]
    present_in_scope = sum(here for _, here in in_scope)
    present = sum(here for _, members in rows for _, here, _ in members)
    lines = [
        "# Compatibility with `wandb.apis.public` 0.31.0",
        "",
        "Generated by `scripts/compat_table.py` from live objects of both clients on one local "
        "server; do not edit (`tests/oracle/test_compat_table.py` fails when it is stale).",
        "",
        f"**{present_in_scope} of {len(in_scope)} in-scope members present**; {present} of "
        f"{total} members of {len(rows)} objects overall (the rest are out of scope, as "
        "marked, with the reason).",
        "",
        "| object | 0.31 class | ours | members | present | in scope | present in scope |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair, members in rows:
        scoped = [here for _, here, scope in members if not scope]
        lines.append(
            f"| {pair.name} | `{_qualname(pair.official)}` | `{_qualname(pair.ours)}` | "
            f"{len(members)} | {sum(h for _, h, _ in members)} | {len(scoped)} | {sum(scoped)} |"
        )
    for pair, members in rows:
        lines += ["", f"## {pair.name}", "", "| member | ours | scope |", "|---|---|---|"]
        for member, here, scope in members:
            lines.append(f"| `{member}` | {'yes' if here else '**missing**'} | {scope} |")
    lines += ["", "## Deliberate differences", ""]
    lines += [f"- **{what}**: {why}" for what, why in DIFFERENCES]
    lines += [
        "",
        "## Not checked live here",
        "",
        "The Registry's searches (`Registry.collections()` / `versions()`, `RegistryCollections`, "
        "`RegistryVersions`) are compared by the Registry issue's oracle tests, not listed here.",
        "",
    ]
    return "\n".join(lines)


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


@contextlib.contextmanager
def sdk_environment() -> Iterator[None]:
    """WANDB_* directories in a temp dir and silent output, unless already set (the tests
    set them)."""
    with tempfile.TemporaryDirectory(prefix="compat-table-") as root:
        names = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR")
        saved = {n: os.environ.get(n) for n in (*names, "WANDB_SILENT", "WANDB_ERROR_REPORTING")}
        for name in names:
            os.environ.setdefault(name, os.path.join(root, name.lower()))
        os.environ.setdefault("WANDB_SILENT", "true")
        os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def build() -> str:
    """The document, from a fresh local server seeded by `seed`."""
    from prefect_wandb_public import Api
    from prefect_wandb_public.testing import LocalWandbServer

    logging.disable(logging.WARNING)  # our path_uri and friends say what they cannot do
    with sdk_environment(), LocalWandbServer() as server:
        import wandb

        seed(server)
        overrides = {"base_url": server.url, "entity": ENTITY, "project": PROJECT}
        official = wandb.Api(api_key=server.api_key, overrides=overrides, timeout=30)
        ours = Api(api_key=server.api_key, overrides=overrides)
        try:
            rows = []
            for pair in pairs(official, ours):
                members = [
                    (name, has_member(pair.ours, name), scope_of(pair.name, name))
                    for name in official_members(pair.official)
                ]
                rows.append((pair, members))
        finally:
            ours.close()
            logging.disable(logging.NOTSET)
        return render(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run scripts/compat_table.py", file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text)
    print(text.split("\n")[4])
    return 0


if __name__ == "__main__":
    sys.exit(main())
