"""The Slinky operator's own slurm.conf and slurmd args, run on Slurm 26.05.

postrender.slurm.operator rebinds only the keys of its REBOUND table (the pods'
environment); these tests pin that table, prove the rebinding touches nothing else, and
run the operator's recorded output (testdata/slurm/operator-1.0.1, read from a real
operator: see its SOURCE.md): every node registers with the pod's exact ``--conf`` and
``srun --gres=gpu:N`` runs on the GPU NodeSets' partitions, ``gpu:N+1`` is refused.
tests/e2e/test_operator_stack.py does the same with the live operator's output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from operator_slurm import conf_keys_changed, run_and_probe

from postrender.slurm.errors import AssembleError
from postrender.slurm.operator import (
    REBOUND,
    PodSlurmd,
    bind_slurm_conf,
    operator_release,
    pod_slurmds,
    slurmd_argv,
)

DATA = Path(__file__).resolve().parents[2] / "testdata" / "slurm" / "operator-1.0.1"
SLURM_CONF = (DATA / "slurm.conf").read_text()
GRES_CONF = (DATA / "gres.conf").read_text()
PODS = pod_slurmds(json.loads((DATA / "pods.json").read_text()))

# Reviewed by hand: a key added here changes what of the operator's file is not run.
EXPECTED_REBOUND = {
    "SlurmctldHost", "SlurmctldPort", "SlurmUser", "StateSaveLocation", "SlurmctldLogFile",
    "SlurmSchedLogFile", "SlurmdLogFile", "AuthAltTypes", "AuthAltParameters",
    "CommunicationParameters", "ProctrackType", "TaskPlugin",
}  # fmt: skip


def test_the_rebound_keys_are_the_reviewed_set() -> None:
    assert set(REBOUND) == EXPECTED_REBOUND


def test_binding_changes_only_rebound_keys_and_keeps_the_rest_in_order() -> None:
    values: dict[str, str | None] = {key: f"bound-{key}" for key in REBOUND}
    values["AuthAltTypes"] = None
    bound = bind_slurm_conf(SLURM_CONF, values)
    assert conf_keys_changed(SLURM_CONF, bound) == set(REBOUND)
    lines = bound.splitlines()
    assert "AuthAltTypes=auth/jwt" not in lines and not any(
        line.startswith("AuthAltTypes=") for line in lines
    )
    assert "CommunicationParameters=block_null_hash,bound-CommunicationParameters" in lines
    # a rebound key the operator did not write comes last
    without = SLURM_CONF.replace("SlurmSchedLogFile=/var/log/slurm/slurmctld.log\n", "")
    assert (
        bind_slurm_conf(without, values).splitlines()[-1]
        == "SlurmSchedLogFile=bound-SlurmSchedLogFile"
    )
    for kept in ("GresTypes=gpu", "MaxNodeCount=1024", "AuthType=auth/slurm",
                 "SelectTypeParameters=CR_Core_Memory", "PrologFlags=Contain",
                 "SlurmctldParameters=enable_configless,enable_stepmgr",
                 "PartitionName=gpu Nodes=gpu "):  # fmt: skip
        assert kept in lines


def test_the_change_finder_sees_an_edited_nodeset_line() -> None:
    # The control: a change outside the rebound keys is reported, or the test above proves nothing.
    edited = SLURM_CONF.replace("NodeSet=gpu Feature=gpu", "NodeSet=gpu Feature=gpu,x")
    assert conf_keys_changed(SLURM_CONF, edited) == {
        "NodeSet=gpu Feature=gpu",
        "NodeSet=gpu Feature=gpu,x",
    }


def test_binding_refuses_a_key_outside_the_table() -> None:
    with pytest.raises(ValueError, match="GresTypes"):
        bind_slurm_conf(SLURM_CONF, {"GresTypes": "gpu,mps"})


def test_slurmd_args_are_unquoted_and_bound_to_the_run() -> None:
    gpu = next(pod for pod in PODS if pod.hostname == "gpu-0")
    assert gpu.args[-1] == "'Features=gpu,p4d.24xlarge,efa Gres=gpu:a100:8'"
    assert slurmd_argv(gpu.args, "127.0.0.1:7000", 7001) == [
        "-Z", "--conf-server", "127.0.0.1:7000",
        "--conf", "Features=gpu,p4d.24xlarge,efa Gres=gpu:a100:8 Port=7001",
    ]  # fmt: skip
    with pytest.raises(AssembleError, match="--conf-server"):
        slurmd_argv(["-Z", "--conf", "Features=x"], "127.0.0.1:1", 2)


def test_the_first_pod_of_each_nodeset_is_run() -> None:
    assert [(p.hostname, p.gpu_limit) for p in PODS] == [
        ("cpu-0", None),
        ("gpu-0", 8),
        ("static-0", 8),
    ]
    release = operator_release(SLURM_CONF, {"gres.conf": GRES_CONF}, PODS)
    assert [n.node_name for n in release.nodesets] == ["cpu-0", "gpu-0", "static-0"]
    with pytest.raises(AssembleError, match="slurmdbd"):
        operator_release(
            SLURM_CONF.replace("accounting_storage/none", "accounting_storage/slurmdbd"), {}, PODS
        )
    with pytest.raises(AssembleError, match="not <nodeset>-<ordinal>"):
        operator_release(SLURM_CONF, {}, [PodSlurmd("gpu", PODS[1].args, 8)])


@pytest.mark.slurm
def test_the_operators_files_run_and_gpu_jobs_fit_the_gres(tmp_path: Path) -> None:
    written, results = run_and_probe(SLURM_CONF, {"gres.conf": GRES_CONF}, PODS, tmp_path)
    assert conf_keys_changed(SLURM_CONF, written) == set(REBOUND)
    by_partition = {(part, gres): (code, said) for part, gres, code, said in results}
    # every partition holding a GPU node: its own NodeSet partition and the extraConf ones
    assert {part for part, _ in by_partition} == {
        "gpu", "all", "gpu-partition", "debug", "static", "static-gpu-partition",
    }  # fmt: skip
    for (part, gres), (code, said) in by_partition.items():
        if gres == "gpu:8":
            assert code == 0 and said == "0,1,2,3,4,5,6,7", (part, said)
        else:
            assert code != 0 and "Requested node configuration is not available" in said, part


def test_a_key_in_another_case_is_rebound_as_slurm_reads_it() -> None:
    bound = bind_slurm_conf("slurmctldhost=pod(svc)\nGresTypes=gpu\n", {"SlurmctldHost": "x"})
    assert bound == "SlurmctldHost=x\nGresTypes=gpu\n"
