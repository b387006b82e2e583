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
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SlinkyError(
                [Problem(f"helm template failed: {done.stderr.strip()}")],
                EXIT_INPUT,
                "cannot render the chart",
            )
        return done.stdout
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
