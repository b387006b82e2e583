"""The apply stage: the plan's operations written into the documents, in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from postrender.apply import apply, apply_patch
from postrender.model.profiles import load_profile
from postrender.pipeline import plan, post_render
from postrender.plan import Plan, Why
from postrender.yaml.stream import read_stream, write_stream

EXAMPLES = Path(__file__).parent.parent / "testdata" / "examples"


def test_applying_the_plan_gives_the_post_renderers_output() -> None:
    text = (EXAMPLES / "release.yaml").read_text()
    profile = load_profile(str(EXAMPLES / "profiles.yaml"))
    stream = read_stream(text)
    _, planned, _ = plan(stream, profile)
    assert planned.changes and planned.added
    assert write_stream(stream) == text  # planning touched nothing
    apply(stream, planned)
    assert write_stream(stream) == post_render(text, profile).output
    assert stream.added == planned.added


def test_applied_values_are_copies_the_plan_keeps() -> None:
    stream = read_stream("kind: NodeSet\nmetadata: {name: a}\nspec: {}\n")
    doc = stream.documents[0]
    planned = Plan(stream)
    planned.append(doc, ["spec", "tolerations"], {"key": "a"}, Why("a"))
    planned.append(doc, ["spec", "tolerations"], {"key": "b"}, Why("b"))
    apply(stream, planned)
    assert doc.body["spec"]["tolerations"] == [{"key": "a"}, {"key": "b"}]
    assert doc.changed
    # the first operation still adds the one-item list it recorded
    assert planned.changes[0].value == [{"key": "a"}]


def test_apply_patch_unescapes_pointers() -> None:
    obj = {"m": {"a/b": 1, "c~d": 2}, "l": [1]}
    ops = [
        {"op": "replace", "path": "/m/a~1b", "value": 3},
        {"op": "add", "path": "/m/c~0d", "value": 4},
        {"op": "add", "path": "/l/-", "value": 5},
    ]
    assert apply_patch(obj, ops) == {"m": {"a/b": 3, "c~d": 4}, "l": [1, 5]}
    assert obj["l"] == [1]  # the input is not modified
    with pytest.raises(KeyError):
        apply_patch(obj, [{"op": "replace", "path": "/m/x", "value": 1}])
