"""Golden-file cases: render, post-render, compare with committed expectations.

A case is a directory holding ``slinky-golden.yaml``::

    input: ../../upstream/rendered/slurm-1.3.0-rc1_gpu-cpu.yaml   # a rendered stream
    # or: chart: ../../charts/slinky-fixture   values: [values.yaml]   (rendered by Helm)
    profiles: profiles.yaml
    cluster: slinky-cluster        # optional
    mask:                          # optional, added to the defaults below
      - {kind: Secret, path: data}

and the expectation: ``expected.yaml`` (the normalized output) or, for a case that
must fail, ``expected-error.txt`` (exit code on the first line, then the message).

The comparison is on a normalized form so a case gives the same bytes whatever
Helm major rendered its input: Helm 4's filename annotation is dropped, each
document is written as ``# Source: <file>`` plus its YAML, documents are sorted by
kind/namespace/name, and masked fields (random Secret keys) become ``<masked>``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from postrender.errors import SlinkyError
from postrender.yaml.stream import FILENAME_ANNOTATION, dump, read_stream

CASE_FILE = "slinky-golden.yaml"
EXPECTED = "expected.yaml"
EXPECTED_ERROR = "expected-error.txt"
MASKED = "<masked>"
# The Slinky chart's auth Secrets hold randAscii keys, new on every render.
DEFAULT_MASKS: tuple[Mapping[str, str], ...] = ({"kind": "Secret", "path": "data"},)


@dataclass
class Case:
    """One golden case directory."""

    directory: Path
    spec: dict[str, Any]
    masks: list[Mapping[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, directory: Path) -> Case:
        spec = yaml.safe_load((directory / CASE_FILE).read_text()) or {}
        return cls(directory, spec, [*DEFAULT_MASKS, *spec.get("mask", [])])

    @property
    def name(self) -> str:
        return self.directory.name

    def path(self, key: str) -> Path | None:
        value = self.spec.get(key)
        return (self.directory / value).resolve() if value else None


def _mask(obj: dict[str, Any], masks: list[Mapping[str, str]]) -> None:
    for mask in masks:
        if mask.get("kind") not in (None, obj.get("kind")):
            continue
        node: Any = obj
        parts = mask["path"].split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and parts[-1] in node:
            value = node[parts[-1]]
            node[parts[-1]] = {k: MASKED for k in value} if isinstance(value, dict) else MASKED


def normalize(text: str, masks: list[Mapping[str, str]]) -> str:
    """The Helm-major-independent form golden files hold."""
    entries = []
    for doc in read_stream(text).documents:
        if not isinstance(doc.body, dict):
            continue
        body = doc.body
        meta = body.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
            meta["annotations"].pop(FILENAME_ANNOTATION, None)
            if not meta["annotations"]:
                del meta["annotations"]
        _mask(body, masks)
        namespace = str((meta or {}).get("namespace", ""))
        key = (str(body.get("kind", "")), namespace, doc.name)
        entries.append((key, f"---\n# Source: {doc.source or '(none)'}\n{dump(body)}"))
    return "".join(text for _, text in sorted(entries, key=lambda e: e[0]))


def render_case(case: Case) -> str:
    """Run the case: its input (or chart) through the post-renderer, normalized."""
    from postrender.model.profiles import load_profile
    from postrender.pipeline import post_render

    profiles = case.path("profiles")
    profile = load_profile(str(profiles), case.spec.get("cluster")) if profiles else None
    source = case.path("input")
    if source is None:
        from postrender.render import render_chart

        chart = case.path("chart")
        if chart is None:
            raise ValueError(f"{case.directory / CASE_FILE}: needs 'input' or 'chart'")
        values = [str(case.directory / v) for v in case.spec.get("values", [])]
        text = render_chart(
            str(chart),
            values,
            release=case.spec.get("release", "slinky"),
            namespace=case.spec.get("namespace", "slurm"),
        )
    else:
        text = source.read_text()
    return normalize(post_render(text, profile).output, case.masks)


def outcome(case: Case) -> tuple[str, str]:
    """(expected file name, actual text) for a case: output, or the error it must raise."""
    try:
        return EXPECTED, render_case(case)
    except SlinkyError as exc:
        return EXPECTED_ERROR, f"exit {exc.exit_code}\n{exc.format()}\n"


def _headers(text: str) -> Iterator[tuple[str, list[str]]]:
    """Split a normalized stream into (kind/name header, lines) per document."""
    header, lines = "(start)", list[str]()
    for line in text.splitlines(keepends=True):
        if line == "---\n" and lines:
            yield header, lines
            lines = []
        lines.append(line)
        if line.startswith("kind: "):
            header = line[6:].strip()
        elif line.startswith("  name: ") and "/" not in header:
            header = f"{header}/{line[8:].strip()}"
    if lines:
        yield header, lines


def document_diff(expected: str, actual: str, colour: bool = False) -> str:
    """A unified diff per document, each headed by kind/name."""
    want = dict(_headers(expected))
    got = dict(_headers(actual))
    out = []
    for name in [*want, *(n for n in got if n not in want)]:
        lines = list(
            difflib.unified_diff(want.get(name, []), got.get(name, []), "expected", "actual")
        )
        if not lines:
            continue
        out.append(f"=== {name}\n")
        for line in lines[2:]:
            line = line if line.endswith("\n") else line + "\n"
            if colour and line[0] in "+-@":
                code = {"+": "32", "-": "31", "@": "36"}[line[0]]
                line = f"\x1b[{code}m{line.rstrip()}\x1b[0m\n"
            out.append(line)
    return "".join(out)


@dataclass
class Verdict:
    """What checking one case found."""

    case: Case
    ok: bool
    diff: str = ""


def check(case: Case, colour: bool = False) -> Verdict:
    """Compare a case with its committed expectation."""
    name, actual = outcome(case)
    expected_path = case.directory / name
    if not expected_path.exists():
        other = EXPECTED_ERROR if name == EXPECTED else EXPECTED
        why = "it now fails" if name == EXPECTED_ERROR else "it now succeeds"
        if (case.directory / other).exists():
            return Verdict(case, False, f"expected {other}, but {why}:\n{actual}")
        return Verdict(case, False, f"no {name} yet: run `slinky golden update`")
    expected = expected_path.read_text()
    if expected == actual:
        return Verdict(case, True)
    if name == EXPECTED_ERROR:
        lines = difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), "expected", "actual"
        )
        return Verdict(case, False, "".join(lines))
    return Verdict(case, False, document_diff(expected, actual, colour))


def update(case: Case) -> bool:
    """Rewrite a case's expectation; True if it changed."""
    name, actual = outcome(case)
    path = case.directory / name
    before = path.read_text() if path.exists() else None
    other = case.directory / (EXPECTED_ERROR if name == EXPECTED else EXPECTED)
    if other.exists():
        other.unlink()
    path.write_text(actual)
    return before != actual


def find_cases(root: Path) -> list[Case]:
    """Every case directory under ``root`` (or ``root`` itself)."""
    return [Case.load(p.parent) for p in sorted(root.rglob(CASE_FILE))]
