"""Where the W&B watcher keeps its state between runs: Prefect Variables.

A Variable holds at most 5000 characters of JSON, and a watcher's state (high-water marks,
alias and run snapshots) can outgrow that. So the state is stored compressed (zlib, base64) in
parts: `<name>__g<generation>_<i>` hold the pieces, and `<name>` itself points at the
generation to read. A save writes the new parts first, then moves the pointer, then removes
the old parts, so a save that dies half-way leaves the previous state readable.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from prefect.variables import Variable

from prefect_wandb_public.errors import InvalidInputError

STATE_FORMAT = "prefect-wandb-watch/zlib+base64"
PART_SIZE = 4000  # characters of base64 per Variable (the limit is 5000 characters of JSON)
_NAME_RE = re.compile(r"^[a-z0-9_-]{1,200}$")


def check_state_name(name: Any) -> str:
    """Variable names: 1-200 lowercase letters, digits, `-` and `_`."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or "__g" in name:
        raise InvalidInputError(
            f"invalid watch state name {name!r}: 1-200 lowercase letters, digits, '-' or '_' "
            "(and no '__g', which names its parts)"
        )
    return name


def _part_name(name: str, generation: int, index: int) -> str:
    return f"{name}__g{generation}_{index}"


def load_watch_state(name: str) -> dict[str, Any] | None:
    """The state saved under `name`, or None when nothing was saved yet."""
    check_state_name(name)
    pointer = Variable.get(name, default=None)
    if pointer is None:
        return None
    if not isinstance(pointer, dict) or pointer.get("format") != STATE_FORMAT:
        raise InvalidInputError(
            f"Prefect Variable {name!r} does not hold a W&B watch state (format "
            f"{STATE_FORMAT!r}); choose another state name or delete it"
        )
    generation, count = int(pointer["generation"]), int(pointer["parts"])
    pieces = []
    for index in range(count):
        piece = Variable.get(_part_name(name, generation, index), default=None)
        if not isinstance(piece, str):
            raise InvalidInputError(
                f"watch state {name!r} generation {generation} is missing part {index}"
            )
        pieces.append(piece)
    state: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode("".join(pieces))))
    return state


def save_watch_state(name: str, state: dict[str, Any]) -> int:
    """Save `state` under `name`; returns the number of Variables its parts took."""
    check_state_name(name)
    old = Variable.get(name, default=None)
    old_generation = int(old["generation"]) if isinstance(old, dict) and "generation" in old else 0
    old_count = int(old["parts"]) if isinstance(old, dict) and "parts" in old else 0
    generation = old_generation + 1
    text = base64.b64encode(zlib.compress(json.dumps(state, sort_keys=True).encode())).decode()
    pieces = [text[i : i + PART_SIZE] for i in range(0, len(text), PART_SIZE)] or [""]
    for index, piece in enumerate(pieces):
        Variable.set(_part_name(name, generation, index), piece, overwrite=True)
    pointer = {"format": STATE_FORMAT, "generation": generation, "parts": len(pieces)}
    Variable.set(name, pointer, overwrite=True)
    for index in range(old_count):
        Variable.unset(_part_name(name, old_generation, index))
    return len(pieces)


__all__ = ["PART_SIZE", "STATE_FORMAT", "check_state_name", "load_watch_state", "save_watch_state"]
