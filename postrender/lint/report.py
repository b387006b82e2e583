"""Lint findings as text (grouped by object), JSON, SARIF 2.1.0 or GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from types import ModuleType
from typing import Any

from postrender import __version__
from postrender.lint.finding import SEVERITIES, Finding
from postrender.lint.runner import LintResult

FORMATS = ("text", "json", "sarif", "github")
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
        "findings": [asdict(f) for f in result.findings],
        "summary": result.summary,
        "errors": result.errors,
    }
    return json.dumps(data, indent=2) + "\n"


def _location(f: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {}
    uri = f.file if f.file and f.file != "-" else f.source
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


def sarif(result: LintResult, rules: Mapping[str, ModuleType]) -> str:
    """SARIF 2.1.0, one run, every rule described (for code-scanning UIs)."""
    ids = list(rules)
    descriptors = [
        {
            "id": rule_id,
            "name": _camel(module),
            "shortDescription": {"text": title(module)},
            "fullDescription": {"text": (module.__doc__ or "").strip()},
            "help": {"text": (module.__doc__ or "").strip()},
            "defaultConfiguration": {"level": _SARIF_LEVEL[module.SEVERITY]},
        }
        for rule_id, module in rules.items()
    ]
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
                        "rules": descriptors,
                    }
                },
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "toolExecutionNotifications": [
                            {"message": {"text": e}, "level": "error"} for e in result.errors
                        ],
                    }
                ],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


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
            props.append(f"file={_escape(f.file, True)}")
            if f.line:
                props.append(f"line={f.line}")
        props.append(f"title={_escape(f'{f.rule} {f.object}', True)}")
        at = f"{f.path}: " if f.path else ""
        hint = f" (hint: {f.hint})" if f.hint else ""
        lines.append(
            f"::{_GITHUB_LEVEL[f.severity]} {','.join(props)}::{_escape(at + f.message + hint)}"
        )
    return "".join(line + "\n" for line in lines)


def render(result: LintResult, fmt: str, rules: Mapping[str, ModuleType], colour: bool) -> str:
    """The report in one of :data:`FORMATS`."""
    if fmt == "json":
        return json_report(result)
    if fmt == "sarif":
        return sarif(result, rules)
    if fmt == "github":
        return github(result)
    return text(result, colour)


def list_rules(rules: Mapping[str, ModuleType]) -> str:
    """One line per rule: ID, severity, title."""
    return "".join(f"{rule_id}  {m.SEVERITY:<7}  {title(m)}\n" for rule_id, m in rules.items())
