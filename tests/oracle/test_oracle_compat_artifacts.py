"""Issue 14, artifacts, collections, types, projects, sweeps and reports: each 0.31 behaviour
pinned by running our client and the official SDK against the same local server.

Writes go to twin objects (`...-mine`, `...-theirs`) so one client never reads the other's
changes; the server's stored state and both clients' reads are compared afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from prefect_wandb_public import Api
from prefect_wandb_public.api import Artifact
from prefect_wandb_public.api.artifact_edits import ArtifactTTL
from prefect_wandb_public.errors import ArtifactFinalizedError, ArtifactNotLoggedError
from prefect_wandb_public.testing import LocalWandbServer

from .conftest import plain

ENTITY = "oracle-compat-art"
FILES = {"model.json": b'{"layers": 2}', "weights/w.bin": b"\x01\x02" * 500}


@pytest.fixture
def twins(server: LocalWandbServer, project: str) -> tuple[str, str]:
    """`entity/project` of two collections with the same single version."""
    for name in ("mine", "theirs"):
        server.create_artifact(ENTITY, project, name, "model", FILES, aliases=["best"])
    return f"{ENTITY}/{project}/mine", f"{ENTITY}/{project}/theirs"


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _stored(server: LocalWandbServer, path: str) -> Any:
    entity, project, name = path.split("/")
    return server.store.resolve_artifact(entity, project, name)


# ---------------------------------------------------------------------- Artifact.ttl
def test_ttl_round_trips_with_the_same_encodings(
    ours: Api, official: Any, server: LocalWandbServer, twins: tuple[str, str]
) -> None:
    from wandb.sdk.artifacts.artifact_ttl import ArtifactTTL as OfficialTTL

    arts = ours.artifact(f"{twins[0]}:v0"), official.artifact(f"{twins[1]}:v0")
    assert arts[0].ttl is None and arts[1].ttl is None  # inherited, no policy

    def stored() -> list[int | None]:
        return [_stored(server, f"{p}:v0").ttl_duration_seconds for p in twins]

    for art in arts:
        art.ttl = timedelta(days=365)
        art.save()
    assert stored() == [365 * 86400] * 2
    assert ours.artifact(f"{twins[1]}:v0").ttl == official.artifact(f"{twins[0]}:v0").ttl
    assert ours.artifact(f"{twins[0]}:v0").ttl == timedelta(days=365)
    for art in arts:
        art.ttl = None  # never expires
        art.save()
    assert stored() == [-2, -2]
    assert [ours.artifact(f"{p}:v0").ttl for p in twins] == [None, None]
    for art, inherit in zip(arts, (ArtifactTTL.INHERIT, OfficialTTL.INHERIT), strict=True):
        art.ttl = inherit
        with pytest.raises(AttributeError):  # unknown until saved (ArtifactNotLoggedError)
            art.ttl  # noqa: B018
        art.save()
        assert art.ttl is None
    assert stored() == [None, None]


def test_ttl_of_a_draft_is_sent_when_published(
    ours: Api, server: LocalWandbServer, project: str, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("a")
    draft = Artifact("with-ttl", "dataset")
    draft.add_file(str(tmp_path / "a.txt"))
    with pytest.raises(ArtifactNotLoggedError):
        draft.ttl  # noqa: B018 - a draft's inherited TTL is not known yet
    draft.ttl = timedelta(hours=2)
    logged = ours.log_artifact(draft, project=f"{ENTITY}/{project}")
    assert logged.ttl == timedelta(hours=2)
    assert _stored(server, f"{ENTITY}/{project}/with-ttl:v0").ttl_duration_seconds == 7200
    for bad in (timedelta(0), "1d"):
        with pytest.raises(ValueError, match="TTL"):
            draft.ttl = bad  # type: ignore[assignment]


# ---------------------------------------------------------------------- Artifact.tags
def test_tags_are_saved_as_a_diff(
    ours: Api, official: Any, server: LocalWandbServer, twins: tuple[str, str]
) -> None:
    arts = ours.artifact(f"{twins[0]}:v0"), official.artifact(f"{twins[1]}:v0")
    for art in arts:
        art.tags = ["candidate", "big model", "candidate"]
        art.save()
    assert [sorted(_stored(server, f"{p}:v0").tags) for p in twins] == [
        ["big model", "candidate"]
    ] * 2
    for art in arts:
        assert sorted(art.tags) == ["big model", "candidate"]
        art.tags = ["big model", "final"]
        art.save()
    assert [sorted(_stored(server, f"{p}:v0").tags) for p in twins] == [["big model", "final"]] * 2
    assert sorted(ours.artifact(f"{twins[1]}:v0").tags) == sorted(
        official.artifact(f"{twins[0]}:v0").tags
    )
    for art in arts:
        with pytest.raises(ValueError):
            art.tags = ["no/slashes"]


# ---------------------------------------------------------------------- other members
def test_read_only_members_agree(ours: Api, official: Any, twins: tuple[str, str]) -> None:
    mine, theirs = ours.artifact(f"{twins[0]}:best"), official.artifact(f"{twins[0]}:best")
    assert mine.history_step == theirs.history_step is None
    assert mine.digest_algorithm == theirs.digest_algorithm == "MANIFEST_MD5"
    assert mine.wait() is mine and theirs.wait() is theirs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mine.use_as is None and theirs.use_as is None
        mine_entry, theirs_entry = mine.get_path("model.json"), theirs.get_path("model.json")
    assert (mine_entry.path, mine_entry.digest, mine_entry.size) == (
        theirs_entry.path,
        theirs_entry.digest,
        theirs_entry.size,
    )


def test_checkout_leaves_exactly_the_versions_files(
    ours: Api, official: Any, twins: tuple[str, str], tmp_path: Path
) -> None:
    for art, root in (
        (ours.artifact(f"{twins[0]}:v0"), tmp_path / "ours"),
        (official.artifact(f"{twins[0]}:v0"), tmp_path / "sdk"),
    ):
        (root / "weights").mkdir(parents=True)
        (root / "stale.txt").write_text("left over")
        (root / "weights" / "old.bin").write_bytes(b"old")
        assert Path(art.checkout(str(root))) == root
        found = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        assert found == ["model.json", "weights/w.bin"]
        assert (root / "weights" / "w.bin").read_bytes() == FILES["weights/w.bin"]


def test_add_a_table_that_the_sdk_reads_back(
    ours: Api, official: Any, project: str, tmp_path: Path
) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"epoch": [1, 2, 3], "acc": [0.5, 0.75, None]})
    draft = Artifact("tables", "dataset")
    entry = draft.add(frame, "metrics")
    assert entry.path == "metrics.table.json"
    (tmp_path / "x.txt").write_text("x")
    draft.add_file(str(tmp_path / "x.txt"), "sub/x.txt")
    draft.remove("sub")
    with pytest.raises(FileNotFoundError, match="No such file or directory: sub"):
        draft.remove("sub")
    with pytest.raises(TypeError, match="DataFrame"):
        draft.add({"a": 1}, "not-a-table")
    logged = ours.log_artifact(draft, project=f"{ENTITY}/{project}")
    assert sorted(logged.manifest.entries) == ["metrics.table.json"]
    mine = logged.get("metrics")
    assert list(mine.columns) == ["epoch", "acc"] and mine["epoch"].tolist() == [1, 2, 3]
    theirs = official.artifact(f"{ENTITY}/{project}/tables:v0").get("metrics")
    assert list(theirs.columns) == ["epoch", "acc"]
    assert [row[0] for row in theirs.data] == [1, 2, 3] and theirs.data[2][1] is None
    for art in (logged, official.artifact(f"{ENTITY}/{project}/tables:v0")):
        with pytest.raises(AttributeError if art is not logged else ArtifactFinalizedError):
            art.remove("metrics.table.json")


# ---------------------------------------------------------------------- ArtifactCollection
def _collection_state(server: LocalWandbServer, entity: str, project: str, name: str) -> Any:
    coll = server.store.get_collection(entity, project, name)
    assert coll is not None, name
    return coll.name, coll.type, coll.description, coll.tags, [a.type for a in coll.versions]


def test_collection_save_renames_retypes_and_tags(
    ours: Api, official: Any, server: LocalWandbServer, twins: tuple[str, str], project: str
) -> None:
    colls = (
        ours.artifact_collection("model", twins[0]),
        official.artifact_collection("model", twins[1]),
    )
    for coll in colls:
        assert coll.tags == [] and coll.organization is None
        assert coll.project_id == server.store.require_project(ENTITY, project).id
        coll.name = f"{coll.name}-renamed"
        coll.description = "renamed"
        coll.type = "checkpoint"
        coll.tags = ["prod", "team a"]
        coll.save()
    assert _collection_state(server, ENTITY, project, "mine-renamed") == (
        "mine-renamed",
        "checkpoint",
        "renamed",
        ["prod", "team a"],
        ["checkpoint"],
    )
    theirs_state = _collection_state(server, ENTITY, project, "theirs-renamed")
    assert theirs_state[1:3] == ("checkpoint", "renamed")
    assert sorted(theirs_state[3]) == ["prod", "team a"]  # the SDK sends tag sets
    for coll in colls:
        coll.tags = ["team a"]
        coll.save()
        assert sorted(coll.tags) == ["team a"]
    mine = ours.artifact_collection("checkpoint", f"{ENTITY}/{project}/theirs-renamed")
    theirs = official.artifact_collection("checkpoint", f"{ENTITY}/{project}/mine-renamed")
    assert (mine.name, mine.type, mine.description, mine.tags) == (
        "theirs-renamed",
        "checkpoint",
        "renamed",
        ["team a"],
    )
    assert (theirs.description, list(theirs.tags)) == ("renamed", ["team a"])
    assert [a.name for a in mine.artifacts()] == ["theirs-renamed:v0"]
    for coll in colls:
        coll.type = "wandb-history"
        with pytest.raises(Exception, match="Failed to save artifact collection"):
            coll.save()


def test_collection_change_type_and_delete(
    ours: Api, official: Any, server: LocalWandbServer, twins: tuple[str, str], project: str
) -> None:
    colls = (
        ours.artifact_collection("model", twins[0]),
        official.artifact_collection("model", twins[1]),
    )
    with pytest.warns(DeprecationWarning, match="change_type"):
        colls[0].change_type("weights")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        colls[1].change_type("weights")
    assert colls[0].type == colls[1].type == "weights"
    for name in ("mine", "theirs"):
        assert _collection_state(server, ENTITY, project, name)[1] == "weights"
    for coll in colls:
        assert coll.delete() is None
    assert server.store.get_collection(ENTITY, project, "mine") is None
    assert server.store.get_collection(ENTITY, project, "theirs") is None
    assert not ours.artifact_exists(f"{twins[0]}:v0")
    assert not official.artifact_exists(f"{twins[1]}:v0")


def test_collection_and_type_load(ours: Api, official: Any, twins: tuple[str, str]) -> None:
    mine, theirs = (
        ours.artifact_collection("model", twins[0]),
        official.artifact_collection("model", twins[0]),
    )
    entity, project, name = twins[0].split("/")
    loaded_mine = mine.load(entity, project, "model", name)
    loaded_theirs = theirs.load(entity, project, "model", name)
    assert (loaded_mine["id"], loaded_mine["name"]) == (loaded_theirs.id, loaded_theirs.name)
    type_mine = ours.artifact_type("model", f"{entity}/{project}").load()
    type_theirs = official.artifact_type("model", f"{entity}/{project}").load()
    assert (type_mine["id"], type_mine["name"]) == (type_theirs.id, type_theirs.name)


# ---------------------------------------------------------------------- Project
def test_project_collections_types_and_owner(
    ours: Api, official: Any, server: LocalWandbServer, twins: tuple[str, str], project: str
) -> None:
    server.create_artifact(ENTITY, project, "corpus", "dataset", {"a.txt": b"a"})
    mine, theirs = ours.project(project, ENTITY), official.project(project, ENTITY)
    names = sorted(c.name for c in mine.collections())
    assert names == sorted(c.name for c in theirs.collections()) == ["corpus", "mine", "theirs"]
    assert len(mine.collections()) == len(theirs.collections()) == 3
    assert [c.name for c in mine.collections(filters={"name": "corpus"})] == ["corpus"]
    assert [c.name for c in theirs.collections(filters={"name": "corpus"})] == ["corpus"]
    ordered = [c.name for c in mine.collections(order="+name")]
    assert ordered == [c.name for c in theirs.collections(order="+name")]
    assert sorted(t.name for t in mine.artifacts_types()) == sorted(
        t.name for t in theirs.artifacts_types()
    )
    assert (mine.owner.username, mine.owner.name) == (theirs.owner.username, theirs.owner.name)
    for one in (ours, official):
        got = one.artifact_type("model", f"{ENTITY}/{project}").collections(order="-name")
        assert [c.name for c in got] == ["theirs", "mine"]


# ---------------------------------------------------------------------- Sweep, BetaReport
def test_sweep_agents_username_and_filters(
    ours: Api, official: Any, server: LocalWandbServer, project: str
) -> None:
    server.create_sweep(ENTITY, project, "sw1", {"method": "grid"}, state="RUNNING")
    server.create_sweep(ENTITY, project, "sw2", {"method": "random"})
    server.create_run(ENTITY, project, "t1", sweep="sw1")
    server.create_sweep_agent(ENTITY, project, "sw1", "agent-a", host="gpu1", runs=["t1"])
    mine, theirs = ours.sweep(f"{ENTITY}/{project}/sw1"), official.sweep(f"{ENTITY}/{project}/sw1")

    def agents(sweep: Any) -> list[tuple[Any, ...]]:
        return [(a.id, a.name, a.host, a.state, a.total_runs) for a in sweep.agents()]

    assert agents(mine) == agents(theirs) == [(agents(mine)[0][0], "agent-a", "gpu1", "RUNNING", 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mine.username == theirs.username == ENTITY
    assert mine.display_name == theirs.display_name == "sw1"
    for one in (ours, official):
        found = one.project(project, ENTITY).sweeps(filters={"state": "RUNNING"})
        assert [s.id for s in found] == ["sw1"]


def test_sweep_load_reads_again_only_when_forced(
    ours: Api, official: Any, server: LocalWandbServer, project: str
) -> None:
    for client, name in ((ours, "swl-mine"), (official, "swl-theirs")):
        stored = server.create_sweep(ENTITY, project, name, {"method": "grid"})
        held = client.sweep(f"{ENTITY}/{project}/{name}")
        assert held.state == "FINISHED"
        with server.store.lock:
            stored.state = "RUNNING"  # behind the client's back
            server.store.touch()
        assert held.load()["state"] == "FINISHED"
        assert held.load(force=True)["state"] == "RUNNING" == held.state
        assert held.load()["state"] == "RUNNING"


def test_report_runs_of_a_section(
    ours: Api, official: Any, server: LocalWandbServer, project: str
) -> None:
    for i in range(4):
        server.create_run(ENTITY, project, f"r{i}", config={"lr": i / 10})
    section = {
        "name": "s",
        "runSets": [
            {
                "filters": {
                    "op": "OR",
                    "filters": [
                        {
                            "op": "AND",
                            "filters": [
                                {
                                    "key": {"section": "config", "name": "lr"},
                                    "op": ">=",
                                    "value": 0.1,
                                },
                            ],
                        }
                    ],
                },
                "sort": {"key": {"section": "run", "name": "createdAt"}, "ascending": False},
                "selections": {"root": 1, "bounds": [], "tree": ["r1", "r2"]},
            }
        ],
    }
    server.create_report(ENTITY, project, "runs report", spec={"panelGroups": [section]})
    mine = next(iter(ours.reports(f"{ENTITY}/{project}")))
    theirs = next(iter(official.reports(f"{ENTITY}/{project}")))
    assert type(mine.query_generator).__name__ == type(theirs.query_generator).__name__
    for only_selected, expected in ((True, ["r2", "r1"]), (False, ["r3", "r2", "r1"])):
        got_mine = [r.id for r in mine.runs(section, only_selected=only_selected)]
        got_theirs = [r.id for r in theirs.runs(section, only_selected=only_selected)]
        assert got_mine == got_theirs == expected
    assert plain(mine.spec) == plain(theirs.spec)


# ---------------------------------------------------------------------- more Artifact members
def test_json_encode_new_draft_and_item_access(
    ours: Api,
    official: Any,
    twins: tuple[str, str],
    project: str,
    server: LocalWandbServer,
    tmp_path: Path,
) -> None:
    mine, theirs = ours.artifact(f"{twins[0]}:v0"), official.artifact(f"{twins[0]}:v0")
    assert mine.json_encode() == theirs.json_encode()
    assert mine.incremental is theirs.incremental is False
    assert mine.distributed_id is None and theirs.distributed_id is None
    with pytest.raises(ValueError, match="distributed"):
        mine.distributed_id = "shard-1"
    draft = mine.new_draft()
    sdk_draft = theirs.new_draft()
    assert (draft.name, draft.type, draft.is_draft()) == ("mine", "model", True)
    assert sorted(draft.manifest.entries) == sorted(sdk_draft.manifest.entries)
    draft.metadata = {"round": 2}
    (tmp_path / "extra.txt").write_text("new in v1")
    draft.add_file(str(tmp_path / "extra.txt"))
    server.request_log.clear()
    logged = ours.log_artifact(draft, project=f"{ENTITY}/{project}")
    assert logged.version == "v1" and logged.metadata == {"round": 2}
    assert sorted(logged.manifest.entries) == sorted([*FILES, "extra.txt"])
    uploads = [r for r in server.request_log.records if r.method == "PUT"]
    assert len(uploads) == 2  # the new file and the manifest: v0's files are not sent again
    back = official.artifact(f"{twins[0]}:v1")
    assert {e: back.manifest.entries[e].digest for e in FILES} == {
        e: mine.manifest.entries[e].digest for e in FILES
    }
    assert mine["model.json"] == {"layers": 2}  # ours decodes JSON; 0.31's get() is for media


def test_finalize_and_added_local_paths(ours: Api, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    draft = Artifact("final", "dataset")
    draft.add_file(str(tmp_path / "a.txt"), "data/a.txt")
    assert draft.get_added_local_path_name(str(tmp_path / "a.txt")) == "data/a.txt"
    assert draft.get_added_local_path_name(str(tmp_path / "b.txt")) is None
    draft.finalize()
    with pytest.raises(ArtifactFinalizedError, match="finalized"):
        draft.add_file(str(tmp_path / "a.txt"), "again.txt")
    with pytest.raises(ArtifactFinalizedError):
        draft.remove("data/a.txt")


def test_versions_filtered_by_tags(
    ours: Api, official: Any, server: LocalWandbServer, project: str
) -> None:
    for i in range(3):
        server.create_artifact(ENTITY, project, "tagged", "model", {"f": bytes([i])})
    for version, tags in (("v0", ["a", "b"]), ("v2", ["a"])):
        for art in (ours.artifact(f"{ENTITY}/{project}/tagged:{version}"),):
            art.tags = tags
            art.save()
    path = f"{ENTITY}/{project}/tagged"
    for tags, expected in ((["a"], ["v2", "v0"]), (["a", "b"], ["v0"]), (None, ["v2", "v1", "v0"])):
        mine = ours.artifacts("model", path, tags=tags)
        theirs = official.artifacts("model", path, tags=tags)
        assert [a.version for a in mine] == [a.version for a in theirs] == expected
        assert mine.tags == list(theirs.tags or [])
    assert ours.artifacts("model", path).filters == official.artifacts("model", path).filters
    mine_files = ours.artifact(f"{path}:v0").files()
    assert mine_files.path == list(official.artifact(f"{path}:v0").files().path)
    coll = ours.artifact_collection("model", path)
    assert (
        coll.project_internal_id == official.artifact_collection("model", path).project_internal_id
    )


def test_sweep_agent_and_its_runs(
    ours: Api, official: Any, server: LocalWandbServer, project: str
) -> None:
    server.create_sweep(ENTITY, project, "swa", {"method": "grid"})
    for run_id in ("t1", "t2", "t3"):
        server.create_run(ENTITY, project, run_id, sweep="swa")
    server.create_sweep_agent(ENTITY, project, "swa", "agent-x", runs=["t1", "t3"])
    mine = ours.sweep(f"{ENTITY}/{project}/swa").agent("agent-x")
    theirs = official.sweep(f"{ENTITY}/{project}/swa").agent("agent-x")
    assert (mine.id, mine.name, mine.total_runs) == (theirs.id, theirs.name, theirs.total_runs)
    assert [r.id for r in mine.runs()] == [r.id for r in theirs.runs()] == ["t1", "t3"]
    assert len(mine.runs()) == len(theirs.runs()) == 2
    reports = ours.reports(f"{ENTITY}/{project}", name="x")
    assert reports.name == official.reports(f"{ENTITY}/{project}", name="x").name == "x"


# ---------------------------------------------------------------------- start= cursors
def test_a_saved_cursor_resumes_every_listing_in_both_clients(
    ours: Api, official: Any, server: LocalWandbServer, project: str
) -> None:
    """0.31's documented resume pattern: read a page, keep `listing.cursor`, pass it back as
    `start=`; a cursor from one client resumes the other's listing the same way."""
    path = f"{ENTITY}/{project}"
    for i in range(5):
        files = {f"f{n}.txt": bytes([i, n]) for n in range(5)}
        server.create_artifact(ENTITY, project, "many", "model", files)
        server.create_artifact(ENTITY, project, f"c{i}", "dataset", {"a": bytes([i])})
    server.create_artifact(ENTITY, project, "solo", "code", {"a": b"a"})

    listings: dict[str, Any] = {
        "versions": lambda api, **kw: api.artifacts("model", f"{path}/many", **kw),
        "collections": lambda api, **kw: api.artifact_collections(path, "dataset", **kw),
        "type collections": lambda api, **kw: api.artifact_type("dataset", path).collections(**kw),
        "collection versions": lambda api, **kw: api.artifact_collection(
            "model", f"{path}/many"
        ).artifacts(**kw),
        "files": lambda api, **kw: api.artifact(f"{path}/many:v4").files(**kw),
    }

    def names(objects: Any) -> list[str]:
        return [getattr(o, "name", None) or o.id for o in objects]

    for what, make in listings.items():
        everything = names(make(ours, per_page=50))
        assert everything == names(make(official, per_page=50)), what
        assert len(everything) == 5, what
        for reader in (ours, official):
            first = make(reader, per_page=2)
            head = [next(first), next(first)]
            assert names(head) == everything[:2], what
            saved = first.cursor
            assert isinstance(saved, str), what
            for resumer in (ours, official):
                assert names(make(resumer, per_page=2, start=saved)) == everything[2:], what
    types_mine = [t.name for t in ours.artifact_types(path)]
    assert types_mine == [t.name for t in official.artifact_types(path)]
    assert sorted(types_mine) == ["code", "dataset", "model"]
    for reader in (ours, official):
        listing = reader.artifact_types(path)  # one page of 50: its cursor is past the end
        next(listing)
        for resumer in (ours, official):
            assert list(resumer.artifact_types(path, start=listing.cursor)) == []
    with pytest.raises(ValueError, match="start"):
        ours.artifacts("model", f"{path}/many", start=3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- 0.31's add parameters
def test_policies_tmp_names_merge_and_max_objects_as_0_31(
    ours: Api, official: Any, wandb_sdk: Any, project: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"first")
    (src / "sub" / "b.txt").write_bytes(b"second")
    mine, theirs = Artifact("policies", "dataset"), wandb_sdk.Artifact("policies", "dataset")
    for draft in (mine, theirs):
        draft.add_dir(local_path=str(src), name="d", policy="mutable", skip_cache=True)
        tmp = draft.add_file(str(src / "a.txt"), "t/model.ckpt.bin", is_tmp=True)
        assert tmp.path == "t/" + base64.b64decode(tmp.digest).hex()[:20] + ".ckpt.bin"
        draft.add_file(str(src / "a.txt"), "kept.txt", policy="immutable")
        with pytest.raises(ValueError, match="Invalid policy"):
            draft.add_file(str(src / "a.txt"), "x.txt", policy="frozen")  # type: ignore[arg-type]
        with draft.new_file("new.txt") as handle:  # mode "x" by default, as 0.31
            handle.write("n")
    assert sorted(mine.manifest.entries) == sorted(theirs.manifest.entries)
    assert mine.get_added_local_path_name(str(src / "sub" / "b.txt")) == "d/sub/b.txt"
    assert theirs.get_added_local_path_name(str(src / "sub" / "b.txt")) == "d/sub/b.txt"

    (src / "sub" / "b.txt").write_bytes(b"edited after add")  # mutable: the copy is uploaded
    (src / "c.txt").write_bytes(b"new")
    for draft in (mine, theirs):
        with pytest.raises(ValueError):
            draft.add_dir(str(src), name="d")  # b.txt changed: needs merge=True
        assert draft.manifest.entries["d/sub/b.txt"].digest == b64md5(b"second")
    assert "d/c.txt" not in mine.manifest.entries  # ours adds nothing on a conflict
    (src / "c.txt").unlink()
    for draft in (mine, theirs):
        draft.add_dir(str(src), name="d", merge=True)
        assert draft.manifest.entries["d/sub/b.txt"].digest == b64md5(b"edited after add")
        draft.add_dir(str(src), name="old")
    (src / "a.txt").write_bytes(b"FIRST")  # same size; "kept.txt" is immutable, "d/a.txt" not
    mine.remove("kept.txt")
    logged = ours.log_artifact(mine, project=f"{ENTITY}/{project}")
    back = official.artifact(f"{ENTITY}/{project}/policies:{logged.version}")
    root = Path(back.download(str(tmp_path / "sdk")))
    assert (root / "d" / "a.txt").read_bytes() == b"first"
    assert (root / "old" / "sub" / "b.txt").read_bytes() == b"edited after add"

    refs = tmp_path / "refs"
    refs.mkdir()
    for n in range(3):
        (refs / f"{n}.bin").write_bytes(bytes([n]))
    for draft in (Artifact("refs", "dataset"), wandb_sdk.Artifact("refs", "dataset")):
        with pytest.raises(ValueError):
            draft.add_reference(refs.as_uri(), max_objects=2)
        assert list(draft.manifest.entries) == []
        assert len(draft.add_reference(refs.as_uri(), max_objects=3)) == 3


def test_download_takes_0_31_positional_parameters(
    ours: Api, official: Any, twins: tuple[str, str], tmp_path: Path
) -> None:
    # 0.31's skip_cache=True leaves its process-wide cache pointing at that download's files
    # (`_override_cache_path` is never reset), breaking the SDK's later downloads in this
    # session: the SDK is given None.
    for art, root, skip_cache in (
        (ours.artifact(f"{twins[0]}:v0"), tmp_path / "ours", True),
        (official.artifact(f"{twins[0]}:v0"), tmp_path / "sdk", None),
    ):
        # root, allow_missing_references, skip_cache, path_prefix, multipart
        assert Path(art.download(str(root), False, skip_cache, "weights/", False)) == root
        found = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        assert found == ["weights/w.bin"]
