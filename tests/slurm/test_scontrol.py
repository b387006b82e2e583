"""Slurm's values as ``scontrol show -o`` prints them, read as the profile writes them."""

from __future__ import annotations

import pytest

from postrender.model.slurmconf import Gres
from postrender.slurm.scontrol import node_gres, option_matches, slurm_minutes


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("30", 30),
        ("30:30", 31),
        ("2:00:00", 120),
        ("1-12", 2160),
        ("1-0:30", 1470),
        ("2-00:00:00", 2880),
        ("00:30:00", 30),
        ("UNLIMITED", None),
        ("INFINITE", None),
    ],
)
def test_slurm_time_formats(text: str, minutes: int | None) -> None:
    assert slurm_minutes(text) == minutes


@pytest.mark.parametrize(
    ("key", "expected", "actual", "same"),
    [
        ("MaxTime", "30", "00:30:00", True),
        ("MaxTime", "31", "00:30:00", False),
        ("AllowGroups", "hpc,ml-team", "ml-team,hpc", True),
        ("OverSubscribe", "YES", "YES:4", True),
        ("OverSubscribe", "FORCE:2", "FORCE:4", False),
        ("Default", "YES", "YES", True),
        ("TRESBillingWeights", "CPU=1.0,Mem=0.25G", "cpu=1.0,mem=0.25G", True),
    ],
)
def test_option_comparison(key: str, expected: str, actual: str, same: bool) -> None:
    assert option_matches(key, expected, actual) is same


def test_gres_as_scontrol_prints_it() -> None:
    assert node_gres("gpu:a100:8(S:0-1),gpu:h100:2") == [
        Gres("gpu", "a100", 8),
        Gres("gpu", "h100", 2),
    ]
    assert node_gres("(null)") == []
