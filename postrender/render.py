"""Render a chart the way ``helm template`` does, for ``slinky render``/``lint`` and golden cases.

Run by Helm as a plugin, ``$HELM_BIN template`` renders (the user's own Helm, with
its repositories and plugins). Otherwise the embedded Helm v4 engine of
``helm-python-sdk`` renders offline, if it is installed. The result is a Helm-3
style stream (``---`` + ``# Source:``), templates in path order, hooks included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

import yaml

from postrender.errors import EXIT_INPUT, Problem, SlinkyError


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge recursively, everything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _helm_binary() -> str | None:
    return os.environ.get("HELM_BIN") or shutil.which("helm")


def is_chart(reference: str) -> bool:
    """Whether a command-line argument names a chart rather than a rendered stream: a chart
    directory, a packaged chart or an OCI reference (what `helm template` takes)."""
    return (
        os.path.isdir(reference)
        or reference.startswith("oci://")
        or reference.endswith((".tgz", ".tar.gz"))
    )


#: `helm template` flags that take the next word as their value, in Helm 3.17 and 4.x
#: (`helm template --help`: a type after the flag, no `[=default]`). Any other flag is a
#: switch; `--flag=value` and `-fFILE` carry their value.
# fmt: off
VALUE_FLAGS = frozenset([
    "-a", "--api-versions", "--ca-file", "--cert-file", "--description", "--key-file",
    "--keyring", "--kube-version", "-l", "--labels", "--name-template", "--output-dir",
    "--password", "--post-renderer", "--post-renderer-args", "--repo", "--set", "--set-file",
    "--set-json", "--set-literal", "--set-string", "-s", "--show-only", "--timeout",
    "--username", "-f", "--values", "--version", "--burst-limit", "--kube-apiserver",
    "--kube-as-group", "--kube-as-user", "--kube-ca-file", "--kube-context",
    "--kube-tls-server-name", "--kube-token", "--kubeconfig", "-n", "--namespace", "--qps",
    "--registry-config", "--repository-cache", "--repository-config",
])
# fmt: on
#: What the embedded engine understands; anything else needs a Helm binary.
EMBEDDED_FLAGS = frozenset({"-f", "--values", "--set", "-n", "--namespace"})


def split_template_args(args: Sequence[str]) -> tuple[list[str], list[tuple[str, str | None]]]:
    """The positionals (``[NAME] CHART``) and the flags, each with its value, of a
    ``helm template`` command line."""
    positionals: list[str] = []
    flags: list[tuple[str, str | None]] = []
    words = iter(args)
    for word in words:
        if word == "--":
            positionals.extend(words)
        elif not word.startswith("-") or word == "-":
            positionals.append(word)
        elif "=" in word and word.startswith("--"):
            flag, _, inline = word.partition("=")
            flags.append((flag, inline))
        elif word in VALUE_FLAGS:
            value = next(words, None)
            if value is None:
                raise _cannot_render(f"helm template flag {word} needs a value")
            flags.append((word, value))
        elif not word.startswith("--") and len(word) > 2 and word[:2] in VALUE_FLAGS:
            flags.append((word[:2], word[2:]))
        else:
            flags.append((word, None))
    return positionals, flags


def _cannot_render(message: str, *notes: str) -> SlinkyError:
    return SlinkyError([Problem(message)], EXIT_INPUT, "cannot render the chart", notes=list(notes))


def render_template(args: Sequence[str]) -> str:
    """``helm template ARGS``: Helm's own arguments (``[NAME] CHART``, -f, --set*,
    --version, --repo, --kube-version, --api-versions, --include-crds, ...), passed to
    ``$HELM_BIN template`` unchanged; without Helm, the embedded engine takes NAME, CHART,
    -f, --set and --namespace."""
    helm = _helm_binary()
    if helm:
        return _run_helm([helm, "template", *args])
    positionals, flags = split_template_args(args)
    if not 1 <= len(positionals) <= 2:
        raise _cannot_render(f"expected [NAME] CHART, got {' '.join(positionals) or 'nothing'}")
    others = sorted({flag for flag, _ in flags if flag not in EMBEDDED_FLAGS})
    if others:
        raise _cannot_render(
            f"{', '.join(others)} need(s) Helm: no helm on PATH and no $HELM_BIN",
            "the embedded engine takes [NAME] CHART, -f, --set and --namespace",
        )
    values = [v for f, v in flags if f in ("-f", "--values") and v is not None]
    sets = [v for f, v in flags if f == "--set" and v is not None]
    namespaces = [v for f, v in flags if f in ("-n", "--namespace") and v is not None]
    name = positionals[0] if len(positionals) == 2 else "release-name"  # Helm's default
    namespace = namespaces[-1] if namespaces else os.environ.get("HELM_NAMESPACE") or "default"
    return _render_embedded(positionals[-1], values, sets, name, namespace)


def _run_helm(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise _cannot_render(f"helm template failed: {done.stderr.strip()}")
    return done.stdout


def render_chart(
    chart: str,
    values_files: list[str] | None = None,
    set_values: list[str] | None = None,
    release: str = "slinky",
    namespace: str | None = None,
) -> str:
    """``helm template RELEASE CHART -f ... --set ...`` as one stream of text."""
    namespace = namespace or os.environ.get("HELM_NAMESPACE") or "default"
    helm = _helm_binary()
    if helm:
        cmd = [helm, "template", release, chart, "--namespace", namespace]
        for path in values_files or []:
            cmd += ["--values", path]
        for expr in set_values or []:
            cmd += ["--set", expr]
        return _run_helm(cmd)
    return _render_embedded(chart, values_files or [], set_values or [], release, namespace)


def _render_embedded(
    chart: str, values_files: list[str], set_values: list[str], release: str, namespace: str
) -> str:
    try:
        import helm_python
    except ImportError:
        raise SlinkyError(
            [Problem("no helm on PATH and helm-python-sdk is not installed")],
            EXIT_INPUT,
            "cannot render the chart",
            notes=[
                "install Helm, or `pip install helm-python-sdk`, or pipe `helm template` output"
            ],
        ) from None
    values: dict[str, Any] = {}
    for path in values_files:
        with open(path, encoding="utf-8") as handle:
            values = _merge(values, yaml.safe_load(handle) or {})
    try:
        for expr in set_values:
            values = _merge(values, helm_python.parse_set_string(expr))
        manifests = helm_python.Chart.load(chart).render(
            values, name=release, namespace=namespace, is_install=True
        )
    except helm_python.HelmError as exc:
        raise SlinkyError([Problem(str(exc))], EXIT_INPUT, "cannot render the chart") from None
    parts = []
    for path in sorted(manifests):
        body = manifests[path]
        if path.endswith("NOTES.txt") or not body.strip():
            continue
        for doc in body.split("\n---"):
            doc = doc.strip("\n")
            if doc.startswith("---"):
                doc = doc[3:].lstrip("\n")
            if doc.strip():
                parts.append(f"---\n# Source: {path}\n{doc}\n")
    return "".join(parts)
