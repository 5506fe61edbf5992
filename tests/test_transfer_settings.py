"""`TransferSettings` validation and the part plans of ranged downloads and multipart uploads."""

from __future__ import annotations

import itertools

import pytest

from prefect_wandb_public.api import TransferSettings
from prefect_wandb_public.api.transfers import (
    MAX_PARTS,
    MIB,
    RAMP,
    download_part_ranges,
    part_ranges,
)
from prefect_wandb_public.errors import InvalidInputError


def sizes(ranges: list[tuple[int, int]]) -> list[int]:
    return [stop - start for start, stop in ranges]


def contiguous(ranges: list[tuple[int, int]], size: int) -> bool:
    return (
        ranges[0][0] == 0
        and ranges[-1][1] == size
        and all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("download_part_size", MIB - 1, "download_part_size must be at least"),
        ("first_download_part", MIB // 2, "first_download_part must be at least"),
        ("upload_part_size", 4 * MIB, "upload_part_size must be at least"),
        ("part_workers", 65, "part_workers must be at most 64"),
        ("part_workers", 0, "part_workers must be a positive integer"),
        ("ranged_download_threshold", True, "ranged_download_threshold must be a positive"),
        ("first_download_part", "2MiB", "first_download_part must be a positive integer"),
        ("part_nice", 20, "part_nice must be between 0 and 19"),
        ("part_nice", -1, "part_nice must be between 0 and 19"),
        ("part_nice", 2.5, "part_nice must be an integer"),
        ("near_storage_first_byte", -0.001, "near_storage_first_byte must be between 0 and 1"),
        ("near_storage_first_byte", 2, "near_storage_first_byte must be between 0 and 1"),
        ("near_storage_first_byte", float("nan"), "near_storage_first_byte must be between"),
        ("near_storage_first_byte", "5ms", "near_storage_first_byte must be a number"),
        ("near_storage_first_byte", False, "near_storage_first_byte must be a number"),
    ],
)
def test_bad_settings_are_refused_by_name(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        TransferSettings(**{field: value})  # type: ignore[arg-type]


def test_near_storage_takes_whole_and_fractional_seconds_and_zero_turns_it_off() -> None:
    assert TransferSettings().near_storage_first_byte == 0.005
    assert TransferSettings(near_storage_first_byte=1).near_storage_first_byte == 1
    assert TransferSettings(near_storage_first_byte=0).near_storage_first_byte == 0


def test_a_download_ramps_its_first_parts_up_to_the_part_size() -> None:
    ranges = download_part_ranges(1024 * MIB, 16 * MIB, 2 * MIB)

    assert contiguous(ranges, 1024 * MIB)
    ramp = sizes(ranges)[:10]
    assert ramp[0] == 2 * MIB
    assert all(b <= a * RAMP and b > a and b % 4096 == 0 for a, b in itertools.pairwise(ramp))
    assert ramp[-1] < 16 * MIB <= ramp[-1] * RAMP
    assert set(sizes(ranges)[10:-1]) == {16 * MIB}
    assert len(ranges) == 70  # the ramp adds 6 parts to the 64 of uniform 16 MiB parts


def test_without_a_ramp_the_parts_are_uniform() -> None:
    assert download_part_ranges(20 * MIB, 4 * MIB, 4 * MIB) == part_ranges(20 * MIB, 4 * MIB)
    assert download_part_ranges(20 * MIB, 4 * MIB, 8 * MIB) == part_ranges(20 * MIB, 4 * MIB)


def test_small_and_empty_files_keep_a_valid_plan() -> None:
    assert download_part_ranges(0, 16 * MIB, 2 * MIB) == [(0, 0)]
    assert download_part_ranges(3 * MIB, 16 * MIB, 2 * MIB) == [(0, 2 * MIB), (2 * MIB, 3 * MIB)]


def test_a_huge_file_keeps_its_grown_parts_after_the_ramp() -> None:
    size = 4 * MAX_PARTS * MIB  # uniform 1 MiB parts would be four times too many
    ranges = download_part_ranges(size, MIB, 2 * MIB)

    assert contiguous(ranges, size)
    grown = sizes(part_ranges(size, MIB))[0]
    assert grown == 4 * MIB
    assert sizes(ranges)[:5] == [2 * MIB, 5 * MIB // 2, 25 * MIB // 8, 125 * MIB // 32, grown]
    assert set(sizes(ranges)[4:-1]) == {grown} and 0 < sizes(ranges)[-1] <= grown
    assert len(ranges) <= MAX_PARTS + 4
