"""The apply stage: the plan's operations written into the documents, in one place."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from postrender.apply import apply, apply_patch
from postrender.golden import cases as golden
from postrender.model.profiles import load_profile
from postrender.pipeline import plan, post_render
from postrender.plan import Plan, Why
from postrender.yaml import pyyaml as pyyaml_io
from postrender.yaml.stream import read_stream, write_stream

EXAMPLES = Path(__file__).parent.parent / "testdata" / "examples"


def test_applying_the_plan_gives_the_post_renderers_output() -> None:
    text = (EXAMPLES / "release.yaml").read_text()
    profile = load_profile(str(EXAMPLES / "profiles.yaml"))
    stream = read_stream(text)
    as_read = copy.deepcopy([doc.body for doc in stream.documents])
    _, planned, _ = plan(stream, profile)
    assert planned.changes and planned.added
    assert [doc.body for doc in stream.documents] == as_read  # planning touched nothing
    assert not any(doc.changed for doc in stream.documents)
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


GOLDEN = Path(__file__).parent.parent / "testdata" / "golden"
PLANNED_CASES = sorted(
    d.name
    for d in GOLDEN.iterdir()
    if (d / golden.CASE_FILE).is_file()
    and (d / golden.EXPECTED).is_file()
    and "input:" in (d / golden.CASE_FILE).read_text()
)


@pytest.mark.parametrize("name", PLANNED_CASES)
def test_the_applied_documents_are_the_plans_operations_replayed(name: str) -> None:
    """apply() installs the planned bodies; replaying the recorded JSON Patch operations on
    the documents as read gives the same objects (what explain and the Kustomize export
    show is what the post-renderer writes)."""
    case = golden.Case.load(GOLDEN / name)
    source, profiles = case.path("input"), case.path("profiles")
    assert source is not None and profiles is not None
    stream = read_stream(source.read_text())
    _, planned, _ = plan(stream, load_profile(str(profiles), case.spec.get("cluster")))
    as_read = [doc.body for doc in stream.documents]
    ops: dict[int, list[dict[str, Any]]] = {}
    for change in planned.changes:
        ops.setdefault(change.document, []).append(change.as_patch())
    apply(stream, planned)
    replayed = [apply_patch(body, ops.get(i, [])) for i, body in enumerate(as_read)]
    assert [doc.body for doc in stream.documents] == replayed
    inputs = len(as_read)
    for offset, doc in enumerate(stream.added):
        whole, *rest = ops[inputs + offset]
        assert whole["path"] == ""
        assert doc.body == apply_patch(whole["value"], rest)
    assert {i for i, doc in enumerate(stream.documents) if doc.changed} == {
        i for i in ops if i < inputs
    }


def test_a_value_planned_at_two_places_is_written_twice_without_anchors() -> None:
    stream = read_stream("kind: ConfigMap\nmetadata: {name: a}\n")
    doc = stream.documents[0]
    planned = Plan(stream)
    shared = {"k": "v"}
    planned.set(doc, ["data1"], shared, Why("a"))
    planned.set(doc, ["data2"], shared, Why("b"))
    apply(stream, planned)
    assert pyyaml_io.dump(doc.body) == (
        "kind: ConfigMap\nmetadata:\n  name: a\ndata1:\n  k: v\ndata2:\n  k: v\n"
    )


def test_the_view_keeps_its_own_copy_of_a_set_value() -> None:
    # A value read from the plan and set elsewhere, then edited under its first place:
    # only the first place changes, as replaying the recorded operations gives.
    stream = read_stream("kind: ConfigMap\nmetadata: {name: a}\n")
    doc = stream.documents[0]
    planned = Plan(stream)
    planned.set(doc, ["a"], {}, Why("a"))
    planned.set(doc, ["b"], planned.lookup(doc, ["a"]), Why("b"))
    planned.set(doc, ["a", "k"], 1, Why("k"))
    replayed = apply_patch(doc.body, [c.as_patch() for c in planned.changes])
    apply(stream, planned)
    assert doc.body == replayed == {"kind": "ConfigMap", "metadata": {"name": "a"},
                                    "a": {"k": 1}, "b": {}}  # fmt: skip
