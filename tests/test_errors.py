"""The one problem type: value semantics shared by post-render errors, schema problems,
lint findings and ``slinky verify`` differences, and its single formatting."""

from __future__ import annotations

import pytest

from postrender.errors import Problem
from postrender.lint import Finding
from postrender.slurm import verify


def test_equal_problems_are_one_in_a_set() -> None:
    first = Problem("unknown field 'x'", path="spec.x")
    assert {first, Problem("unknown field 'x'", path="spec.x")} == {first}
    assert first != Problem("unknown field 'x'", path="spec.y")
    # A lint finding is a Problem, but never equal to a bare one with the same text.
    assert first != Finding("unknown field 'x'", "NodeSet/a", path="spec.x")


def test_replace_copies_and_keeps_subclass_fields() -> None:
    finding = Finding("m", "NodeSet/a", path="spec", file="r.yaml", rule="SPR-X", severity="error")
    moved = finding.replace(line=7)
    assert (moved.location, finding.location) == ("r.yaml:7", "r.yaml")
    assert moved.to_dict() == {**finding.to_dict(), "line": 7}
    assert isinstance(moved, Finding) and moved.object == "NodeSet/a"
    with pytest.raises(TypeError, match="no field"):
        finding.replace(colour="red")


def test_every_kind_is_formatted_by_problem() -> None:
    assert Problem("bad", document="NodeSet/a", path="spec.x", hint="fix").format() == (
        "NodeSet/a at spec.x: bad\n    hint: fix"
    )
    diff = verify.Finding("gres", "Gres is gpu:2", partition="gpu", node="gpu-0")
    assert diff.format() == "partition gpu, node gpu-0: Gres is gpu:2"
    assert verify.Finding("start", "slurmctld did not start").format() == (
        "slurmctld did not start"
    )
