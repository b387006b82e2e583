"""Reading and writing manifest streams: every form Helm produces, byte-exact pass-through."""

from __future__ import annotations

from pathlib import Path

import pytest

from postrender.errors import EXIT_INPUT, SlinkyError
from postrender.yaml.stream import Document, decode, read_stream, write_stream

RENDERED = Path(__file__).parents[2] / "testdata" / "upstream" / "rendered"
UPSTREAM = sorted(p for p in RENDERED.glob("*.yaml") if not p.name.endswith(".values.yaml"))


@pytest.mark.parametrize("path", UPSTREAM, ids=lambda p: p.name)
def test_upstream_streams_round_trip_byte_for_byte(path: Path) -> None:
    text = path.read_text()
    stream = read_stream(text)
    assert write_stream(stream) == text
    kinds = {d.kind for d in stream.documents}
    assert {"Controller", "Secret"} <= kinds


def test_helm4_form_takes_source_from_annotation() -> None:
    text = (
        Path(__file__).parents[2]
        / "testdata/upstream/rendered/helm4-input_slurm-1.3.0-rc1_gpu-cpu.yaml"
    ).read_text()
    docs = read_stream(text).documents
    assert docs[1].source == "slurm/templates/nodeset/nodeset-cr.yaml"
    assert not text.startswith("---")


def test_helm3_second_document_of_a_template_inherits_its_source() -> None:
    text = (
        "---\n# Source: c/templates/a.yaml\nkind: A\n---\nkind: B\n"
        "---\n# Source: c/templates/b.yaml\nkind: C\n"
    )
    docs = read_stream(text).documents
    assert [d.source for d in docs] == [
        "c/templates/a.yaml",
        "c/templates/a.yaml",
        "c/templates/b.yaml",
    ]


def test_changed_document_keeps_separator_and_source_comment() -> None:
    text = (
        "---\n# Source: c/templates/a.yaml\nkind: A # inline\nmetadata: {name: x}\n---\nkind: B\n"
    )
    stream = read_stream(text)
    stream.documents[0].body["spec"] = {"x": 1}
    stream.documents[0].changed = True
    out = write_stream(stream)
    assert out.startswith(
        "---\n# Source: c/templates/a.yaml\nkind: A\nmetadata:\n  name: x\nspec:\n  x: 1\n"
    )
    assert out.endswith("---\nkind: B\n")


def test_added_document_goes_last_with_its_head() -> None:
    stream = read_stream("kind: A\n")
    stream.added.append(
        Document(-1, "", "---\n# Source: c/t.yaml\n", {"kind": "B"}, "c/t.yaml", added=True)
    )
    assert write_stream(stream) == "kind: A\n---\n# Source: c/t.yaml\nkind: B\n"


def test_missing_final_newline_gets_one_before_an_added_document() -> None:
    stream = read_stream("kind: A")
    stream.added.append(Document(-1, "", "---\n", {"kind": "B"}, None, added=True))
    assert write_stream(stream) == "kind: A\n---\nkind: B\n"


@pytest.mark.parametrize(
    "text",
    [
        "--- # comment\nkind: A\n",
        "kind: A\n...\n---\nkind: B\n",
        "--- {kind: A}\n--- {kind: B}\n",
        "\n\n# only a comment\n---\n",
        "kind: A\r\nmetadata:\r\n  name: x\r\n---\r\nkind: B\r\n",
        "apiVersion: v1\nkind: List\nitems:\n- kind: A\n",
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}\n',
    ],
    ids=["comment-on-separator", "document-end", "glued", "comments-only", "crlf", "list", "json"],
)
def test_edge_forms_pass_through_unchanged(text: str) -> None:
    assert write_stream(read_stream(text)) == text


def test_multi_line_strings_are_written_as_literal_blocks() -> None:
    stream = read_stream("kind: A\n")
    stream.documents[0].body["conf"] = "a=1\nb=2"
    stream.documents[0].changed = True
    assert "conf: |-\n  a=1\n  b=2\n" in write_stream(stream)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("kind: A\nkind: B\n", "duplicate key 'kind'"),
        ("kind: [\n", "invalid YAML at line"),
        ("a: &a [1]\nb: !!python/object/apply:os.system ['true']\n", "invalid YAML"),
        ("kind: A\n\tmetadata: {}\n", "invalid YAML"),
    ],
    ids=["duplicate-key", "unterminated", "python-tag", "tab"],
)
def test_unreadable_documents_are_errors(text: str, needle: str) -> None:
    with pytest.raises(SlinkyError) as info:
        read_stream(text)
    assert info.value.exit_code == EXIT_INPUT
    assert needle in info.value.format()


def test_all_unreadable_documents_are_reported_at_once() -> None:
    with pytest.raises(SlinkyError) as info:
        read_stream("a: [\n---\nb: 1\n---\nc: {\n")
    assert [p.document for p in info.value.problems] == ["document 1", "document 3"]


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(SlinkyError, match="aliases expand"):
        read_stream("\n".join(lines) + "\n")


def test_decode_refuses_non_utf8_and_oversize_and_drops_bom() -> None:
    assert decode("\ufeffkind: A\n".encode()) == "kind: A\n"
    with pytest.raises(SlinkyError, match="not UTF-8"):
        decode(b"kind: \xff\n")
    with pytest.raises(SlinkyError, match="over the limit"):
        decode(b"x" * 11, max_bytes=10)
