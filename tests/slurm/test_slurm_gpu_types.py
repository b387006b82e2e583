"""`gres: auto` for every NVIDIA instance type of the catalogue, matched by AutoDetect=nvidia.

One Slurm 26.05 cluster carries one NodeSet per distinct (GPU model, GPU count) of the
catalogue's NVIDIA types, each the target of a `gres: auto` partition. The gres.conf
slinky-pr adds (`AutoDetect=nvidia`) is used verbatim; each node's fake GPUs report the
model string the NVIDIA driver reports for that instance type
(postrender/data/gpu-models.json), so slurmd's own autodetection must match the
`Gres=gpu:<type>:N` slinky-pr wrote: the node comes up idle with N GPUs, a job asking N
sees N devices, N+1 is refused. Types sharing a model and count with a representative
get the very same node line (checked without daemons).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from postrender.errors import SlinkyError
from postrender.model.catalogue import all_types, slurm_gpu_type
from postrender.model.profiles import Profile, parse_profile
from postrender.pipeline import post_render
from postrender.slurm.assemble import assemble
from postrender.slurm.chroot import DATA as PACKAGE_DATA
from postrender.slurm.cluster import SlurmCluster
from postrender.slurm.verify import bad_states

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "testdata" / "examples" / "release.yaml"
MODELS = json.loads((PACKAGE_DATA / "gpu-models.json").read_text())
NOT_AVAILABLE = "Requested node configuration is not available"


def model_of(name: str, gpu_name: str) -> str:
    return str(MODELS["by_instance_type"].get(name) or MODELS["by_gpu_name"][gpu_name])


def nvidia_types() -> dict[str, tuple[str, int]]:
    """Every NVIDIA GPU instance type of the catalogue: (driver model, GPU count)."""
    return {
        name: (model_of(name, str(t.gpu_name)), t.accelerator_count)
        for name, t in sorted(all_types().items())
        if t.accelerator_resource == "nvidia.com/gpu" and t.gpu_name
    }


def representatives() -> dict[tuple[str, int], str]:
    """One instance type per distinct (model, count); the smallest name first."""
    chosen: dict[tuple[str, int], str] = {}
    for name, key in nvidia_types().items():
        chosen.setdefault(key, name)
    return chosen


def key_of(instance_type: str) -> str:
    """A NodeSet key for the type (Slurm node names: no dots)."""
    return re.sub(r"[^a-z0-9]+", "-", instance_type)


def profile_for(types: list[str]) -> Profile:
    partitions = [
        {"name": f"p-{key_of(t)}", "instance_types": [t], "gres": "auto", "nodesets": [key_of(t)]}
        for t in types
    ]
    text = yaml.safe_dump({"clusters": [{"name": "gpu-types", "partitions": partitions}]})
    return parse_profile(text, "gpu-types.yaml")


def release_for(types: list[str]) -> str:
    """The upstream chart's release with one GPU NodeSet (one replica) per type."""
    docs = [d for d in yaml.safe_load_all(UPSTREAM.read_text()) if d]
    template = next(
        d for d in docs if d["kind"] == "NodeSet" and d["metadata"]["name"].endswith("-gpu")
    )
    out = [d for d in docs if d["kind"] != "NodeSet"]
    for instance_type in types:
        nodeset = copy.deepcopy(template)
        key = key_of(instance_type)
        nodeset["metadata"]["name"] = f"slinky-slurm-worker-{key}"
        nodeset["metadata"].pop("annotations", None)
        nodeset["spec"]["template"]["metadata"].pop("annotations", None)
        nodeset["spec"]["template"]["spec"]["hostname"] = f"{key}-"
        nodeset["spec"]["replicas"] = 1
        out.append(nodeset)
    return yaml.safe_dump_all(out)


def test_every_instance_type_has_a_driver_model() -> None:
    types = nvidia_types()
    names = {t.gpu_name for t in all_types().values() if t.accelerator_resource == "nvidia.com/gpu"}
    assert set(MODELS["by_gpu_name"]) == names - {None}
    assert len(types) >= 50 and len(representatives()) < len(types)


def test_types_sharing_model_and_count_get_the_same_node_line() -> None:
    """The daemons run only the representatives: the others must post-render the same."""
    types = list(nvidia_types())
    profile = profile_for(types)
    release = assemble(post_render(release_for(types), profile).output)
    lines = {
        n.key: n.slurmd_conf.replace(f"Features={n.key},", "Features=") for n in release.nodesets
    }
    gres = {n.key: (n.gres, n.gpu_limit) for n in release.nodesets}
    for name, key in nvidia_types().items():
        rep = representatives()[key]
        assert gres[key_of(name)] == gres[key_of(rep)], (name, rep)
        # Same Gres= and GPU limit; only the instance-type feature differs.
        assert lines[key_of(name)].replace(name, "T") == lines[key_of(rep)].replace(rep, "T")


@pytest.fixture(scope="module")
def cluster(
    slurm_required: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlurmCluster]:
    types = sorted(representatives().values())
    output = post_render(release_for(types), profile_for(types)).output
    release = assemble(output)
    assert release.gres_conf == "AutoDetect=nvidia\n"
    with SlurmCluster(
        release, tmp_path_factory.mktemp("gpu-types"), startup_timeout=120
    ) as running:
        yield running


REPRESENTATIVES = sorted(representatives().items(), key=lambda item: item[1])


@pytest.mark.slurm
@pytest.mark.parametrize(
    ("model", "count", "instance_type"),
    [(model, count, name) for (model, count), name in REPRESENTATIVES],
    ids=[name for _, name in REPRESENTATIVES],
)
def test_autodetect_matches_gres_auto(
    cluster: SlurmCluster, model: str, count: int, instance_type: str
) -> None:
    key = key_of(instance_type)
    node = cluster.show_nodes()[f"{key}-0"]
    gpu_type = slurm_gpu_type(all_types()[instance_type].gpu_name)
    assert not bad_states(node["State"]), (model, node["State"], node.get("Reason"))
    assert "Reason" not in node
    assert re.fullmatch(rf"gpu:{re.escape(str(gpu_type))}:{count}\(S:[0-9-]+\)", node["Gres"]), (
        model,
        node["Gres"],
    )
    ran = cluster.run(key, gres=f"gpu:{count}", command=["sh", "-c", "echo $CUDA_VISIBLE_DEVICES"])
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().split(",") == [str(i) for i in range(count)]
    refused = cluster.run(f"p-{key}", gres=f"gpu:{count + 1}", immediate=2)
    assert refused.returncode != 0 and NOT_AVAILABLE in refused.stderr


@pytest.mark.slurm
@pytest.mark.parametrize(
    ("gpu_type", "drained"), [("rtx-pro-server-6000", True), ("rtx_pro_6000", False)]
)
def test_karpenter_gpu_name_is_not_always_a_slurm_type(
    slurm_required: None, tmp_path: Path, gpu_type: str, drained: bool
) -> None:
    """Why gres: auto writes rtx_pro_6000 for g7e: the gpu-name itself drains the node."""
    stream = (ROOT / "testdata" / "slurm" / "gpu-cpu.yaml").read_text()
    edited = stream.replace("Gres=gpu:a100:8", f"Gres=gpu:{gpu_type}:8")
    assert edited != stream
    model = MODELS["by_gpu_name"]["rtx-pro-server-6000"]
    with SlurmCluster(assemble(edited), tmp_path, gpu_models={"gpu": model}) as running:
        node = running.show_nodes()["gpu-0"]
        assert ("DRAIN" in node["State"]) is drained, node
        if drained:
            assert "gres/gpu count reported lower than configured (0 < 8)" in node["Reason"]
    assert slurm_gpu_type("rtx-pro-server-6000") == "rtx_pro_6000"


def test_profile_refuses_the_gpu_name_slurm_would_drain() -> None:
    base = "clusters:\n- name: c\n  partitions:\n  - name: p\n    instance_types: [g7e.48xlarge]\n"
    auto = parse_profile(base + "    gres: auto\n", "p.yaml").partitions["p"].gres
    assert str(auto) == "gpu:rtx_pro_6000:8"
    with pytest.raises(SlinkyError, match="use gpu:rtx_pro_6000:8"):
        parse_profile(base + "    gres: gpu:rtx-pro-server-6000:8\n", "p.yaml")
