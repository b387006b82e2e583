"""The fast writer (postrender/yaml/fast_writer.py) writes exactly what PyYAML would, or declines.

PyYAML (``pyyaml_io.dump``) is the oracle: on every document in the repository's
YAML files and on generated Kubernetes-shaped objects, ``stream.dump`` must equal it, and
whenever the fast writer takes a document, its text must read back as the same object.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.yaml import pyyaml as pyyaml_io
from postrender.yaml import stream
from postrender.yaml.fast_writer import Unusual

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def fast(body: Any) -> str | None:
    try:
        return stream.WRITER.document(body)
    except Unusual:
        return None


def repository_documents() -> list[Any]:
    docs = []
    for path in sorted([*ROOT.glob("testdata/**/*.yaml"), *ROOT.glob("tests/**/*.yaml")]):
        try:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError:
            continue  # the hostile-input cases
    return docs


def test_every_repository_document_is_written_as_pyyaml_writes_it() -> None:
    docs = repository_documents()
    taken = 0
    for body in docs:
        text = fast(body)
        if text is not None:
            taken += 1
            assert text == pyyaml_io.dump(body)
    # the fast path is the common path: only documents with YAML aliases decline here
    assert taken >= 0.9 * len(docs), (taken, len(docs))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"a": "x\n\n"}, "keep chomping (|+) makes libyaml end the document with ..."),
        ({"a": " indented\nblock"}, "a block starting with a blank needs an indent hint"),
        ({"a": "trailing \nblank"}, "a blank before a line break is not a plain literal"),
        ({"a": "tab\tin\nblock"}, "a tab makes PyYAML double-quote the block"),
        ({"a": 1.5}, "floats"),
        ({1: "a"}, "a non-string key"),
        ({"k" * 128: "a"}, "a key PyYAML writes as '? key'"),
        ({"a": "x\u2028y"}, "a Unicode line break in a single-line string"),
    ],
)
def test_declines_what_it_does_not_write_like_pyyaml(body: Any, why: str) -> None:
    assert fast(body) is None, why
    assert stream.dump(body) == pyyaml_io.dump(body)


@pytest.mark.parametrize(
    "reused", [{"key": "nvidia.com/gpu", "operator": "Exists"}, {}, []], ids=["map", "{}", "[]"]
)
def test_reused_objects_go_to_pyyaml_which_writes_them_in_full(reused: Any) -> None:
    # No anchors: Helm writes none, and a value the plan put at two places is two values.
    body = {"a": reused, "b": [reused]}
    assert fast(body) is None
    written = stream.dump(body)
    assert written == pyyaml_io.dump(body)
    assert "&" not in written and "*" not in written
    assert pyyaml_io.parse(written, 1, 10, 10, 100)[0] == body


@pytest.mark.parametrize("key", ["k", "k" * 100])
def test_lines_libyaml_would_break_go_to_pyyaml(key: str) -> None:
    """libyaml breaks a plain or quoted scalar at a space past column 65,536."""
    for value in ["a" * 65540 + " b", "#" + "a" * 65528 + " b"]:
        body = {key: {key: value}}
        assert fast(body) is None
        assert stream.dump(body) == pyyaml_io.dump(body)


# Strings a Kubernetes object carries: names, label values, quantities, versions, empty,
# YAML look-alikes (true, 1e3, 0x1, ~, 30:00, 2-00:00:00), indicators and punctuation,
# non-ASCII, and multi-line text (slurm.conf lines, scripts).
WORDS = st.sampled_from(
    ["a", "gpu", "nvidia.com/gpu", "26.05", "true", "no", "null", "~", "1e3", "0x1F", "30:00",
     "2-00:00:00", "Gres=gpu:a100:8", "-x", "a: b", "a #b", "#c", "...", "---", "'q'", '"d"',
     "back\\slash", "é", "日本", " lead", "trail ", "", "*", "&a", "!t", "%p", "@x", "{}", "[a]",
     "a,b", "?", ":", "|", ">", "=", "1", "-1", "+1", ".inf", "yes", "On", "Y"]
)  # fmt: skip
LINES = st.lists(
    st.one_of(WORDS, st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)),
    min_size=1,
    max_size=4,
).map(" ".join)
STRINGS = st.one_of(
    WORDS, LINES, st.lists(LINES | st.just(""), min_size=2, max_size=5).map("\n".join)
)
SCALARS = st.one_of(STRINGS, st.integers(-(10**12), 10**12), st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(WORDS | LINES, inner, max_size=5)
    ),
    max_leaves=30,
)


@SETTINGS
@given(st.dictionaries(WORDS | LINES, VALUES, min_size=1, max_size=6))
def test_generated_objects_are_written_as_pyyaml_writes_them(body: dict[str, Any]) -> None:
    text = stream.dump(body)
    assert text == pyyaml_io.dump(body)
    if fast(body) is not None:
        assert yaml.safe_load(text) == body
