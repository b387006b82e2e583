"""Every lint rule on its own cases: testdata/lint/rules/<RULE-ID>.yaml.

A case file holds ``pass`` and ``fail`` lists. Each case gives the inputs of one lint run
(``release``: the rendered documents; ``profile``: a partition catalogue; ``cluster``: the
cluster objects) and, for a failing case, how many findings of the rule to expect
(``expect``, default 1) and text they must contain (``contains``). A passing case must give
no finding of the rule. Other rules may fire on either: each case checks one rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from postrender.lint import RULES, LintResult, lint

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "testdata" / "lint" / "rules"


def _cases() -> list[Any]:
    params = []
    for rule_id in RULES:
        path = CASES / f"{rule_id}.yaml"
        if not path.exists():
            continue
        spec = yaml.safe_load(path.read_text())
        for verdict in ("pass", "fail"):
            for i, case in enumerate(spec.get(verdict) or []):
                name = case.get("name", str(i))
                params.append(
                    pytest.param(rule_id, verdict, case, id=f"{rule_id}-{verdict}-{name}")
                )
    return params


def _write(path: Path, content: Any) -> str:
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, list):
        path.write_text(yaml.safe_dump_all(content, sort_keys=False))
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    return str(path)


def run_case(case: dict[str, Any], tmp_path: Path) -> LintResult:
    """Lint the inputs of one case, written to files as a user would have them."""
    release = case.get("release") or []
    stream = _write(tmp_path / "release.yaml", release)
    profile = _write(tmp_path / "profiles.yaml", case["profile"]) if "profile" in case else None
    cluster = [_write(tmp_path / "cluster.yaml", case["cluster"])] if "cluster" in case else []
    return lint(
        Path(stream).read_text(), stream_file=stream, profile_path=profile, cluster_files=cluster
    )


def test_every_rule_has_a_passing_and_a_failing_case() -> None:
    missing = []
    for rule_id in RULES:
        path = CASES / f"{rule_id}.yaml"
        spec = yaml.safe_load(path.read_text()) if path.exists() else {}
        if not spec.get("pass") or not spec.get("fail"):
            missing.append(rule_id)
    assert missing == []


def test_the_lint_docs_count_the_rules() -> None:
    assert f"{len(RULES)} rules,\none module each" in (ROOT / "docs" / "lint.md").read_text()


@pytest.mark.parametrize(("rule_id", "verdict", "case"), _cases())
def test_rule_case(rule_id: str, verdict: str, case: dict[str, Any], tmp_path: Path) -> None:
    result = run_case(case, tmp_path)
    assert result.errors == []
    found = [f for f in result.findings if f.rule == rule_id]
    shown = "\n".join(f"{f.object} {f.path}: {f.message} (hint: {f.hint})" for f in found)
    if verdict == "pass":
        assert found == [], shown
        return
    assert len(found) == case.get("expect", 1), shown
    texts = [f"{f.message} {f.hint or ''}" for f in found]
    for needle in case.get("contains", []):
        assert any(needle in text for text in texts), f"{needle!r} not in:\n{shown}"
