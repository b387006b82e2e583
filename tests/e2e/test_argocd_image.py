"""The Argo CD sidecar image (tools/argocd/build-image.sh, ``make argocd-image``): built
(or found up to date), unpacked back into a root filesystem by umoci, its configuration
checked against what Argo CD expects, and the plugin's ``init`` and ``generate`` run inside
it as user 999, without network, as argocd-cmp-server runs them: the manifests equal the
post-renderer's on the host for the same Helm."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pins
import pytest
import yaml
from argocd_app import ARGOCD, BUILD_ENV, HELM_ARGS, PROFILES, command, make_app
from argocd_app import without_random_keys as stable
from e2e_stack import ROOT, need_binaries
from needs import missing

from postrender import __version__
from postrender.model.profiles import load_profile
from postrender.pipeline import post_render

BUILD = ROOT / "tools" / "argocd" / "build-image.sh"
PLUGIN_PATH = "home/argocd/cmp-server/config/plugin.yaml"
# Where Argo CD puts the application's files for the plugin (a directory under /tmp).
APP_DIR = "/tmp/_cmp_server/app"


def build() -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([BUILD], capture_output=True, text=True, check=False, timeout=1800)
    return done, time.monotonic() - started


@pytest.fixture(scope="module")
def image() -> Path:
    """The archive for the current sources: built by the first call, reused after."""
    if os.geteuid() != 0:
        missing("not root (the image is built with debootstrap and chroot)", "the image tests")
    need_binaries("umoci", "helm3")
    done, _ = build()
    assert done.returncode == 0, done.stdout + done.stderr
    archive = Path(subprocess.check_output([BUILD, "--print"], text=True).strip())
    assert archive.name == f"argocd-slinky-pr-{__version__}.oci.tar"
    assert archive.stat().st_size < 150 * 2**20  # docs: about 90 MB
    return archive


@pytest.fixture(scope="module")
def layout(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OCI image layout the archive holds."""
    dest = tmp_path_factory.mktemp("image") / "layout"
    shutil.unpack_archive(image, dest, format="tar")
    return dest


@pytest.fixture(scope="module")
def unpacked(layout: Path) -> tuple[Path, dict[str, Any]]:
    """The image unpacked by umoci into a bundle (rootfs + runtime config), and its config."""
    bundle = layout.parent / "bundle"
    subprocess.run(
        [pins.BIN / "umoci", "unpack", "--image", f"{layout}:{__version__}", bundle],
        check=True, capture_output=True,
    )  # fmt: skip
    return bundle, image_config(layout)


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def image_manifest(layout: Path) -> dict[str, Any]:
    """The image's manifest descriptor, from index.json."""
    (manifest,) = json.loads((layout / "index.json").read_text())["manifests"]
    assert manifest["annotations"]["org.opencontainers.image.ref.name"] == __version__
    return dict(manifest)


def image_config(layout: Path) -> dict[str, Any]:
    """The image configuration, followed from index.json through the manifest."""
    manifest = json.loads(blob(layout, image_manifest(layout)["digest"]))
    return dict(json.loads(blob(layout, manifest["config"]["digest"])))


def test_a_second_build_with_nothing_changed_is_a_no_op(image: Path) -> None:
    before = image.stat().st_mtime_ns
    done, elapsed = build()
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert image.stat().st_mtime_ns == before


def test_image_config_is_what_argo_cd_runs(unpacked: tuple[Path, dict[str, Any]]) -> None:
    bundle, config = unpacked
    settings = config["config"]
    env = dict(item.split("=", 1) for item in settings["Env"])
    assert (config["os"], settings["User"], env["HOME"]) == ("linux", "999", "/home/argocd")
    # the sidecar container of the repo-server patch runs Argo CD's mounted cmp-server
    patch = yaml.safe_load((ARGOCD / "repo-server-patch.yaml").read_text())
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert settings["Entrypoint"] == container["command"]
    assert container["securityContext"]["runAsUser"] == 999
    # umoci's runtime configuration for the bundle agrees
    runtime = json.loads((bundle / "config.json").read_text())["process"]
    assert runtime["user"]["uid"] == 999 and f"HOME={env['HOME']}" in runtime["env"]
    rootfs = bundle / "rootfs"
    assert (rootfs / PLUGIN_PATH).read_bytes() == (ARGOCD / "plugin.yaml").read_bytes()
    assert (rootfs / "home/argocd").stat().st_uid == 999
    assert os.access(rootfs / "usr/local/bin/helm", os.X_OK)


def test_slinky_pr_in_the_image_is_this_checkout(unpacked: tuple[Path, dict[str, Any]]) -> None:
    """The wheel was built from these sources, not taken from a package index."""
    (site,) = (unpacked[0] / "rootfs/opt/slinky-pr/lib").glob("python3.*/site-packages")
    # pyproject.toml: package postrender.schemas is the directory schemas/
    sources = {
        **{p.relative_to(ROOT): p for p in (ROOT / "postrender").rglob("*.py")},
        **{"postrender/schemas" / p.relative_to(ROOT / "schemas"): p
           for p in (ROOT / "schemas").rglob("*.py")},
    }  # fmt: skip
    installed = {p.relative_to(site) for p in (site / "postrender").rglob("*.py")}
    assert installed == sources.keys() and len(installed) > 50
    assert all((site / path).read_bytes() == sources[path].read_bytes() for path in installed)


def run_in_image(
    rootfs: Path, config: dict[str, Any], step: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """One plugin step in the image's root filesystem, as user 999 with the image's env and
    Argo CD's build environment: in its own mount, PID and network namespaces (no network:
    no package index), so its /proc mount and every process end with it."""
    env = [
        *config["config"]["Env"],
        *(f"{k}={v}" for k, v in {**BUILD_ENV, **(extra or {})}.items()),
    ]
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork",
         "--kill-child", f"--mount-proc={rootfs / 'proc'}",
         "chroot", "--userspec=999:999", rootfs, "/usr/bin/env", "-i", *env,
         "/bin/sh", "-c", 'cd "$0" && exec "$@"', APP_DIR, *command(step)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def mounts_under(path: Path) -> list[str]:
    return [
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(path) in line
    ]


def test_plugin_runs_in_the_image_as_on_the_host(
    unpacked: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    bundle, config = unpacked
    rootfs = bundle / "rootfs"
    app = rootfs / APP_DIR.lstrip("/")
    shutil.rmtree(app, ignore_errors=True)
    make_app(app)
    for path in [app.parent, app, *app.rglob("*")]:
        os.chown(path, 999, 999)

    init = run_in_image(rootfs, config, "init")
    assert init.returncode == 0, init.stderr
    done = run_in_image(rootfs, config, "generate")
    assert done.returncode == 0, done.stderr
    assert 'kubeVersion: "v1.31.2"' in done.stdout and "Gres=gpu:a100:8" in done.stdout
    # the same Helm (the image's is tools/e2e's helm3) and slinky-pr of the checkout, on the host
    host = tmp_path / "app"
    make_app(host)
    helm = subprocess.run(
        [pins.BIN / "helm3", *HELM_ARGS], cwd=host, capture_output=True, text=True,
        check=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    ).stdout  # fmt: skip
    expected = post_render(helm, load_profile(str(PROFILES))).output
    assert stable(done.stdout) == stable(expected)

    failed = run_in_image(rootfs, config, "generate", {"ARGOCD_ENV_VALUES": "missing.yaml"})
    assert failed.returncode != 0 and failed.stdout == "" and "missing.yaml" in failed.stderr
    assert mounts_under(rootfs) == []


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A registry on loopback (crane's), stopped by PID however the test ends."""
    need_binaries("crane")
    log = tmp_path / "registry.log"
    (tmp_path / "blobs").mkdir()
    with log.open("w") as out:
        server = subprocess.Popen(
            [pins.BIN / "crane", "registry", "serve", "--address", "127.0.0.1:0",
             "--disk", tmp_path / "blobs"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (port := re.search(r"serving on port (\d+)", log.read_text())):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield f"127.0.0.1:{port[1]}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_layout_pushes_to_a_registry_unchanged(layout: Path, registry: str) -> None:
    """docs/argocd/README.md's push: the registry serves the same manifest and config."""
    ref = f"{registry}/argocd-slinky-pr:{__version__}"
    crane = pins.BIN / "crane"
    pushed = subprocess.run([crane, "push", layout, ref], capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    digest = subprocess.check_output([crane, "digest", ref], text=True).strip()
    assert digest == image_manifest(layout)["digest"]
    config = subprocess.check_output([crane, "config", ref])
    manifest = json.loads(blob(layout, digest))
    assert config == blob(layout, manifest["config"]["digest"])


def _processes_naming(text: str) -> list[int]:
    """PIDs whose command line mentions ``text`` (looked at, never signalled)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_killed_build_stops_its_step_and_leaves_no_partial_work(tmp_path: Path) -> None:
    """SIGTERM half-way through debootstrap: the script stops the step's process group,
    removes the partial root filesystem and exits 143 at once."""
    if os.geteuid() != 0:
        missing("not root (the image is built with debootstrap and chroot)", "the image tests")
    need_binaries("umoci", "helm3")
    clone = tmp_path / "clone"
    for part in ("tools", "postrender", "schemas", "docs/argocd"):
        shutil.copytree(ROOT / part, clone / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / part, clone / part)
    cache = tmp_path / "cache"
    build = subprocess.Popen(
        [clone / "tools" / "argocd" / "build-image.sh"],
        env={**os.environ, "SLINKY_ARGOCD_CACHE": str(cache)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _processes_naming(f"{cache}/.rootfs-") and time.monotonic() < deadline:
            assert build.poll() is None, build.communicate()
            time.sleep(0.2)
        assert _processes_naming(f"{cache}/.rootfs-"), "debootstrap never started"
        time.sleep(1)
        signalled = time.monotonic()
        build.terminate()
        assert build.wait(timeout=30) == 143
        assert time.monotonic() - signalled < 15
        assert _processes_naming(str(cache)) == []
        assert list(cache.glob(".rootfs-*")) == []
    finally:
        if build.poll() is None:
            os.killpg(build.pid, 9)  # the test's own child and its session, by PID
            build.wait()
