"""Every partition option value slinky-pr writes is one the real slurmctld accepts.

A table of spellings, each as a profile would hold it (YAML text, so `20.0` is a float):
whether slurmctld 26.05 accepts `Option=<value>` and whether slinky-pr accepts the profile
(post-rendering the upstream chart's release, which has no Accounting object). slinky-pr
never accepts what slurmctld refuses; where it is stricter, the row says so. slurmctld
checks the accepted spellings in one start (each its own partition) and each refused
one alone (any one of them stops it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from postrender.errors import SlinkyError
from postrender.model.profiles import parse_profile
from postrender.model.slurmconf import render_option
from postrender.pipeline import post_render
from postrender.slurm.assemble import assemble
from postrender.slurm.probes import slurmctld_refusal

ROOT = Path(__file__).resolve().parents[2]
# The upstream chart's release without its partition annotations: the profile below
# targets the cpu NodeSet by key.
RELEASE = re.sub(
    r"^ *annotations:\n *slinky-pr/partition: .*\n",
    "",
    (ROOT / "testdata" / "examples" / "release.yaml").read_text(),
    flags=re.MULTILINE,
)

# (option, value as YAML text, slurmctld accepts, slinky-pr accepts)
TABLE = [
    ("MaxTime", "30", True, True),
    ("MaxTime", "30.0", False, False),
    ("MaxTime", "2-00:00:00", True, True),
    ("MaxTime", "2-12", True, True),
    ("MaxTime", '"1:30:00"', True, True),
    ("MaxTime", "UNLIMITED", True, True),
    ("DefaultTime", '"30:00"', True, True),
    ("DefaultTime", "5.0", False, False),
    ("PriorityTier", "20", True, True),
    ("PriorityTier", "20.0", False, False),
    ("PriorityTier", "70000", False, False),
    # slurm.conf(5) documents 0-65533; slurmctld takes up to 65535: slinky-pr is stricter.
    ("PriorityTier", "65534", True, False),
    ("PriorityJobFactor", "5", True, True),
    ("PriorityJobFactor", "5.0", False, False),
    ("DefMemPerGPU", "1024", True, True),
    ("DefMemPerGPU", "1.5", False, False),
    ("MaxNodes", "UNLIMITED", True, True),
    ("MaxNodes", "4.0", False, False),
    ("GraceTime", "30", True, True),
    ("GraceTime", "30.5", False, False),
    ("OverSubscribe", "FORCE:2", True, True),
    ("OverSubscribe", "YES", True, True),
    ("OverSubscribe", "EXCLUSIVE", True, True),
    ("OverSubscribe", "NO:2", False, False),
    ("OverSubscribe", "EXCLUSIVE:3", False, False),
    ("TRESBillingWeights", "CPU=1.0,Mem=0.25G", True, True),
    ("TRESBillingWeights", "cpu=1,mem=2G", True, True),
    ("TRESBillingWeights", "Node=1,Energy=1,Billing=1,FS/disk=1", True, True),
    ("TRESBillingWeights", "CPU=1.0,GPU=2.0", False, False),
    ("TRESBillingWeights", "CPU=1.0,Memory=1", False, False),
    ("TRESBillingWeights", "License/x=1", False, False),
    ("TRESBillingWeights", "CPU=1.0.0", False, False),
    # GRES weights need GRES accounting, which this release (no Accounting object) lacks.
    ("TRESBillingWeights", "CPU=1.0,GRES/gpu=2.0", False, False),
    ("PreemptMode", "GANG,GANG,WITHIN", True, True),
    ("PreemptMode", "CANCEL,WITHIN", True, True),
    ("PreemptMode", "REQUEUE", True, True),
    # QOS live in slurmdbd: without accounting slurmctld knows none.
    ("QOS", "normal", False, False),
    ("AllowQos", "normal", False, False),
    ("AllowGroups", "[ml-team, hpc]", True, True),
    ("AllowGroups", "ALL", True, True),
    ("State", "DRAIN", True, True),
    ("Default", "false", True, True),
    ("Hidden", "true", True, True),
    ("ExclusiveUser", "YES", True, True),
    ("LLN", "true", True, True),
]
IDS = [f"{option}={text}" for option, text, _, _ in TABLE]


def slinky_pr_line(option: str, text: str) -> str | None:
    """The partition line slinky-pr writes for the option, or None when it refuses it."""
    profile = (
        "clusters:\n- name: c\n  partitions:\n  - name: p\n    nodesets: [cpu]\n"
        f"    options:\n      {option}: {text}\n"
    )
    try:
        output = post_render(RELEASE, parse_profile(profile, "profiles.yaml")).output
    except SlinkyError:
        return None
    conf = assemble(output).controller_extra_conf.splitlines()
    return next(line for line in conf if line.startswith("PartitionName=p "))


def naive_setting(option: str, text: str) -> str:
    """``Option=value`` as a profile value would be written without slinky-pr's checks."""
    return f"{option}={render_option(yaml.safe_load(text))}"


def test_slinky_pr_never_accepts_what_slurmctld_refuses() -> None:
    assert [row for row in TABLE if row[3] and not row[2]] == []


@pytest.mark.parametrize(("option", "text", "slurm_ok", "ours"), TABLE, ids=IDS)
def test_slinky_pr_verdict(option: str, text: str, slurm_ok: bool, ours: bool) -> None:
    line = slinky_pr_line(option, text)
    assert (line is not None) is ours, line
    if line is not None:
        assert naive_setting(option, text) in line.split(" ")


@pytest.mark.slurm
def test_slurmctld_accepts_the_accepted_spellings(tmp_path: Path) -> None:
    """One start: slinky-pr's own lines, and the naive ones where it is stricter."""
    lines = []
    for i, (option, text, slurm_ok, ours) in enumerate(TABLE):
        if not slurm_ok:
            continue
        line = slinky_pr_line(option, text) if ours else None
        setting = naive_setting(option, text)
        body = line.split(" ", 2)[2] if line else setting
        lines.append(f"PartitionName=q{i} Nodes=n {body}")
    refusal = slurmctld_refusal("\n".join(lines), tmp_path)
    assert refusal is None, refusal


REFUSED = [row for row in TABLE if not row[2]]


@pytest.mark.slurm
@pytest.mark.parametrize(
    ("option", "text", "slurm_ok", "ours"), REFUSED, ids=[f"{r[0]}={r[1]}" for r in REFUSED]
)
def test_slurmctld_refuses_the_refused_spellings(
    slurm_required: None, tmp_path: Path, option: str, text: str, slurm_ok: bool, ours: bool
) -> None:
    refusal = slurmctld_refusal(f"PartitionName=q Nodes=n {naive_setting(option, text)}", tmp_path)
    assert refusal is not None
    assert "fatal" in refusal or "error" in refusal, refusal
