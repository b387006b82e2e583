"""Lint findings as text (grouped by object), JSON, SARIF 2.1.0, GitHub annotations or
JUnit XML; and, in every machine format, a valid document saying when lint could not run."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from postrender import __version__
from postrender.lint.finding import SEVERITIES, Finding, at_least
from postrender.lint.runner import LintResult

FORMATS = ("text", "json", "sarif", "github", "junit")
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
_COLOUR = {"error": "\x1b[31m", "warning": "\x1b[33m", "info": "\x1b[36m"}
_BOLD, _DIM, _RESET = "\x1b[1m", "\x1b[2m", "\x1b[0m"


def title(module: ModuleType) -> str:
    """A rule's one-line title: the first line of its docstring."""
    return (module.__doc__ or "").strip().splitlines()[0].rstrip(".").replace("``", "")


def _summary(result: LintResult) -> str:
    counts = [
        f"{result.count(s)} {s}{'' if s == 'info' or result.count(s) == 1 else 's'}"
        for s in SEVERITIES
    ]
    text = ", ".join(counts)
    if result.suppressed:
        text += f" ({result.suppressed} suppressed)"
    return text + ("" if result.post_rendered else "; release linted without post-rendering")


def text(result: LintResult, colour: bool = False) -> str:
    """Human output: one block per object, its findings below it, then a summary line."""

    def paint(code: str, s: str) -> str:
        return f"{code}{s}{_RESET}" if colour else s

    out: list[str] = []
    current = None
    for f in result.findings:
        if f.object != current:
            current = f.object
            where = " ".join(x for x in (f.location, f"({f.source})" if f.source else "") if x)
            out.append(
                ("\n" if out else "") + paint(_BOLD, f.object) + (f"  {where}" if where else "")
            )
        level = paint(_COLOUR[f.severity], f"{f.severity:<7}")
        at = f"{f.path}: " if f.path else ""
        out.append(f"  {level}  {f.rule}  {at}{f.message}")
        if f.hint:
            out.append(" " * 21 + paint(_DIM, f"hint: {f.hint}"))
    if not result.findings:
        out.append("no findings")
    out.append("")
    out.append(_summary(result))
    return "\n".join(out) + "\n"


def json_report(result: LintResult) -> str:
    """Machine output: every finding with all its fields, and the counts."""
    data = {
        "post_rendered": result.post_rendered,
        "findings": [f.to_dict() for f in result.findings],
        "summary": result.summary,
        "errors": result.errors,
    }
    return json.dumps(data, indent=2) + "\n"


def _repository_path(path: str) -> str:
    """``path`` relative to the working directory (the repository root in CI) when inside it:
    code scanning resolves SARIF URIs against the checkout."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative.replace(os.sep, "/")


def _location(f: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {}
    uri = _repository_path(f.file) if f.file and f.file != "-" else f.source
    if uri:
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if f.line and f.file and f.file != "-":
            physical["region"] = {"startLine": f.line}
        location["physicalLocation"] = physical
    name = f"{f.object}.{f.path}" if f.path else f.object
    location["logicalLocations"] = [{"fullyQualifiedName": name, "kind": "object"}]
    return location


def _camel(module: ModuleType) -> str:
    return "".join(part.title() for part in module.__name__.rsplit(".", 1)[-1].split("_"))


_LITERAL = re.compile(r"``(.+?)``", re.S)
_BLOCK = re.compile(r"^(?P<label>[^\n]*)::\n\n(?P<body>(?:(?:    [^\n]*)?\n?)+)", re.M)


def rule_markdown(doc: str) -> str:
    """A rule's docstring (``literals``, ``**bold**``, ``LABEL::`` + indented block) as
    Markdown, for SARIF's ``help.markdown``."""

    def fence(match: re.Match[str]) -> str:
        body = "\n".join(line[4:] for line in match["body"].rstrip("\n").splitlines())
        return f"{match['label']}:\n\n```yaml\n{body}\n```\n\n"

    return _BLOCK.sub(fence, _LITERAL.sub(r"`\1`", doc.strip()))


def rule_terminal(doc: str, colour: bool = False) -> str:
    """The same docstring for a terminal: no markup; bold headings where there is colour."""
    text = _BLOCK.sub(lambda m: f"{m['label']}:\n\n{m['body']}", _LITERAL.sub(r"\1", doc))
    bold = re.compile(r"\*\*(.+?)\*\*")
    return bold.sub(rf"{_BOLD}\1{_RESET}" if colour else r"\1", text)


def _descriptors(rules: Mapping[str, ModuleType]) -> list[dict[str, Any]]:
    return [
        {
            "id": rule_id,
            "name": _camel(module),
            "shortDescription": {"text": title(module)},
            "fullDescription": {"text": (module.__doc__ or "").strip()},
            "help": {
                "text": rule_terminal((module.__doc__ or "").strip()),
                "markdown": rule_markdown(module.__doc__ or ""),
            },
            "defaultConfiguration": {"level": _SARIF_LEVEL[module.SEVERITY]},
        }
        for rule_id, module in rules.items()
    ]


def _sarif_log(
    results: list[dict[str, Any]], rules: Mapping[str, ModuleType], errors: list[str]
) -> str:
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "slinky-lint",
                        "semanticVersion": __version__,
                        "version": __version__,
                        "rules": _descriptors(rules),
                    }
                },
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": not errors,
                        "toolExecutionNotifications": [
                            {"message": {"text": e}, "level": "error"} for e in errors
                        ],
                    }
                ],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def sarif(result: LintResult, rules: Mapping[str, ModuleType]) -> str:
    """SARIF 2.1.0, one run, every rule described (for code-scanning UIs)."""
    ids = list(rules)
    results = []
    for f in result.findings:
        message = f.message + (f" (hint: {f.hint})" if f.hint else "")
        entry: dict[str, Any] = {
            "ruleId": f.rule,
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": message},
            "locations": [_location(f)],
        }
        if f.rule in ids:
            entry["ruleIndex"] = ids.index(f.rule)
        results.append(entry)
    return _sarif_log(results, rules, result.errors)


def _escape(value: str, property_value: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(result: LintResult) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for f in result.findings:
        props = []
        if f.file and f.file != "-":
            props.append(f"file={_escape(_repository_path(f.file), True)}")
            if f.line:
                props.append(f"line={f.line}")
        props.append(f"title={_escape(f'{f.rule} {f.object}', True)}")
        at = f"{f.path}: " if f.path else ""
        hint = f" (hint: {f.hint})" if f.hint else ""
        lines.append(
            f"::{_GITHUB_LEVEL[f.severity]} {','.join(props)}::{_escape(at + f.message + hint)}"
        )
    return "".join(line + "\n" for line in lines)


def junit(result: LintResult, rules: Mapping[str, ModuleType], fail_on: str = "error") -> str:
    """JUnit XML, as CI systems read it: a test case per rule that found nothing and per
    finding; findings at ``fail_on`` or above are failures, the rest pass with their text."""
    suite = ET.Element("testsuite", name="slinky-lint")
    failures = 0
    found = {f.rule for f in result.findings}
    for rule_id, module in rules.items():
        if rule_id not in found:
            ET.SubElement(suite, "testcase", classname=rule_id, name=title(module))
    for f in result.findings:
        case = ET.SubElement(
            suite, "testcase", classname=f.rule, name=f"{f.object} {f.path or ''}".strip()
        )
        if f.file and f.file != "-":
            case.set("file", _repository_path(f.file))
            if f.line:
                case.set("line", str(f.line))
        text = f"{f.location or f.source or ''}: {f.message}" + (
            f"\nhint: {f.hint}" if f.hint else ""
        )
        if at_least(f.severity, fail_on):
            failures += 1
            failure = ET.SubElement(case, "failure", message=f.message, type=f.severity)
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = f"{f.severity}: {text}"
    return _junit_document(suite, failures, result.errors)


def _junit_document(suite: ET.Element, failures: int, errors: list[str]) -> str:
    for message in errors:
        case = ET.SubElement(suite, "testcase", classname="slinky-lint", name="run")
        ET.SubElement(case, "error", message=message, type="could not run").text = message
    counts = {
        "tests": str(len(suite)),
        "failures": str(failures),
        "errors": str(len(errors)),
        "skipped": "0",
    }
    for key, value in counts.items():
        suite.set(key, value)
    root = ET.Element("testsuites", {"name": "slinky-lint", **counts})
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def render(
    result: LintResult,
    fmt: str,
    rules: Mapping[str, ModuleType],
    colour: bool,
    fail_on: str = "error",
) -> str:
    """The report in one of :data:`FORMATS`."""
    if fmt == "json":
        return json_report(result)
    if fmt == "sarif":
        return sarif(result, rules)
    if fmt == "github":
        return github(result)
    if fmt == "junit":
        return junit(result, rules, fail_on)
    return text(result, colour)


def cannot_run(message: str, fmt: str, rules: Mapping[str, ModuleType]) -> str:
    """The document for a lint that could not run (a profile missing, a chart that does not
    render): never an empty or a clean-looking report. Text output has none (stderr says)."""
    if fmt == "json":
        empty = {s: 0 for s in (*SEVERITIES, "suppressed")}
        data: dict[str, Any] = {
            "post_rendered": False,
            "findings": [],
            "summary": empty,
            "errors": [message],
        }
        return json.dumps(data, indent=2) + "\n"
    if fmt == "sarif":
        return _sarif_log([], rules, [message])
    if fmt == "junit":
        return _junit_document(ET.Element("testsuite", name="slinky-lint"), 0, [message])
    if fmt == "github":
        return f"::error title=slinky lint could not run::{_escape(message)}\n"
    return ""


def list_rules(rules: Mapping[str, ModuleType]) -> str:
    """One line per rule: ID, severity, title."""
    return "".join(f"{rule_id}  {m.SEVERITY:<7}  {title(m)}\n" for rule_id, m in rules.items())
