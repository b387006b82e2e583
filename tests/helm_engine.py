"""Run the real Helm v4 engine (the ``helm-python-sdk`` package) for tests.

``helm_python`` loads Helm's Go library into the Python process, and the Go runtime reads
the environment once, when the library loads: ``HELM_PLUGINS`` and the other Helm
directories must be set before the import. So every call here runs this file as a script
in a fresh interpreter (about 0.3 s a call), with a Helm home of its own in a temporary directory,
and trades JSON through files. Nothing contacts a cluster or the network.

- :func:`render` is ``helm template``: manifests in Helm's install order, then the hooks.
  With ``include_hooks=False`` it is the release manifest before post-rendering: the
  shape Helm 3 pipes to a post-renderer (install order, a ``# Source:`` line per document).
- :func:`install_dry_run` is ``helm install --dry-run=client --post-renderer <plugin>``:
  the whole Helm 4 post-render pipeline, with post-renderer *plugins* found in a temporary
  ``HELM_PLUGINS`` directory that links the plugin directories you give it.

The C ABI call behind :func:`install_dry_run` (helm-c-sdk 0.2.2, Helm v4.2.3)::

    helm_install(config, context=0, chart=0, chart_ref, release, values_json, opts_json,
                 &out, &err) -> status
    opts_json = {"namespace": ..., "dry_run": "client", "post_renderer": "<plugin name>",
                 "post_renderer_args": [...], "post_render_strategy": "combined"}
    out = {"name", "namespace", "revision", "status", "deployed_at", "chart_name",
           "chart_version", "manifest"}          # no hooks: the ABI does not return them

A failing status raises a ``helm_python.HelmError`` whose message is Helm's error text.
Because the release's hooks are not returned, :func:`install_dry_run` wraps the
post-renderer plugin in a capture shim (``capture=True``, the default) that records each
invocation (arguments, stdin, stdout, stderr, exit code) and reports the hooks from what
the post-renderer wrote. Helm itself never shows a post-renderer's stderr; the capture
does, for tests.

Run as a script (``python helm_engine.py REQUEST.json RESULT.json``) it is the engine side.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
#: The repository's Helm 4 plugins (one directory each).
REPO_PLUGINS = REPO / "plugins"
#: The fixture chart imitating the Slinky `slurm` chart.
FIXTURE_CHART = REPO / "testdata" / "charts" / "slinky-fixture"

#: Annotation Helm 4 puts on every document it sends to a post-renderer.
FILENAME_ANNOTATION = "postrenderer.helm.sh/postrender-filename"
HOOK_ANNOTATION = "helm.sh/hook"

PluginDirs = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


class EngineError(RuntimeError):
    """The engine process itself failed (not a Helm error): a bug or a broken install."""


@dataclass(frozen=True)
class PostRenderCall:
    """One run of the post-renderer command, as the capture shim saw it."""

    args: tuple[str, ...]
    stdin: str
    stdout: str
    stderr: str
    exit_code: int


@dataclass(frozen=True)
class HelmResult:
    """Outcome of :func:`install_dry_run`.

    ``manifest``: the release manifest Helm stores (non-hook documents, each as
    ``---\\n# Source: <file>\\n...``), empty when ``ok`` is false.
    ``hooks``: the hook documents of the post-renderer's output, as a ``---`` stream
    (captured; empty with ``capture=False``); without a post-renderer, the chart's hooks.
    ``error``: Helm's error message when ``ok`` is false.
    ``calls``: each post-renderer run, in order (empty with ``capture=False``).
    ``engine_log``: the engine's own stderr (e.g. ``failed to load plugin`` warnings).
    """

    ok: bool
    manifest: str
    hooks: str
    error: str
    calls: tuple[PostRenderCall, ...] = ()
    engine_log: str = ""
    seconds: float = 0.0


# --- host side -------------------------------------------------------------------------


@functools.cache
def engine_available() -> bool:
    """Whether ``helm_python`` imports, checked in a subprocess to keep Go out of pytest."""
    probe = subprocess.run(
        [sys.executable, "-c", "import helm_python"], capture_output=True, check=False
    )
    return probe.returncode == 0


def render(
    chart_dir: str | os.PathLike[str],
    values: Mapping[str, Any] | None = None,
    release: str = "slinky",
    namespace: str = "slurm",
    *,
    include_hooks: bool = True,
) -> str:
    """``helm template``: the chart's manifests, then (by default) its hooks.

    Raises:
        RuntimeError: with Helm's message when the chart does not render.
    """
    with tempfile.TemporaryDirectory(prefix="helm-engine-") as tmp:
        home = Path(tmp)
        (home / "plugins").mkdir()
        request = {
            "action": "render",
            "chart": str(Path(chart_dir).resolve()),
            "values": dict(values or {}),
            "release": release,
            "namespace": namespace,
        }
        reply, log = _run_engine(request, home, _engine_env(home, None))
    if not reply["ok"]:
        raise RuntimeError(f"helm template failed: {reply['error']}\n{log}".rstrip())
    manifest = str(reply["manifest"])
    return manifest + str(reply["hooks"]) if include_hooks else manifest


def install_dry_run(
    chart_dir: str | os.PathLike[str],
    values: Mapping[str, Any] | None = None,
    plugins_dir: PluginDirs = (),
    post_renderer: str | None = "slinky-pr",
    post_renderer_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    release: str = "slinky",
    namespace: str = "slurm",
    post_render_strategy: str = "",
    capture: bool = True,
) -> HelmResult:
    """``helm install --dry-run=client`` through the Helm 4 post-render pipeline.

    Args:
        plugins_dir: a plugin directory (holding ``plugin.yaml``), a directory of plugin
            directories (like the repository's ``plugins/``), or a list of either. Each
            plugin is linked into a fresh ``HELM_PLUGINS`` under the name in its
            ``plugin.yaml``.
        post_renderer: the post-renderer plugin's name, or None for no post-renderer.
        env: extra environment for the engine and so for the post-renderer (Helm passes
            its own environment through). ``SLINKY_PR_PYTHON`` defaults to this
            interpreter, so ``plugins/slinky-pr`` runs this repository's ``postrender``.
        post_render_strategy: ``""``/``"combined"`` (Helm 4 default: one call with
            hooks), ``"separate"`` (hooks, then manifests) or ``"nohooks"`` (Helm 3 like).
        capture: wrap the post-renderer command to record its runs (see module doc).
            With False the plugin's ``plugin.yaml`` is used as it is on disk.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="helm-engine-") as tmp:
        home = Path(tmp)
        calls_dir = home / "calls"
        calls_dir.mkdir()
        wrapped = post_renderer if capture else None
        _link_plugins(_plugin_dirs(plugins_dir), home / "plugins", wrapped, home / "shim.sh")
        _write_shim(home / "shim.sh", calls_dir)
        opts: dict[str, Any] = {"namespace": namespace, "dry_run": "client"}
        if post_renderer is not None:
            opts["post_renderer"] = post_renderer
            opts["post_renderer_args"] = list(post_renderer_args)
        if post_render_strategy:
            opts["post_render_strategy"] = post_render_strategy
        request = {
            "action": "install",
            "chart": str(Path(chart_dir).resolve()),
            "values": dict(values or {}),
            "release": release,
            "namespace": namespace,
            "opts": opts,
        }
        reply, log = _run_engine(request, home, _engine_env(home, env))
        calls = _read_calls(calls_dir)
    if post_renderer is None:
        hooks = str(reply.get("hooks", ""))
    else:
        hooks = "".join(f"---\n{doc}\n" for call in calls for doc in hook_documents(call.stdout))
    return HelmResult(
        ok=bool(reply["ok"]),
        manifest=str(reply.get("manifest", "")),
        hooks=hooks,
        error=str(reply.get("error", "")),
        calls=calls,
        engine_log=log,
        seconds=time.perf_counter() - started,
    )


# --- YAML stream helpers for tests ------------------------------------------------------

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


def split_documents(stream: str) -> list[str]:
    """The documents of a YAML stream as text, without separators or empty documents."""
    parts = _SEPARATOR.split(stream)
    return [p.strip("\n") for p in parts if p.strip() and not _only_comments(p)]


def documents(stream: str) -> list[dict[str, Any]]:
    """The documents of a YAML stream, parsed (empty documents dropped)."""
    return [doc for doc in yaml.safe_load_all(stream) if isinstance(doc, dict)]


def hook_documents(stream: str) -> list[str]:
    """The documents of a stream that carry a ``helm.sh/hook`` annotation."""
    return [doc for doc in split_documents(stream) if _is_hook(yaml.safe_load(doc))]


def sources(stream: str) -> list[str]:
    """The ``# Source:`` paths of a Helm-3-style stream, in order."""
    return re.findall(r"^# Source: (.+)$", stream, re.MULTILINE)


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _is_hook(doc: object) -> bool:
    if not isinstance(doc, dict):
        return False
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    return HOOK_ANNOTATION in annotations


# --- plumbing ----------------------------------------------------------------------------


def _engine_env(home: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The parent environment minus Helm's settings, plus an isolated Helm home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("HELM_") and k != "HELM_C_LIB") and k != "KUBECONFIG"
    }
    env.update(
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_DATA_HOME=str(home / "data"),
        HELM_PLUGINS=str(home / "plugins"),
        KUBECONFIG=str(home / "no-kubeconfig"),
    )
    env.setdefault("SLINKY_PR_PYTHON", sys.executable)
    env.update(extra or {})
    return env


def _run_engine(
    request: Mapping[str, Any], home: Path, env: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    request_file, result_file = home / "request.json", home / "result.json"
    request_file.write_text(json.dumps(request))
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(request_file), str(result_file)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0 or not result_file.is_file():
        raise EngineError(f"helm engine exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    reply: dict[str, Any] = json.loads(result_file.read_text())
    return reply, proc.stderr


def _plugin_dirs(plugins: PluginDirs) -> list[Path]:
    roots = [plugins] if isinstance(plugins, (str, os.PathLike)) else list(plugins)
    found: list[Path] = []
    for root in map(Path, roots):
        if (root / "plugin.yaml").is_file():
            found.append(root)
        elif root.is_dir():
            found.extend(sorted(d for d in root.iterdir() if (d / "plugin.yaml").is_file()))
        else:
            raise FileNotFoundError(f"no plugin directory at {root}")
    return found


def _plugin_meta(plugin_dir: Path) -> dict[str, Any]:
    meta = yaml.safe_load((plugin_dir / "plugin.yaml").read_text())
    if not isinstance(meta, dict) or "name" not in meta:
        raise ValueError(f"{plugin_dir}/plugin.yaml has no name")
    return meta


def _link_plugins(dirs: Iterable[Path], dest: Path, wrapped: str | None, shim: Path) -> None:
    """Link each plugin into dest by name; the one named ``wrapped`` goes through the shim.

    The wrapped copy links every file of the original but rewrites ``plugin.yaml`` so each
    platformCommand runs ``shim <original command> <original args>`` (Helm expands
    ``${HELM_PLUGIN_DIR}`` in both, to the copy, whose entries point at the original).
    """
    dest.mkdir(exist_ok=True)
    for plugin_dir in dirs:
        meta = _plugin_meta(plugin_dir)
        target = dest / str(meta["name"])
        if meta["name"] != wrapped:
            target.symlink_to(plugin_dir.resolve(), target_is_directory=True)
            continue
        commands = (meta.get("runtimeConfig") or {}).get("platformCommand")
        if not commands:
            raise ValueError(f"{plugin_dir}: no runtimeConfig.platformCommand to capture")
        for command in commands:
            command["args"] = [command["command"], *command.get("args", [])]
            command["command"] = str(shim)
        target.mkdir()
        for entry in plugin_dir.iterdir():
            if entry.name != "plugin.yaml":
                (target / entry.name).symlink_to(entry.resolve())
        (target / "plugin.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))


_SHIM = """#!/bin/sh
# Capture shim written by tests/helm_engine.py: runs the post-renderer command given as
# arguments and keeps what Helm hides (its stderr, exit code) for the test to read.
calls='{calls}'
n=0
while [ -e "$calls/$n" ]; do n=$((n + 1)); done
dir="$calls/$n.tmp"
mkdir -p "$dir"
cmd=$1
shift
for arg in "$@"; do printf '%s\\n' "$arg"; done > "$dir/args"
cat > "$dir/stdin"
"$cmd" "$@" < "$dir/stdin" > "$dir/stdout" 2> "$dir/stderr"
rc=$?
echo "$rc" > "$dir/exit_code"
mv "$dir" "$calls/$n"
cat "$calls/$n/stdout"
cat "$calls/$n/stderr" >&2
exit "$rc"
"""


def _write_shim(path: Path, calls_dir: Path) -> None:
    path.write_text(_SHIM.format(calls=calls_dir))
    path.chmod(0o755)


def _read_calls(calls_dir: Path) -> tuple[PostRenderCall, ...]:
    calls = []
    for n in sorted(int(p.name) for p in calls_dir.iterdir() if p.name.isdigit()):
        d = calls_dir / str(n)
        calls.append(
            PostRenderCall(
                args=tuple((d / "args").read_text().splitlines()),
                stdin=(d / "stdin").read_text(),
                stdout=(d / "stdout").read_text(),
                stderr=(d / "stderr").read_text(),
                exit_code=int((d / "exit_code").read_text()),
            )
        )
    return tuple(calls)


# --- engine side (runs in the subprocess) -------------------------------------------------


def _engine_main(request_path: str, result_path: str) -> int:
    request = json.loads(Path(request_path).read_text())
    try:
        reply = _engine_call(request)
    except Exception as exc:  # a Helm error is a result, not a crash
        from helm_python import HelmError

        if not isinstance(exc, HelmError):
            raise
        reply = {"ok": False, "error": str(exc), "code": exc.code}
    Path(result_path).write_text(json.dumps(reply))
    return 0


def _engine_call(request: Mapping[str, Any]) -> dict[str, Any]:
    from helm_python import Chart, Config, _native

    chart, values = request["chart"], request["values"]
    release, namespace = request["release"], request["namespace"]
    opts = dict(request.get("opts") or {"namespace": namespace, "dry_run": "client"})
    with Config(namespace=namespace, storage_driver="memory") as config:
        summary = json.loads(
            _native.call_string(
                "helm_install",
                config._raw(),
                _native.HANDLE(0),  # no cancellation context
                _native.HANDLE(0),  # no loaded chart: chart_ref is a path
                chart,
                release,
                json.dumps(values),
                json.dumps(opts),
            )
        )
    reply: dict[str, Any] = {"ok": True, "manifest": summary.get("manifest", "")}
    if "post_renderer" not in opts:
        # The ABI returns no hooks; take them from the plain render, as `helm template`.
        with Chart.load(chart) as loaded:
            files = loaded.render(values, name=release, namespace=namespace, is_install=True)
        reply["hooks"] = "".join(
            f"---\n# Source: {path}\n{doc}\n"
            for path, text in sorted(files.items())
            for doc in hook_documents(text)
        )
    return reply


if __name__ == "__main__":
    sys.exit(_engine_main(sys.argv[1], sys.argv[2]))
