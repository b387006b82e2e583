"""Where a finding points: the line of its key, and a chart template's path in the repository.

Rules locate a finding on its object (the line where the document or profile entry
starts) and a field path inside it. Code-scanning UIs and editors want the line of the key
itself, in a file of the repository: :func:`key_lines` walks the YAML of each input file
to the deepest key of the path; :func:`in_chart` turns a ``# Source:`` template path into
the chart's file in the repository, at the line of the path's deepest key found there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

import yaml

from postrender.lint.finding import Finding

_INDEX = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"[A-Za-z0-9_-]+")


def _step(node: yaml.Node, rest: str) -> tuple[yaml.Node, yaml.Node, str] | None:
    """The key node, value node and remaining path after one step of ``rest`` from ``node``."""
    if isinstance(node, yaml.SequenceNode):
        match = _INDEX.match(rest)
        if not match or int(match[1]) >= len(node.value):
            return None
        item = node.value[int(match[1])]
        return item, item, rest[match.end() :]
    if not isinstance(node, yaml.MappingNode):
        return None
    best: tuple[int, yaml.Node, yaml.Node] | None = None
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        name = str(key.value)
        for written in (f'["{name}"]', f"[{name}]", name):
            if not rest.startswith(written):
                continue
            whole = written[0] == "[" or len(rest) == len(name) or rest[len(name)] in ".["
            if whole and (best is None or len(written) > best[0]):
                best = (len(written), key, value)
    if best is None:
        return None
    return best[1], best[2], rest[best[0] :]


def _walk(node: yaml.Node, path: str) -> tuple[int, str]:
    """1-based line of the deepest key of ``path`` (``a.b[0]["c/d"]``) found under
    ``node``, and the part of the path not found."""
    line = node.start_mark.line + 1
    rest = path
    while rest:
        step = _step(node, rest)
        if step is None:
            break
        key, node, rest = step
        line = key.start_mark.line + 1
        rest = rest[1:] if rest.startswith(".") else rest
    return line, rest


def line_in_node(node: yaml.Node, path: str) -> int:
    """1-based line of the deepest key of ``path`` found under ``node``."""
    return _walk(node, path)[0]


def _documents(path: str) -> tuple[yaml.Node, ...]:
    """The YAML node trees of a file; none when it cannot be read (the finding then keeps
    the line it has): a values file reaches here unchecked, only Helm has read it."""
    try:
        with open(path, encoding="utf-8") as handle:
            return tuple(n for n in yaml.compose_all(handle, Loader=yaml.SafeLoader) if n)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return ()


def _scalar(node: yaml.Node, *keys: str) -> str | None:
    for key in keys:
        step = _step(node, key)
        if step is None:
            return None
        node = step[1]
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _document(docs: tuple[yaml.Node, ...], ref: str, line: int) -> yaml.Node | None:
    """The document of object ``ref`` (``Kind/name``), else the one spanning ``line``:
    post-rendering may have moved the objects of a stream file from their lines."""
    kind, _, name = ref.partition("/")
    for doc in docs:
        if _scalar(doc, "kind") == kind and _scalar(doc, "metadata", "name") == name:
            return doc
    for doc in docs:
        if doc.start_mark.line + 1 <= line <= doc.end_mark.line + 1:
            return doc
    return None


def key_lines(findings: Iterable[Finding]) -> list[Finding]:
    """Each finding in a file on disk moved from its object's line to its key's line."""
    located = []
    read: dict[str, tuple[yaml.Node, ...]] = {}  # each file once per call, never stale
    for f in findings:
        if f.file and f.file != "-" and f.line and f.path:
            if f.file not in read:
                read[f.file] = _documents(f.file)
            doc = _document(read[f.file], f.object, f.line)
            if doc is not None:
                f = f.replace(line=line_in_node(doc, f.path))
        located.append(f)
    return located


def chart_name(chart_dir: str) -> str | None:
    """The ``name`` in a chart directory's Chart.yaml (the first part of ``# Source:``)."""
    try:
        with open(os.path.join(chart_dir, "Chart.yaml"), encoding="utf-8") as handle:
            meta = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _template_line(text: str, path: str | None) -> int:
    """Line of the deepest key of ``path`` in a template, found key after key (templates
    are not YAML until rendered, so this is a text search); 1 when none is found."""
    lines = text.splitlines()
    at, found = 0, 1
    for key in _WORD.findall(_INDEX.sub("", path or "")):
        pattern = re.compile(rf"^\s*(?:-\s+)?[\"']?{re.escape(key)}[\"']?\s*:")
        hit = next((i for i in range(at, len(lines)) if pattern.match(lines[i])), None)
        if hit is None:
            break
        at, found = hit + 1, hit + 1
    return found


def in_chart(findings: Iterable[Finding], charts: Mapping[str, str]) -> list[Finding]:
    """Findings on rendered objects (no input file, a ``# Source:``) moved to the template
    in the chart directory: ``charts`` maps a chart name to its directory."""
    located = []
    for f in findings:
        name, _, inside = (f.source or "").partition("/")
        if f.file is None and name in charts and inside:
            template = os.path.join(charts[name], inside)
            root = os.path.realpath(charts[name])
            if os.path.commonpath([root, os.path.realpath(template)]) != root:
                located.append(f)  # a `# Source:` pointing out of the chart: not followed
                continue
            try:
                with open(template, encoding="utf-8") as handle:
                    line = _template_line(handle.read(), f.path)
            except (OSError, UnicodeDecodeError):
                pass
            else:
                f = f.replace(file=os.path.relpath(template), line=line)
        located.append(f)
    return located


#: Where the Slinky ``slurm`` chart takes a NodeSet's fields from: ``nodesets.<key>.*``.
NODESET_VALUES = (
    ("spec.template.spec.", "podSpec."),
    ("spec.template.metadata.", "metadata."),
    ("metadata.", "metadata."),
    ("spec.slurmd.", "slurmd."),
    ("spec.partition.", "partition."),
    ("spec.extraConf", "extraConf"),
    ("spec.replicas", "replicas"),
)


def _values_path(finding: Finding, nodeset_keys: Mapping[str, str]) -> tuple[str, int] | None:
    """The values path that sets a finding's field, and how much of it must be present
    (through the field's first key) for the values file to be the place to fix it."""
    path = finding.path or ""
    key = nodeset_keys.get(finding.object)
    if key is not None:
        for rendered, value in NODESET_VALUES:
            if path.startswith(rendered):
                prefix = f"nodesets.{key}.{value}"
                rest = path[len(rendered) :]
                first = re.match(r"[^.\[]*", rest)
                return prefix + rest, len(prefix) + (first.end() if first else 0)
    if finding.object.startswith("Controller/") and path.startswith("spec.extraConf"):
        return "controller.extraConf", len("controller.extraConf")
    return None


def _in_values_file(f: Finding, target: tuple[str, int], values_files: list[str]) -> Finding:
    path, needed = target
    for values in reversed(values_files):  # Helm merges them: the last one setting it wins
        for doc in _documents(values)[:1]:
            line, rest = _walk(doc, path)
            if len(path) - len(rest) >= needed:
                return f.replace(file=os.path.relpath(values), line=line)
    return f


def in_values(
    findings: Iterable[Finding], values_files: list[str], nodeset_keys: Mapping[str, str]
) -> list[Finding]:
    """Findings on rendered NodeSets and the Controller moved to the values file that sets
    the field, at the line of its key; ``nodeset_keys`` maps ``NodeSet/name`` to its key."""
    located = []
    for f in findings:
        target = _values_path(f, nodeset_keys) if f.file is None else None
        located.append(f if target is None else _in_values_file(f, target, values_files))
    return located
