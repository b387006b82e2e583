"""The real Helm v4 engine, the fixture chart, and the plugin files, end to end.

Engine tests run Helm v4 (helm-python-sdk) through ``helm_engine`` with small post-renderer
plugins made in temporary directories, to pin down what Helm 4 sends a post-renderer and
what it does with the answer. They skip when ``helm_python`` does not import, and fail
instead when ``CI`` is set. Each engine call costs about 0.3 s (a fresh interpreter).
The wrapper and plugin.yaml tests need no engine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_engine as he
import pytest
import yaml

REFERENCE = he.REPO / "testdata" / "upstream" / "rendered"
REF_1_3 = REFERENCE / "slurm-1.3.0-rc1_gpu-cpu.yaml"
REF_1_3_HELM4_INPUT = REFERENCE / "helm4-input_slurm-1.3.0-rc1_gpu-cpu.yaml"
REF_1_0 = REFERENCE / "slurm-1.0.1_gpu-cpu.yaml"

FILENAME_LINE = re.compile(
    r"^    postrenderer\.helm\.sh/postrender-filename: 'slurm/templates/[^']+'$", re.MULTILINE
)

PLUGIN_YAML = """\
apiVersion: v1
type: postrenderer/v1
name: {name}
version: 0.1.0
runtime: subprocess
runtimeConfig:
  platformCommand:
    - command: ${{HELM_PLUGIN_DIR}}/bin/run
"""


def make_plugin(root: Path, name: str, script: str, extra_yaml: str = "") -> Path:
    """A post-renderer plugin whose command is the POSIX sh ``script``."""
    plugin = root / name
    (plugin / "bin").mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(PLUGIN_YAML.format(name=name) + extra_yaml)
    run = plugin / "bin" / "run"
    run.write_text("#!/bin/sh\n" + script)
    run.chmod(0o755)
    return plugin


def mask_secrets(stream: str) -> str:
    """Blank the chart's random auth keys (randAscii: new on every render)."""
    return re.sub(r"^(\s+[\w.-]+\.key: ).*$", r"\1<random>", stream, flags=re.MULTILINE)


def by_kind_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def filenames(helm4_input: str) -> dict[tuple[str, str], str]:
    """(kind, name) -> the filename annotation, for a Helm 4 post-renderer input."""
    return {
        key: doc["metadata"]["annotations"][he.FILENAME_ANNOTATION]
        for key, doc in by_kind_name(he.documents(helm4_input)).items()
    }


def dig(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for key in path.split("."):
        node = node[key]
    return node


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def engine() -> None:
    if he.engine_available():
        return
    message = "helm_python (helm-python-sdk) does not import"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the Helm engine tests")
    pytest.skip(message)


@pytest.fixture(scope="module")
def rendered(engine: None) -> str:
    """``helm template`` of the fixture chart with its defaults (hooks included)."""
    return he.render(he.FIXTURE_CHART)


@pytest.fixture(scope="module")
def passthrough(engine: None, tmp_path_factory: pytest.TempPathFactory) -> he.HelmResult:
    """The fixture chart through a post-renderer plugin that copies stdin to stdout."""
    plugin = make_plugin(tmp_path_factory.mktemp("plugins"), "cat", "exec cat\n")
    return he.install_dry_run(he.FIXTURE_CHART, {}, plugin, post_renderer="cat")


# --- the fixture chart -------------------------------------------------------------------


def test_fixture_renders_slinky_documents(rendered: str) -> None:
    docs = by_kind_name(he.documents(rendered))
    assert set(docs) == {
        ("Controller", "slinky-slurm"),
        ("NodeSet", "slinky-slurm-worker-cpu"),
        ("NodeSet", "slinky-slurm-worker-gpu"),
        ("RestApi", "slinky-slurm"),
        ("Secret", "slinky-slurm-auth-jwt"),
        ("Secret", "slinky-slurm-auth-slurm"),
        ("Job", "slinky-slurm-post-install"),
    }
    controller = docs["Controller", "slinky-slurm"]["spec"]
    assert controller["extraConf"] == "PartitionName=all Nodes=ALL Default=YES MaxTime=UNLIMITED"
    assert "configFileRefs" in controller
    assert controller["configFileRefs"] is None
    for key, partition in (("gpu", "gpu-partition"), ("cpu", "cpu-partition")):
        nodeset = docs["NodeSet", f"slinky-slurm-worker-{key}"]
        expected = {"slinky-pr/partition": partition}
        assert nodeset["metadata"]["annotations"] == expected
        assert nodeset["spec"]["template"]["metadata"]["annotations"] == expected
        assert nodeset["spec"]["template"]["spec"]["hostname"] == f"{key}-"
        assert nodeset["spec"]["partition"] == {"enabled": key == "gpu"}
    hook = docs["Job", "slinky-slurm-post-install"]
    assert hook["metadata"]["annotations"][he.HOOK_ANNOTATION] == "post-install,post-upgrade"
    assert he.sources(rendered)[-1] == "slurm/templates/hooks/post-install-job.yaml"


def test_fixture_matches_upstream_chart_1_3(rendered: str, passthrough: he.HelmResult) -> None:
    """Same objects, filenames and the fields slinky-pr reads as the real chart 1.3.0-rc1."""
    ours = by_kind_name(he.documents(rendered))
    ours.pop(("Job", "slinky-slurm-post-install"))
    upstream = by_kind_name(he.documents(REF_1_3.read_text()))
    assert set(ours) == set(upstream)
    same = {
        "NodeSet": [
            "metadata.annotations",
            "spec.controllerRef",
            "spec.partition",
            "spec.replicas",
            "spec.template.metadata.annotations",
            "spec.template.spec.hostname",
            "spec.template.spec.nodeSelector",
            "spec.template.spec.tolerations",
            "spec.template.spec.affinity",
            "spec.template.spec.volumes",
            "spec.slurmd.resources",
        ],
        "Controller": ["spec.extraConf", "spec.configFileRefs", "spec.slurmKeyRef"],
        "RestApi": ["spec.controllerRef"],
        "Secret": ["type", "immutable"],
    }
    for key, doc in ours.items():
        for path in same[key[0]]:
            assert dig(doc, path) == dig(upstream[key], path), (key, path)
    upstream_files = filenames(REF_1_3_HELM4_INPUT.read_text())
    our_files = filenames(passthrough.calls[0].stdin)
    our_files.pop(("Job", "slinky-slurm-post-install"))
    assert our_files == upstream_files


def test_fixture_shape_1_0_puts_annotations_on_the_pod_template_only(engine: None) -> None:
    ours = by_kind_name(he.documents(he.render(he.FIXTURE_CHART, {"shape": "1.0"})))
    upstream = by_kind_name(he.documents(REF_1_0.read_text()))
    for key in ("gpu", "cpu"):
        name = ("NodeSet", f"slinky-slurm-worker-{key}")
        for docs in (ours, upstream):
            assert "annotations" not in docs[name]["metadata"]
            assert docs[name]["spec"]["template"]["metadata"]["annotations"] == {
                "slinky-pr/partition": f"{key}-partition"
            }
    assert ("Secret", "slinky-slurm-auth-jwths256") in ours
    assert ("Secret", "slinky-slurm-auth-jwths256") in upstream


def test_fixture_renders_values_where_upstream_does(engine: None) -> None:
    values = {
        "controller": {"extraConf": "GresTypes=gpu"},
        "configFiles": {"gres.conf": "AutoDetect=nvidia\n"},
        "nodesets": {
            "gpu": {
                "extraConfMap": {"Gres": ["gpu:a100:8"], "Weight": 10},
                "partition": {"configMap": {"MaxTime": "2-00:00:00", "AllowGroups": "ml"}},
                "slurmd": {"resources": {"limits": {"nvidia.com/gpu": 8}}},
                "podSpec": {"tolerations": [{"key": "gpu", "operator": "Exists"}]},
            }
        },
        "partitions": {"batch": {"enabled": True, "nodesets": ["gpu", "cpu"], "config": "X=1"}},
    }
    docs = by_kind_name(he.documents(he.render(he.FIXTURE_CHART, values, release="my-slurm")))
    controller = docs["Controller", "my-slurm"]["spec"]
    assert controller["extraConf"].splitlines() == [
        "GresTypes=gpu",
        "PartitionName=all Nodes=ALL Default=YES MaxTime=UNLIMITED",
        "PartitionName=batch Nodes=cpu,gpu X=1",
    ]
    assert controller["configFileRefs"] == [{"name": "my-slurm-config-extra"}]
    assert docs["ConfigMap", "my-slurm-config-extra"]["data"] == values["configFiles"]
    gpu = docs["NodeSet", "my-slurm-worker-gpu"]["spec"]
    assert gpu["extraConf"] == "Gres=gpu:a100:8 Weight=10"
    assert gpu["partition"] == {"enabled": True, "config": "AllowGroups=ml MaxTime=2-00:00:00"}
    assert gpu["slurmd"]["resources"] == {"limits": {"nvidia.com/gpu": 8}}
    assert gpu["template"]["spec"]["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert gpu["template"]["spec"]["nodeSelector"] == {"kubernetes.io/os": "linux"}


def test_fixture_rejects_a_partition_naming_a_missing_nodeset(engine: None) -> None:
    values = {"partitions": {"x": {"enabled": True, "nodesets": ["tpu"]}}}
    with pytest.raises(RuntimeError, match='names nodeset "tpu", which is missing or disabled'):
        he.render(he.FIXTURE_CHART, values)


# --- the Helm 4 post-renderer contract -----------------------------------------------------


def test_helm4_input_has_hooks_and_a_filename_annotation_on_every_document(
    passthrough: he.HelmResult,
) -> None:
    assert passthrough.ok, passthrough.error
    (call,) = passthrough.calls
    assert call.args == ()
    # kyaml format, like the upstream sample: no leading separator, no Source comments
    assert call.stdin.startswith("apiVersion: ")
    assert "# Source:" not in call.stdin
    reference = REF_1_3_HELM4_INPUT.read_text()
    for stream in (call.stdin, reference):
        assert len(FILENAME_LINE.findall(stream)) == len(he.split_documents(stream))
    hooks = he.hook_documents(call.stdin)
    assert len(hooks) == 1
    assert "kind: Job" in hooks[0]
    assert "'slurm/templates/hooks/post-install-job.yaml'" in hooks[0]
    # documents arrive in template path order, the hook among them
    assert list(filenames(call.stdin).values()) == sorted(filenames(call.stdin).values())


def test_passthrough_keeps_the_release_as_rendered(
    passthrough: he.HelmResult, rendered: str
) -> None:
    assert he.FILENAME_ANNOTATION not in passthrough.manifest
    assert "kind: Job" not in passthrough.manifest
    assert "kind: Job" in passthrough.hooks
    without_hooks = rendered[: rendered.index("---\n# Source: slurm/templates/hooks/")]
    assert mask_secrets(passthrough.manifest) == mask_secrets(without_hooks)
    # Helm re-sorts into install order: Secrets first, whatever the post-renderer wrote
    assert he.sources(passthrough.manifest)[:2] == [
        "slurm/templates/secrets/jwtkey.yaml",
        "slurm/templates/secrets/slurmkey.yaml",
    ]


def test_changes_reach_manifest_and_hooks(engine: None, tmp_path: Path) -> None:
    script = """exec awk '{ print }
/postrender-filename:/ { print "    slinky-pr.test/seen: \\"yes\\"" }'
"""
    plugin = make_plugin(tmp_path, "annotate", script)
    result = he.install_dry_run(he.FIXTURE_CHART, {}, plugin, post_renderer="annotate")
    assert result.ok, result.error
    manifest, hooks = he.documents(result.manifest), he.documents(result.hooks)
    assert len(manifest) == 6
    assert len(hooks) == 1
    for doc in manifest + hooks:
        assert doc["metadata"]["annotations"]["slinky-pr.test/seen"] == "yes"


def test_documents_without_the_filename_annotation_are_generated(
    engine: None, tmp_path: Path
) -> None:
    script = """cat
cat <<'EOF'
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: gres-conf
  annotations:
    postrenderer.helm.sh/postrender-filename: 'slurm/templates/slinky-pr/gres-conf.yaml'
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: anonymous
EOF
"""
    plugin = make_plugin(tmp_path, "add", script)
    result = he.install_dry_run(he.FIXTURE_CHART, {}, plugin, post_renderer="add")
    assert result.ok, result.error
    sources = he.sources(result.manifest)
    assert "slurm/templates/slinky-pr/gres-conf.yaml" in sources
    generated = [s for s in sources if s.startswith("generated-by-postrender")]
    assert len(generated) == 1
    assert re.fullmatch(r"generated-by-postrender-\d+\.yaml", generated[0])


def test_a_failing_post_renderer_is_an_error_without_its_stderr(
    engine: None, tmp_path: Path
) -> None:
    script = "cat >/dev/null\necho 'slinky-pr: NodeSet gpu: no such partition' >&2\nexit 3\n"
    plugin = make_plugin(tmp_path, "boom", script)
    result = he.install_dry_run(he.FIXTURE_CHART, {}, plugin, post_renderer="boom")
    assert not result.ok
    assert result.manifest == ""
    assert 'failed to invoke post-renderer plugin "boom"' in result.error
    assert 'plugin "boom" exited with error' in result.error
    assert "no such partition" not in result.error + result.engine_log
    assert "3" not in result.error  # nor the exit code
    (call,) = result.calls
    assert call.exit_code == 3
    assert "no such partition" in call.stderr


def test_empty_output_is_an_error(engine: None, tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, "empty", "cat >/dev/null\n")
    result = he.install_dry_run(he.FIXTURE_CHART, {}, plugin, post_renderer="empty")
    assert not result.ok
    assert 'post-renderer "empty" produced empty output' in result.error


def test_plugin_yaml_is_strict(engine: None, tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, "loose", "exec cat\n", extra_yaml="usage: not allowed\n")
    result = he.install_dry_run(he.FIXTURE_CHART, {}, plugin, post_renderer="loose", capture=False)
    assert not result.ok
    assert "plugin: {Name:loose Type:postrenderer/v1} not found" in result.error
    assert "failed to load plugin" in result.engine_log
    assert "field usage not found" in result.engine_log


@pytest.mark.parametrize(("strategy", "hooks_per_call"), [("separate", [1, 0]), ("nohooks", [0])])
def test_post_render_strategies(
    engine: None, tmp_path: Path, strategy: str, hooks_per_call: list[int]
) -> None:
    plugin = make_plugin(tmp_path, "cat", "exec cat\n")
    result = he.install_dry_run(
        he.FIXTURE_CHART, {}, plugin, post_renderer="cat", post_render_strategy=strategy
    )
    assert result.ok, result.error
    assert [len(he.hook_documents(c.stdin)) for c in result.calls] == hooks_per_call
    assert len(he.documents(result.manifest)) == 6


def test_arguments_and_environment_reach_the_plugin(engine: None, tmp_path: Path) -> None:
    plugin = make_plugin(tmp_path, "env", "env >&2\nexec cat\n")
    result = he.install_dry_run(
        he.FIXTURE_CHART,
        {},
        plugin,
        post_renderer="env",
        post_renderer_args=["--config", "/a path/profiles.yaml"],
        env={"SLINKY_PR_LOG_FILE": "/tmp/x.log"},
    )
    assert result.ok, result.error
    (call,) = result.calls
    assert call.args == ("--config", "/a path/profiles.yaml")
    seen = dict(line.split("=", 1) for line in call.stderr.splitlines() if "=" in line)
    assert seen["HELM_PLUGIN_NAME"] == "env"
    assert seen["HELM_PLUGIN_DIR"].endswith("/env")
    assert seen["SLINKY_PR_LOG_FILE"] == "/tmp/x.log"  # Helm passes its environment on
    assert "HELM_NAMESPACE" not in seen  # but adds none of its settings


def test_repository_plugins_load_in_helm4(engine: None, tmp_path: Path) -> None:
    """plugins/slinky-pr as it is on disk, next to the legacy `helm slinky` plugin."""
    fake_python = tmp_path / "python"
    fake_python.write_text(
        '#!/bin/sh\n[ "$1" = -m ] && [ "$2" = postrender ] || exit 64\nshift 2\n'
        'printf "%s\\n" "$HELM_PLUGIN_NAME" "$@" > "$SLINKY_TEST_OUT"\nexec cat\n'
    )
    fake_python.chmod(0o755)
    out = tmp_path / "seen"
    result = he.install_dry_run(
        he.FIXTURE_CHART,
        {},
        [he.REPO_PLUGINS, he.REPO],
        post_renderer="slinky-pr",
        post_renderer_args=["--log-file", "/dev/null"],
        env={"SLINKY_PR_PYTHON": str(fake_python), "SLINKY_TEST_OUT": str(out)},
        capture=False,
    )
    assert result.ok, result.error
    assert "failed to load plugin" not in result.engine_log
    assert out.read_text().splitlines() == ["slinky-pr", "--log-file", "/dev/null"]


# --- plugin files, no engine ---------------------------------------------------------------


def test_cli_plugin_yaml_is_legacy_format() -> None:
    meta = yaml.safe_load((he.REPO / "plugin.yaml").read_text())
    assert set(meta) == {"name", "version", "usage", "description", "platformCommand", "hooks"}
    assert meta["name"] == "slinky"
    assert all(isinstance(v, str) for v in meta["hooks"].values())
    assert {c["command"] for c in meta["platformCommand"]} == {"$HELM_PLUGIN_DIR/plugin/slinky"}


def test_post_renderer_plugin_yaml_has_only_helm_4_1_keys() -> None:
    meta = yaml.safe_load((he.REPO_PLUGINS / "slinky-pr" / "plugin.yaml").read_text())
    allowed = {"apiVersion", "name", "type", "runtime", "version", "sourceURL", "config"}
    assert set(meta) <= allowed | {"runtimeConfig"}
    assert meta["apiVersion"] == "v1"
    assert meta["type"] == "postrenderer/v1"
    assert meta["name"] == "slinky-pr"
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"])
    assert not meta.get("config")


def run_sh(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, check=False, input=""
    )


def fake_exe(path: Path, label: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{label} $*"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def pr_plugin(tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "slinky-pr"
    shutil.copytree(he.REPO_PLUGINS / "slinky-pr", copy, ignore=shutil.ignore_patterns("venv"))
    yield copy


def test_slinky_pr_wrapper_finds_python_in_order(pr_plugin: Path, tmp_path: Path) -> None:
    wrapper = pr_plugin / "bin" / "slinky-pr"
    path_dir = tmp_path / "path"
    fake_exe(path_dir / "slinky-pr", "path")
    env = {"PATH": f"{path_dir}:/usr/bin:/bin"}
    python = fake_exe(tmp_path / "python", "python")
    fake_exe(pr_plugin / "venv" / "bin" / "slinky-pr", "venv")

    assert run_sh(wrapper, "a", env={**env, "SLINKY_PR_PYTHON": str(python)}).stdout == (
        "python -m postrender a\n"
    )
    assert run_sh(wrapper, "a", env=env).stdout == "venv a\n"
    shutil.rmtree(pr_plugin / "venv")
    assert run_sh(wrapper, "a", env=env).stdout == "path a\n"
    missing = run_sh(wrapper, "a", env={"PATH": "/usr/bin:/bin"})
    assert missing.returncode == 127
    assert "no Python runtime" in missing.stderr


def test_slinky_pr_wrapper_does_not_loop_on_itself(pr_plugin: Path, tmp_path: Path) -> None:
    path_dir = tmp_path / "path"
    path_dir.mkdir()
    (path_dir / "slinky-pr").symlink_to(pr_plugin / "bin" / "slinky-pr")
    looped = run_sh(path_dir / "slinky-pr", env={"PATH": f"{path_dir}:/usr/bin:/bin"})
    assert looped.returncode == 127
    assert "found itself on PATH" in looped.stderr


def test_cli_wrapper_passes_arguments_and_helm_environment(tmp_path: Path) -> None:
    plugin = tmp_path / "slinky"
    shutil.copytree(he.REPO / "plugin", plugin / "plugin")
    fake = plugin / ".venv" / "bin" / "slinky"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho "$HELM_NAMESPACE $HELM_BIN $*"\n')
    fake.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HELM_NAMESPACE": "slurm", "HELM_BIN": "/usr/bin/helm"}
    done = run_sh(plugin / "plugin" / "slinky", "explain", "--config", "a b", env=env)
    assert done.stdout == "slurm /usr/bin/helm explain --config a b\n"
    shutil.rmtree(plugin / ".venv")
    assert run_sh(plugin / "plugin" / "slinky", env=env).returncode == 127
