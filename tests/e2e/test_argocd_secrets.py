"""docs/argocd/README.md "Keep the auth Secrets stable", against the real upstream chart:
with the docs' values a render is byte for byte the same every time (nothing for Argo CD to
see drift), with the chart's defaults the auth Secrets change on every render (so the advice
matters), and chart 1.0.x renders new Secrets whatever its values say (hence the docs'
ignoreDifferences there)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pins
import pytest
import yaml
from argocd_app import ARGOCD
from e2e_stack import need_binaries, upstream_chart

# The first chart with slurmKey/jwtKey.create and secretRef, and the last without them.
SECRET_REF_CHART = "v1.1.0"
OLD_REF_CHART = "v1.0.1"
README = (ARGOCD / "README.md").read_text()
SECTION = README.split("## Keep the auth Secrets stable", 1)[1].split("\n## ", 1)[0]


def docs_values() -> dict[str, Any]:
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", SECTION, re.S) if "# values.yaml" in b]
    values: dict[str, Any] = yaml.safe_load(block)
    return values


def render(chart: Path, values: dict[str, Any], tmp_path: Path) -> str:
    need_binaries("helm3")
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    return subprocess.run(
        [pins.BIN / "helm3", "template", "slinky", chart, "--namespace", "slurm",
         "--values", tmp_path / "values.yaml"],
        capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    ).stdout  # fmt: skip


def secrets(stream: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(stream) if isinstance(d, dict)]
    return {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "Secret"}


@pytest.fixture(scope="module")
def chart_1_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return upstream_chart(tmp_path_factory.mktemp("chart") / "slurm", SECRET_REF_CHART)


def test_docs_values_render_the_same_every_time(chart_1_1: Path, tmp_path: Path) -> None:
    first = render(chart_1_1, docs_values(), tmp_path)
    assert render(chart_1_1, docs_values(), tmp_path) == first
    assert secrets(first) == {}
    # the Controller uses the Secrets the docs create by hand
    created = dict(re.findall(r"create secret generic (\S+) --from-file=([^=\s]+)=", SECTION))
    (controller,) = [d for d in yaml.safe_load_all(first) if d and d["kind"] == "Controller"]
    refs = {controller["spec"][k]["name"]: controller["spec"][k]["key"] for k in
            ("slurmKeyRef", "jwtKeyRef")}  # fmt: skip
    assert refs == created and len(created) == 2


def test_chart_defaults_generate_new_keys_on_every_render(chart_1_1: Path, tmp_path: Path) -> None:
    first, second = (secrets(render(chart_1_1, {}, tmp_path)) for _ in range(2))
    assert first.keys() == second.keys() and len(first) == 2
    assert all(first[name] != second[name] for name in first)


@pytest.fixture(scope="module")
def chart_1_0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return upstream_chart(tmp_path_factory.mktemp("chart") / "slurm", OLD_REF_CHART)


def test_chart_1_0_renders_new_secrets_whatever_the_refs(chart_1_0: Path, tmp_path: Path) -> None:
    """1.0.x's slurmKeyRef/jwtHs256KeyRef point the Controller at other Secrets, but the
    chart still renders its own, with new keys every time."""
    refs = {
        "slurmKeyRef": {"name": "slurm-auth-slurm", "key": "slurm.key"},
        "jwtHs256KeyRef": {"name": "slurm-auth-jwt", "key": "jwt.key"},
    }
    stream = render(chart_1_0, refs, tmp_path)
    (controller,) = [d for d in yaml.safe_load_all(stream) if d and d["kind"] == "Controller"]
    assert {k: controller["spec"][k] for k in refs} == refs
    first, second = secrets(stream), secrets(render(chart_1_0, refs, tmp_path))
    assert (
        first.keys() == second.keys() == {"slinky-slurm-auth-slurm", "slinky-slurm-auth-jwths256"}
    )
    assert all(first[name] != second[name] for name in first)
