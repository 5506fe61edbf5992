"""Run files against the local server: listing, download, upload, delete, and the file routes."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import fsspec
import pytest
import requests

from prefect_wandb_public import Api
from prefect_wandb_public.api import Downloader, DownloadItem, File, Files
from prefect_wandb_public.api.files import download_file, lacks_mark_uploaded
from prefect_wandb_public.errors import (
    CommError,
    DestinationExistsError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from prefect_wandb_public.testing import LocalWandbServer

pytestmark = pytest.mark.usefixtures("in_tmp_dir")

FILES = {
    "config.yaml": b"lr: 0.1\n",
    "output.log": b"step 1\nstep 2\n",
    "media/plot.png": bytes(range(256)) * 40,
    "metrics.json": b'{"loss": 0.5}',
    "summary.json": b"{}",
}


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.fixture
def run_path(server: LocalWandbServer, entity: str, project: str) -> str:
    server.create_run(entity, project, "r1", files=FILES)
    return f"{entity}/{project}/r1"


# ---------------------------------------------------------------------- listing


def test_files_lists_every_file_with_its_metadata(api: Api, run_path: str) -> None:
    files = api.run(run_path).files()
    assert isinstance(files, Files)
    assert len(files) == len(FILES)
    by_name = {f.name: f for f in files}
    assert sorted(by_name) == sorted(FILES)
    png = by_name["media/plot.png"]
    assert isinstance(png, File)
    assert png.size == len(FILES["media/plot.png"])
    assert png.md5 == b64md5(FILES["media/plot.png"])
    assert png.mimetype == "image/png"
    assert png.updated_at and png.url and png.direct_url
    assert png.url.endswith("/files/" + run_path + "/media/plot.png")


@pytest.mark.parametrize("per_page", [1, 2, 5])
def test_file_paging_has_no_gaps(
    api: Api, run_path: str, per_page: int, server: LocalWandbServer
) -> None:
    server.request_log.clear()
    names = [f.name for f in api.run(run_path).files(per_page=per_page)]
    assert names == sorted(FILES)
    assert server.request_log.count(operation="RunFiles") == -(-len(FILES) // per_page)


def test_files_by_names_and_by_like_pattern(api: Api, run_path: str) -> None:
    run = api.run(run_path)
    assert [f.name for f in run.files(names=["output.log", "nope"])] == ["output.log"]
    assert [f.name for f in run.files(pattern="%.json")] == ["metrics.json", "summary.json"]
    assert [f.name for f in run.files(pattern="m%.____")] == ["metrics.json"]
    assert len(run.files(pattern="%.json")) == 2


def test_names_and_pattern_together_are_refused(
    api: Api, run_path: str, server: LocalWandbServer
) -> None:
    run = api.run(run_path)
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="names or pattern"):
        run.files(names=["a"], pattern="%")
    with pytest.raises(InvalidInputError, match="list of file names"):
        run.files(names="config.yaml")  # type: ignore[arg-type]
    assert server.request_log.count() == 0


def test_file_by_name_and_unknown_file(api: Api, run_path: str) -> None:
    run = api.run(run_path)
    assert run.file("output.log").size == len(FILES["output.log"])
    with pytest.raises(NotFoundError, match=r"no file 'missing\.txt'"):
        run.file("missing.txt")


def test_files_of_a_run_that_vanished_are_not_found(
    api: Api, server: LocalWandbServer, run_path: str
) -> None:
    run = api.run(run_path)
    server.store.delete_run(server.store.require_run(*run.path))
    with pytest.raises(NotFoundError):
        list(run.files())


# ---------------------------------------------------------------------- download


def test_download_streams_verified_bytes_to_root(
    api: Api, run_path: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    file = api.run(run_path).file("media/plot.png")
    path = download_file(file, root=str(tmp_path / "out"))
    assert path == str(tmp_path / "out" / "media" / "plot.png")
    assert Path(path).read_bytes() == FILES["media/plot.png"]
    assert not [p for p in (tmp_path / "out" / "media").iterdir() if p.name.endswith(".part")]
    # The direct URL is fetched without the key, as presigned storage is.
    blob_gets = [r for r in server.request_log.records if r.path.startswith("/storage/blobs/")]
    assert len(blob_gets) == 1 and blob_gets[0].status == 200


def test_download_defaults_to_the_current_directory(api: Api, run_path: str) -> None:
    with api.run(run_path).file("config.yaml").download() as handle:
        path = handle.name
        assert handle.read() == FILES["config.yaml"].decode()
    assert os.path.abspath(path) == os.path.abspath("config.yaml")
    assert Path(path).read_bytes() == FILES["config.yaml"]


def test_existing_file_without_replace_is_an_error_before_any_transfer(
    api: Api, run_path: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    (tmp_path / "output.log").write_bytes(b"mine")
    file = api.run(run_path).file("output.log")
    server.request_log.clear()
    with pytest.raises(ValueError, match="File already exists, pass replace=True to overwrite"):
        file.download(root=str(tmp_path))
    assert server.request_log.count() == 0
    assert (tmp_path / "output.log").read_bytes() == b"mine"
    with file.download(root=str(tmp_path), exist_ok=True) as handle:
        assert (handle.name, handle.read()) == (str(tmp_path / "output.log"), "mine")
    assert server.request_log.count() == 0
    file.download(root=str(tmp_path), replace=True).close()
    assert (tmp_path / "output.log").read_bytes() == FILES["output.log"]


def test_downloader_names_its_own_argument_for_an_existing_file(
    api: Api, run_path: str, tmp_path: Path
) -> None:
    (tmp_path / "output.log").write_bytes(b"mine")
    file = api.run(run_path).file("output.log")
    assert file.direct_url
    item = DownloadItem("output.log", file.direct_url, file.md5, file.size)
    with pytest.raises(DestinationExistsError, match="pass existing='replace'") as caught:
        Downloader(api.transport).download([item], str(tmp_path), existing="error")
    assert caught.value.destination == str(tmp_path / "output.log")
    with pytest.raises(DestinationExistsError, match=r"replace=True .* exist_ok=True"):
        file.download(root=str(tmp_path))


@pytest.mark.parametrize("size", ["missing", None])
def test_a_file_whose_size_the_server_omits_downloads_verified_by_md5(
    api: Api, run_path: str, tmp_path: Path, size: object
) -> None:
    listed = api.run(run_path).file("media/plot.png")
    attrs = {k: v for k, v in listed._attrs.items() if k != "sizeBytes"}
    if size is None:
        attrs["sizeBytes"] = None
    unsized = File(api, attrs, run=listed.run)
    assert unsized.size == 0  # the public attribute stays an int
    path = download_file(unsized, root=str(tmp_path / "unsized"))
    assert Path(path).read_bytes() == FILES["media/plot.png"]


def test_download_to_an_fsspec_memory_root(api: Api, run_path: str, project: str) -> None:
    file = api.run(run_path).file("metrics.json")
    url = download_file(file, root=f"memory://{project}/files")
    with file.download(root=f"memory://{project}/files", exist_ok=True) as handle:
        assert handle.read() == FILES["metrics.json"].decode()
    fs, path = fsspec.core.url_to_fs(url)
    assert url.startswith("memory://") and path == f"/{project}/files/metrics.json"
    assert fs.cat(f"/{project}/files/metrics.json") == FILES["metrics.json"]
    assert fs.ls(f"/{project}/files", detail=False) == [f"/{project}/files/metrics.json"]


def test_hostile_run_file_name_is_refused_and_nothing_is_written(
    api: Api, server: LocalWandbServer, entity: str, project: str, tmp_path: Path
) -> None:
    server.create_run(entity, project, "evil", files={"../../escape.txt": b"gotcha"})
    file = api.run(f"{entity}/{project}/evil").file("../../escape.txt")
    root = tmp_path / "a" / "b"
    server.request_log.clear()
    with pytest.raises(InvalidInputError, match="refusing file name"):
        file.download(root=str(root))
    assert not (tmp_path / "escape.txt").exists()
    assert not root.exists()
    assert server.request_log.count() == 0


# ---------------------------------------------------------------------- upload and delete


def test_upload_file_round_trip(
    api: Api, run_path: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    (tmp_path / "reports").mkdir()
    local = tmp_path / "reports" / "eval.csv"
    local.write_bytes(b"a,b\n1,2\n")
    server.request_log.clear()
    stored = api.run(run_path).upload_file(str(local), root=str(tmp_path))
    assert stored.name == "reports/eval.csv"
    assert stored.md5 == b64md5(b"a,b\n1,2\n")
    assert stored.mimetype == "text/csv"
    log = server.request_log
    assert log.count(operation="CreateRunFiles") == 1
    assert log.count(method="PUT", path="/storage/run-files/", status=200) == 1  # presigned
    assert log.count(operation="MarkRunFilesUploaded") == 1
    assert download_file(stored, root=str(tmp_path / "back")) == str(
        tmp_path / "back" / "reports" / "eval.csv"
    )
    assert (tmp_path / "back" / "reports" / "eval.csv").read_bytes() == b"a,b\n1,2\n"


def test_upload_retries_a_failed_put(
    api: Api, run_path: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    local = tmp_path / "weights.bin"
    local.write_bytes(b"\x00\x01" * 1000)
    uploads = "/storage/run-files/"  # the presigned upload URL createRunFiles hands out
    server.inject_fault(uploads, method="PUT", status=503, times=2)
    stored = api.run(run_path).upload_file(str(local), root=str(tmp_path))
    assert stored.size == 2000
    assert server.request_log.count(method="PUT", path=uploads, status=503) == 2
    assert server.request_log.count(method="PUT", path=uploads, status=200) == 1


@pytest.mark.parametrize("where", ["outside", "missing"])
def test_upload_of_a_bad_path_is_refused_before_any_request(
    api: Api, run_path: str, tmp_path: Path, server: LocalWandbServer, where: str
) -> None:
    inside = tmp_path / "root"
    inside.mkdir()
    local = tmp_path / "outside.txt"
    if where == "outside":
        local.write_text("x")
    run = api.run(run_path)
    server.request_log.clear()
    with pytest.raises(InvalidInputError):
        run.upload_file(str(local), root=str(inside))
    assert server.request_log.count() == 0


def test_only_a_missing_mark_mutation_is_tolerated_after_an_upload(api: Api) -> None:
    """An older server rejects the unknown field by name; any other error about the mutation
    (here: a real validation error that names it) must reach the caller."""
    with pytest.raises(CommError) as missing:
        api.transport.graphql("query Probe { markRunFilesUploaded { success } }")
    assert "Cannot query field 'markRunFilesUploaded'" in missing.value.message
    assert lacks_mark_uploaded(missing.value)
    with pytest.raises(CommError) as other:
        api.transport.graphql("mutation Probe { markRunFilesUploaded { success } }")
    assert "markRunFilesUploaded" in other.value.message
    assert not lacks_mark_uploaded(other.value)


def test_a_failing_mark_uploaded_is_raised(
    api: Api, run_path: str, tmp_path: Path, server: LocalWandbServer
) -> None:
    local = tmp_path / "notes.txt"
    local.write_bytes(b"notes")
    server.inject_fault(operation="MarkRunFilesUploaded", status=403, times=1)
    with pytest.raises(PermissionDeniedError):
        api.run(run_path).upload_file(str(local), root=str(tmp_path))


def test_delete_file(api: Api, run_path: str, server: LocalWandbServer) -> None:
    run = api.run(run_path)
    run.file("summary.json").delete()
    assert "summary.json" not in [f.name for f in run.files()]
    assert len(run.files()) == len(FILES) - 1
    assert server.request_log.count(operation="DeleteFiles") == 1


# ---------------------------------------------------------------------- the routes themselves


def test_file_url_needs_the_key_and_direct_url_does_not(
    api: Api, run_path: str, server: LocalWandbServer
) -> None:
    file = api.run(run_path).file("output.log")
    assert file.url and file.direct_url
    assert requests.get(file.url, timeout=5).status_code == 401
    authed = requests.get(file.url, auth=("api", server.api_key), timeout=5)
    assert authed.status_code == 200 and authed.content == FILES["output.log"]
    direct = requests.get(file.direct_url, timeout=5)
    assert direct.status_code == 200 and direct.content == FILES["output.log"]


def test_direct_url_honours_range(api: Api, run_path: str) -> None:
    file = api.run(run_path).file("media/plot.png")
    assert file.direct_url
    response = requests.get(file.direct_url, headers={"Range": "bytes=100-199"}, timeout=5)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{file.size}"
    assert response.content == FILES["media/plot.png"][100:200]


def test_unknown_blob_and_file_are_404(server: LocalWandbServer, run_path: str) -> None:
    unknown = server.urls.signed_url(f"/storage/blobs/{'0' * 32}")
    assert requests.get(unknown, timeout=5).status_code == 404
    auth = ("api", server.api_key)
    missing = requests.get(f"{server.url}/files/{run_path}/nope.txt", auth=auth, timeout=5)
    assert missing.status_code == 404


def test_create_run_files_refuses_names_outside_the_run(
    api: Api, run_path: str, server: LocalWandbServer
) -> None:
    entity, project, run_id = run_path.split("/")
    query = """
    mutation CreateRunFiles($files: [String!]!) {
      createRunFiles(input: {entityName: "%s", projectName: "%s", runName: "%s", files: $files}) {
        runID files { name uploadUrl }
      }
    }""" % (entity, project, run_id)
    with pytest.raises(Exception, match="invalid file name"):
        api.transport.graphql(query, {"files": ["../x.txt"]})
    put = requests.put(
        f"{server.url}/files/{run_path}/a/../../x", data=b"x", auth=("api", server.api_key)
    )
    assert put.status_code in (400, 404)
