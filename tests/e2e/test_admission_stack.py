"""Admission: what slinky-pr emits is admitted by the real API server (CRD structural
schemas, CEL rules, strict field validation) and the operator's webhooks; hand-broken
objects the server denies are held against `slinky lint`.

Each broken case changes one object of the post-rendered release (or of a NodePool
slinky-pr emits). The server must deny it (else the case proves nothing), and
`slinky lint` must report an error on that object. A ConfigMap that exists in the
cluster, referenced by the Controller, is held the same way: admitted and clean with
``--cluster-objects``, or denied and reported when it carries a file the operator reserves.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from devcluster import Cluster, ClusterError
from e2e_stack import PROFILES, ROOT, VALUES, VENV_BIN, WEBHOOK_CACHE_MISS, helm_for

NAMESPACE = "admission"
GOLDEN = ROOT / "testdata" / "golden"
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def release(cluster: Cluster, chart: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Doc]:
    """The post-rendered release (Helm 3 CLI), applied for real in NAMESPACE."""
    helm = helm_for("helm3", tmp_path_factory.mktemp("helm3"), cluster)
    out = helm(
        "template", "slinky", chart, "-n", NAMESPACE, "-f", VALUES,
        "--post-renderer", "slinky-pr", "--post-renderer-args", f"--config={PROFILES}",
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(out) if isinstance(d, dict)]
    cluster.kubectl("create", "namespace", NAMESPACE)
    stream = yaml.safe_dump_all(docs)
    try:
        cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=stream)
    except ClusterError as err:  # once, for the webhook's cache (e2e_stack)
        assert WEBHOOK_CACHE_MISS.search(str(err)), err
        cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=stream)
    return docs


def server_denial(cluster: Cluster, doc: Doc) -> str | None:
    """The server's refusal of ``doc`` (server-side dry run: schemas, CEL, webhooks)."""
    try:
        cluster.kubectl(
            "apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", stdin=json.dumps(doc)
        )
    except ClusterError as err:
        return str(err)
    return None


def lint_errors(stream: list[Doc], objects: list[Doc], tmp_path: Path) -> list[Doc]:
    release = tmp_path / "release.yaml"
    release.write_text(yaml.safe_dump_all(stream))
    argv = [VENV_BIN / "slinky", "lint", release, "--config", PROFILES]
    if objects:
        extra = tmp_path / "cluster-objects.yaml"
        extra.write_text(yaml.safe_dump_all(objects))
        argv += ["--cluster-objects", extra]
    done = subprocess.run(
        [*map(str, argv), "--format", "json"], capture_output=True, text=True, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    return [f for f in report["findings"] if f["severity"] == "error"]


def golden_objects(kind: str) -> list[Doc]:
    """Every ``kind`` object in the reviewed golden outputs of slinky-pr."""
    found = []
    for path in sorted(GOLDEN.glob("*/expected.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind]
    return found


def test_the_emitted_release_is_admitted(cluster: Cluster, release: list[Doc]) -> None:
    for doc in release:
        kind, name = doc["kind"], doc["metadata"]["name"]
        stored = yaml.safe_load(cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "yaml"))
        assert stored["metadata"]["name"] == name
    assert any(d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-gres-conf")
               for d in release)  # fmt: skip


@pytest.mark.parametrize("kind", ["NodePool", "EC2NodeClass"])
def test_emitted_karpenter_objects_are_admitted(cluster: Cluster, kind: str) -> None:
    objects = golden_objects(kind)
    assert objects
    for doc in objects:
        assert server_denial(cluster, doc) is None, doc["metadata"]["name"]


# --- hand-broken objects: the server denies them; does lint? ------------------------------

Mutation = Callable[[Doc], None]


def set_path(*path: str | int, value: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        *parents, last = path
        node: Any = doc
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def delete_path(*path: str) -> Mutation:
    def mutate(doc: Doc) -> None:
        *parents, last = path
        node: Any = doc
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


def add_config_file_ref(doc: Doc) -> None:
    doc["spec"]["configFileRefs"].append({"name": "slinky-slurm-no-such-config"})


def empty_requirement_values(doc: Doc) -> None:
    reqs = doc["spec"]["template"]["spec"]["requirements"]
    reqs.append({"key": "node.kubernetes.io/instance-type", "operator": "In", "values": []})


def restricted_requirement(doc: Doc) -> None:
    reqs = doc["spec"]["template"]["spec"]["requirements"]
    reqs.append({"key": "karpenter.sh/made-up", "operator": "Exists"})


GPU_LIMITS = ("spec", "slurmd", "resources", "limits")
# name -> (kind, name suffix, mutation)
CASES: dict[str, tuple[str, str, Mutation]] = {
    "nodeset-replicas-not-an-integer": (
        "NodeSet",
        "-gpu",
        set_path("spec", "replicas", value="two"),
    ),
    "nodeset-unknown-field": ("NodeSet", "-gpu", set_path("spec", "replica", value=2)),
    "nodeset-gpu-limit-not-a-quantity": (
        "NodeSet",
        "-gpu",
        set_path(*GPU_LIMITS, "nvidia.com/gpu", value="eight"),
    ),
    "nodeset-name-not-dns": ("NodeSet", "-gpu", set_path("metadata", "name", value="Worker_GPU")),
    "controller-missing-config-file": ("Controller", "", add_config_file_ref),
    "controller-no-slurm-key": ("Controller", "", delete_path("spec", "slurmKeyRef")),
    "configmap-data-not-a-string": (
        "ConfigMap",
        "-gres-conf",
        set_path("data", "gres.conf", value=5),
    ),
    "nodepool-in-without-values (CEL)": ("NodePool", "", empty_requirement_values),
    "nodepool-restricted-label (CEL)": ("NodePool", "", restricted_requirement),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_server_denies_and_lint_reports(
    case: str, cluster: Cluster, release: list[Doc], tmp_path: Path
) -> None:
    kind, suffix, mutate = CASES[case]
    pool = kind == "NodePool"
    pools = golden_objects("NodePool")[:1] if pool else []
    source = pools if pool else release
    target = next(d for d in source if d["kind"] == kind and d["metadata"]["name"].endswith(suffix))
    broken = copy.deepcopy(target)
    mutate(broken)
    # the unbroken object is admitted, the broken one is not
    assert server_denial(cluster, target) is None
    denial = server_denial(cluster, broken)
    assert denial, f"{case}: the API server admitted it"

    if pool:
        errors = lint_errors(release, [broken], tmp_path)
    else:
        errors = lint_errors([broken if d is target else d for d in release], [], tmp_path)
    caught = [f for f in errors if f["object"] == f"{kind}/{broken['metadata']['name']}"]
    assert caught, f"{case}: server says {denial!r}; lint errors: {errors}"


@pytest.mark.parametrize(
    ("data", "denied"),
    [({"cgroup.conf": "CgroupPlugin=autodetect\n"}, False), ({"slurm.conf": "x=y\n"}, True)],
    ids=["cgroup-conf", "reserved-slurm-conf"],
)
def test_a_configmap_from_the_cluster(
    data: dict[str, str], denied: bool, cluster: Cluster, release: list[Doc], tmp_path: Path
) -> None:
    """A Controller referencing a ConfigMap the cluster has (not the release)."""
    name = f"slinky-cluster-{next(iter(data)).replace('.', '-')}"
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "data": data,
                 "metadata": {"name": name, "namespace": NAMESPACE}}  # fmt: skip
    target = next(d for d in release if d["kind"] == "Controller")
    controller = copy.deepcopy(target)
    controller["spec"]["configFileRefs"].append({"name": name})
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(configmap))
    try:
        denial = server_denial(cluster, controller)
        if denial and WEBHOOK_CACHE_MISS.search(denial):  # the webhook's cache lagged (e2e_stack)
            denial = server_denial(cluster, controller)
    finally:
        cluster.kubectl("delete", "configmap", name, "-n", NAMESPACE)
    stream = [controller if d is target else d for d in release]
    errors = lint_errors(stream, [configmap], tmp_path)
    ref = f"Controller/{controller['metadata']['name']}"
    caught = [f for f in errors if f["object"] == ref]
    assert bool(denial) == denied, denial
    assert bool(caught) == denied, caught
    # the cluster object is what lint's verdict rests on: without it, the reference dangles
    alone = [f["rule"] for f in lint_errors(stream, [], tmp_path) if f["object"] == ref]
    assert "SPR-C007" in alone
