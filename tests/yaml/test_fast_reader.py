"""The fast block-YAML reader against PyYAML, its oracle.

blockyaml may decline anything; what it accepts must read exactly as PyYAML (libyaml)
reads it: same values, same types, same key order. Checked on every document in testdata,
on documents PyYAML writes from generated objects, and on generated text full of YAML's
special characters, where most inputs are invalid YAML that PyYAML refuses.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.model.profile_doc import MAX_PROFILE_DEPTH
from postrender.yaml import fast_reader as blockyaml
from postrender.yaml import pyyaml as pyyaml_io
from postrender.yaml import stream
from postrender.yaml.text import Unreadable

TESTDATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), os.pardir, "testdata")


def _pyyaml(chunk: str) -> Any:
    """PyYAML's reading of one document, or the exception it raises."""
    try:
        return pyyaml_io.parse(chunk, 1, 10**6, stream.MAX_DEPTH, 10**6)[0]
    except Unreadable as exc:
        return exc


def _same(got: Any, want: Any) -> bool:
    """Equal with the same types all the way down (1 == True == 1.0 in Python)."""
    if type(got) is not type(want):
        return False
    if isinstance(got, dict):
        return list(got) == list(want) and all(
            _same(k1, k2) and _same(got[k1], want[k2]) for k1, k2 in zip(got, want, strict=True)
        )
    if isinstance(got, list):
        return len(got) == len(want) and all(_same(a, b) for a, b in zip(got, want, strict=True))
    return bool(got == want)


def _agrees(chunk: str) -> bool:
    """True if blockyaml read the chunk (and agreed with PyYAML), False if it declined."""
    try:
        got = blockyaml.load(chunk, stream.MAX_DEPTH)
    except blockyaml.Declined:
        return False
    want = _pyyaml(chunk)
    assert not isinstance(want, Exception), f"accepted what PyYAML refuses ({want}):\n{chunk}"
    assert _same(got, want), f"read differently:\n{chunk}\nblockyaml: {got!r}\nPyYAML: {want!r}"
    return True


def _repository_chunks() -> list[str]:
    chunks = []
    for root, _, files in os.walk(TESTDATA):
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    chunks += stream.split_documents(f.read())
    return chunks


def test_every_repository_document_reads_as_pyyaml_reads_it() -> None:
    chunks = [c for c in _repository_chunks() if not isinstance(_pyyaml(c), Exception)]
    read = sum(_agrees(chunk) for chunk in chunks)
    # The fast path is the common path: rendered charts, goldens and profiles are in its
    # case; CRDs (multi-line descriptions) and test cases with aliases are not.
    assert read >= 0.85 * len(chunks), (read, len(chunks))


def test_the_typical_release_is_read_without_pyyaml() -> None:
    path = os.path.join(TESTDATA, "upstream", "rendered", "slurm-1.3.0-rc1_gpu-cpu.yaml")
    with open(path, encoding="utf-8") as f:
        chunks = stream.split_documents(f.read())
    assert all(_agrees(chunk) for chunk in chunks)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # aliases
        "a: !!str 1\n",  # tags
        "a: b\n  c\n",  # a multi-line plain scalar
        'a: "b\n  c"\n',  # a multi-line quoted scalar
        "a: >\n  folded\n",
        "a: |+\n  kept\n\n",
        "a: 1\na: 2\n",  # duplicate keys
        "a:\tb\n",  # tabs
        "a: b\r\n",
        "? a\n: b\n",
        "a: [1, [2, {b: c}], ]\n",  # a trailing comma
        "- - a\n",
        "a: b: c\n",  # invalid
        "a: 'b' c\n",  # invalid
        "key: |\n  text",  # a block that ends the text without a line break
        "<<: {a: 1}\n",
        "a: {b: 1, c:?  d: e}\n",  # found by fuzz_blockyaml: libyaml refuses ":?" in flow
        # found in review: keys whose ":" is past libyaml's simple-key limit
        '"' + "k" * 1023 + '": v\n',
        "k" + " " * 1024 + ": v\n",
        "a: {" + "k" * 1025 + ": v}\n",
        # and nesting where PyYAML counts the scalar at the bottom as a level
        "a: " + "[" * 99 + "1" + "]" * 99 + "\n",
    ],
)
def test_declines_what_it_does_not_read(text: str) -> None:
    with pytest.raises(blockyaml.Declined):
        blockyaml.load(text, stream.MAX_DEPTH)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: 1\nb: -2\nc: '3'\nd: \"4\"\n", {"a": 1, "b": -2, "c": "3", "d": "4"}),
        ("on: yes\nOff: NO\n~: null\n", {True: True, False: False, None: None}),
        ("a:\n- 1\n- x: w\n  z: |-\n    l1\n\n    l2\n", {"a": [1, {"x": "w", "z": "l1\n\nl2"}]}),
        ('a: ["x", w, {k: 1}]  # c\n', {"a": ["x", "w", {"k": 1}]}),
        ("a: '26.05'\nb: 26.05-ubuntu\n", {"a": "26.05", "b": "26.05-ubuntu"}),
        ("---\n# c\na: {}\nb: []\nc:\n", {"a": {}, "b": [], "c": None}),
        # plain scalars mean what they mean to Kubernetes (go-yaml), in both readers
        (
            "a: 1.5\nb: 0x1F\nc: 2025-01-01\nd: 10:30\ne: y\nf: 1e3\ng: 0o17\nh: =\ni: <<\n",
            {"a": 1.5, "b": 31, "c": "2025-01-01", "d": "10:30", "e": True, "f": 1000.0,
             "g": 15, "h": "=", "i": "<<"},
        ),
    ],
)  # fmt: skip
def test_reads_the_common_forms(text: str, value: Any) -> None:
    assert _same(blockyaml.load(text, stream.MAX_DEPTH), value)
    assert _agrees(text)


@pytest.mark.parametrize(
    "text",
    [
        "a: 0o7\n",  # octal in a profile, a string in a manifest
        "a: [{1: x}]\n",  # keys stay as written in nested flow mappings too
        "a: {b: {on: x}}\n",
        "a: [{'1': x, 1: y}]\n",  # the same key twice, as written
    ],
)
def test_profile_dialect_agrees_with_the_profile_loader(text: str) -> None:
    from postrender.model import profile_yaml

    lines: dict[Any, int] = {}
    try:
        data = blockyaml.load(text, MAX_PROFILE_DEPTH, True, lines)
    except blockyaml.Declined:
        return
    want, want_lines, duplicates = profile_yaml.read(text, "p")
    assert not duplicates
    assert _same(data, want)
    assert lines == want_lines


def test_depth_past_the_limit_is_declined() -> None:
    deep = "".join(" " * i + "a:\n" for i in range(20)) + " " * 20 + "a: 1\n"
    assert blockyaml.load(deep, 30) is not None
    with pytest.raises(blockyaml.Declined):
        blockyaml.load(deep, 10)


def test_lines_are_recorded_per_path() -> None:
    lines: dict[Any, int] = {}
    text = "# head\nclusters:\n  - name: a\n    sizes: [1, 2]\n    x:\n      y: 1\n"
    data = blockyaml.load(text, 10, keys_as_written=True, lines=lines)
    assert data == {"clusters": [{"name": "a", "sizes": [1, 2], "x": {"y": 1}}]}
    assert lines[()] == 2
    assert lines[("clusters",)] == 3
    assert lines[("clusters", 0)] == 3
    assert lines[("clusters", 0, "sizes", 1)] == 4
    assert lines[("clusters", 0, "x")] == 6


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["26.05", "0x1F", "1_000", "1:30", "2025-01-01", "yes", "~", "-", "a: b"]),
)
_keys = st.one_of(st.text(max_size=8), st.integers(0, 99), st.sampled_from(["on", "1.0", "<<"]))
_objects = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=24,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    body=_objects,
    indent=st.sampled_from([2, 4]),
    flow=st.sampled_from([False, None]),
    width=st.sampled_from([20, 80, 1 << 16]),
)
def test_documents_pyyaml_writes_read_back_the_same(
    body: Any, indent: int, flow: bool | None, width: int
) -> None:
    text = yaml.safe_dump(
        body, indent=indent, default_flow_style=flow, width=width, allow_unicode=True
    )
    _agrees(text)
    _agrees(pyyaml_io.dump(body))


# Lines built from YAML's special characters: most are invalid or mean something subtle.
_pieces = st.sampled_from(
    [
        " ", "  ", "- ", "-", ":", ": ", "a", "b1", "k", "#", " #", "'", '"', "''", "\\",
        "\\n", "\\x41", "|", "|-", "|+", ">", "[", "]", "{", "}", ", ", ",", "&a ", "*a",
        "!!str ", "?", "%", "@", "`", "~", "null", "yes", "0", "1", "-1", "0o7", "1.5", "1:2",
        "2001-1-1", "é", "\u2028", "\t", "---", "...", "<<", "=",
    ]
)  # fmt: skip
_lines = st.lists(_pieces, max_size=8).map("".join)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_lines, min_size=1, max_size=8).map("\n".join), st.booleans())
def test_generated_text_is_declined_or_read_as_pyyaml_reads_it(text: str, newline: bool) -> None:
    _agrees(text + ("\n" if newline else ""))


def _profile_files() -> list[str]:
    found = []
    for root, _, files in os.walk(TESTDATA):
        found += [os.path.join(root, n) for n in sorted(files) if n.startswith("profile")]
    return found


def test_profiles_read_with_the_lines_pyyaml_gives() -> None:
    from postrender.model import profile_yaml

    read = 0
    for path in _profile_files():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines: dict[Any, int] = {}
        try:
            data = blockyaml.load(text, MAX_PROFILE_DEPTH, True, lines)
        except blockyaml.Declined:
            continue
        try:
            want = profile_yaml.read(text, "p")
        except Exception as exc:  # a profile test case with a YAML error
            raise AssertionError(f"{path}: accepted what PyYAML refuses: {exc}") from None
        assert _same(data, want[0]), path
        assert lines == want[1], path
        read += 1
    assert read >= 0.8 * len(_profile_files()), (read, len(_profile_files()))
