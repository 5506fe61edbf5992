"""`HTTPSummary` (`Run.summary`): a run's summary metrics as the official client's live mapping.

What writes, as in `wandb.apis.public` 0.31 (`HTTPSummary`):

- `summary.update()` and `summary.update({...})` save the whole summary now (one
  `upsertBucket(input: {id, summaryMetrics})`), as does `run.update()`;
- assigning a dict (`summary["eval"] = {"acc": 0.9}`) saves the whole summary now;
- assigning anything else (`summary["acc"] = 0.9`, `summary.acc = 0.9`), `del summary["acc"]`
  and edits inside a nested level change the local copy only. The first such edit logs a
  warning saying so (a change that is silently never saved would be a defect); the next
  `update()` saves them.

`_json_dict` is the very dict `run.summary_metrics` returns (the W&B guide's CSV export reads
`run.summary._json_dict`). Nested dicts read back as `SummarySubDict` levels of the same
summary. Both are `collections.abc.Mapping`s: `dict(summary)`, `isinstance(summary, Mapping)`,
iteration and `len()` work (0.31's summary cannot be iterated; that is the one difference,
besides a missing attribute raising an error that is both `KeyError`, as 0.31 raises, and
`AttributeError`, so `getattr(summary, "x", None)` works).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, KeysView, Mapping
from typing import TYPE_CHECKING, Any

from prefect_wandb_public.api.queries.runs import UPDATE_SUMMARY_MUTATION
from prefect_wandb_public.errors import CommError, InvalidInputError

if TYPE_CHECKING:
    from prefect_wandb_public.api.runs import Run

logger = logging.getLogger(__name__)


class SummaryKeyError(KeyError, AttributeError):
    """A summary has no such key: a `KeyError` for `summary[k]` (and, as in 0.31, for
    `summary.k`), and an `AttributeError` too, so `getattr(summary, k, default)` and
    `hasattr` work."""


def encode_value(value: Any, key: str) -> Any:
    """A summary value as the JSON the server stores: mappings and sequences recursively,
    array-likes (numpy, pandas) through `tolist()`; InvalidInputError naming the key when a
    value has no JSON form."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k).strip(): encode_value(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v, key) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return encode_value(tolist(), key)
    raise InvalidInputError(
        f"summary value {key!r} is a {type(value).__name__}, which has no JSON form"
    )


class SummarySubDict(Mapping[str, Any]):
    """One level of a run summary (the root, or a nested dict inside it), read and written
    through the root `HTTPSummary`."""

    _path: tuple[str, ...]
    _root: HTTPSummary
    _locked_keys: set[str]

    def __init__(self, root: HTTPSummary | None, path: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "_root", self if root is None else root)
        object.__setattr__(self, "_path", tuple(path))
        object.__setattr__(self, "_locked_keys", set())

    # ------------------------------------------------------------------ the stored JSON
    @property
    def _json_dict(self) -> dict[str, Any]:
        """The JSON of this level, inside the root's dict (edits show in both)."""
        level = self._root._json_dict
        for key in self._path:
            level = level[key]
        return level

    def _where(self, key: str) -> str:
        return ".".join((*self._path, key))

    # ------------------------------------------------------------------ reading
    def __getitem__(self, key: str) -> Any:
        key = _strip(key)
        json_dict = self._json_dict
        if key not in json_dict:
            raise SummaryKeyError(key)
        value = json_dict[key]
        if isinstance(value, dict):
            if value.get("_type") == "data-frame":
                logger.error(
                    "summary value %r is a data frame saved through the W&B data API; "
                    "it cannot be read here",
                    self._where(key),
                )
                return None
            return SummarySubDict(self._root, (*self._path, key))
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __contains__(self, key: object) -> bool:
        return (key.strip() if isinstance(key, str) else key) in self._json_dict

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._json_dict))

    def __len__(self) -> int:
        return len(self._json_dict)

    def keys(self) -> KeysView[str]:
        return self._json_dict.keys()

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __repr__(self) -> str:
        return repr(self._json_dict)

    # ------------------------------------------------------------------ changing
    def __setitem__(self, key: str, value: Any) -> None:
        """A dict value saves the whole summary now (as 0.31 does); any other value changes
        the local copy only, until `update()`."""
        key = _strip(key)
        if isinstance(value, Mapping):
            self._json_dict[key] = {}
            self._locked_keys.add(key)
            SummarySubDict(self._root, (*self._path, key)).update(value)
            return
        self._json_dict[key] = encode_value(value, self._where(key))
        self._locked_keys.add(key)
        self._root._changed_locally(self._where(key))

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delitem__(self, key: str) -> None:
        """Remove a key locally (KeyError when absent); `update()` saves the removal."""
        key = _strip(key)
        json_dict = self._json_dict
        if key not in json_dict:
            raise SummaryKeyError(key)
        del json_dict[key]
        self._locked_keys.discard(key)
        self._root._changed_locally(self._where(key))

    def update(self, key_vals: Mapping[str, Any] | None = None, overwrite: bool = True) -> None:
        """Merge `key_vals` into this level (with `overwrite=False`, keys already set through
        this object keep their value), then save the whole summary."""
        if key_vals:
            if not isinstance(key_vals, Mapping):
                raise InvalidInputError(
                    f"summary.update() takes a dict, got {type(key_vals).__name__}"
                )
            items = {_strip(k): v for k, v in key_vals.items()}
            if not overwrite:
                items = {k: v for k, v in items.items() if k not in self._locked_keys}
            json_dict = self._json_dict
            for key, value in items.items():
                json_dict[key] = encode_value(value, self._where(key))
            self._locked_keys.update(items)
        self._root._save()


class HTTPSummary(SummarySubDict):
    """`Run.summary`: the run's summary metrics, shared with `run.summary_metrics`."""

    def __init__(self, run: Run, summary: dict[str, Any]) -> None:
        super().__init__(None)
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_summary", summary)
        object.__setattr__(self, "_warned", False)

    @property
    def _json_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = self._summary
        return summary

    def _changed_locally(self, where: str) -> None:
        if not self._warned:
            object.__setattr__(self, "_warned", True)
            logger.warning(
                "run %s: summary[%r] changed locally only; summary.update() or run.update() "
                "saves the summary",
                "/".join(self._run.path),
                where,
            )

    def _save(self) -> None:
        """Write the whole summary (`upsertBucket(input: {id, summaryMetrics})`)."""
        run = self._run
        try:
            text = json.dumps(self._json_dict, allow_nan=True, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"summary of run {'/'.join(run.path)} is not JSON-serializable: {exc}"
            ) from exc
        data = run.client.transport.graphql(
            UPDATE_SUMMARY_MUTATION, {"id": run.storage_id, "summaryMetrics": text}
        )
        if not ((data.get("upsertBucket") or {}).get("bucket") or {}).get("id"):
            raise CommError(f"the server did not save the summary of run {'/'.join(run.path)}")
        object.__setattr__(self, "_warned", False)

    def load(self) -> None:
        """Replace the local summary with the server's (local edits are dropped)."""
        self._run.load_full_data(force=True)


def _strip(key: Any) -> Any:
    return key.strip() if isinstance(key, str) else key


__all__ = ["HTTPSummary", "SummaryKeyError", "SummarySubDict", "encode_value"]
