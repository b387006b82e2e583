"""Hostile and broken input against the real ``slinky-pr`` (issue 8).

Every stream case runs ``python -m postrender`` the way Helm does, once with the example
profile and once without one. The contract: either a documented exit code, a message
that says what and where, and NOTHING on stdout (Helm 3 installs an empty stream and an
upgrade would then delete the release); or a documented pass-through. Which one each
form gets, and why, is the table in docs/hostile-input.md.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from postrender.errors import EXIT_INPUT, EXIT_PROFILE, SlinkyError
from postrender.profiles import parse_profile
from postrender.stream import MAX_DEPTH, MAX_EXPANDED_NODES, decode, read_stream, write_stream

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
RELEASE = (ROOT / "testdata" / "examples" / "release.yaml").read_bytes()
MODES = pytest.mark.parametrize("profile", [None, PROFILES], ids=["no-profile", "profile"])
USAGE = 2  # click's code for a bad command line


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLINKY_PR_", "HELM_"))}
    env.update(extra or {})
    return env


def run(
    stdin: bytes,
    *args: str,
    profile: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """The real post-renderer, as Helm runs it (stdin in, stdout out, exit code)."""
    config = ["--config", str(profile)] if profile else []
    return subprocess.run(
        [sys.executable, "-m", "postrender", *config, *args],
        input=stdin,
        capture_output=True,
        env=_env(env),
        cwd=cwd,
        timeout=120,
        check=False,
    )


@dataclass
class Measured:
    returncode: int
    stdout_bytes: int
    stderr: str
    max_rss_mib: float


# Runs in a fresh interpreter whose only child is the post-renderer, so RUSAGE_CHILDREN
# is that child's own peak RSS (in pytest's process it would be the max of all children).
# The input goes through a file: held in this process, it would count in the child's peak
# (the fork before exec shares its pages, and the peak survives exec).
_MEASURE = """
import json, resource, shutil, subprocess, sys, tempfile
with tempfile.TemporaryFile() as stdin:
    shutil.copyfileobj(sys.stdin.buffer, stdin)
    stdin.seek(0)
    done = subprocess.run([sys.executable, "-m", "postrender", *sys.argv[1:]], stdin=stdin,
                          capture_output=True)
print(json.dumps([done.returncode, len(done.stdout), done.stderr.decode(errors="replace"),
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))
"""


def measured(stdin: bytes, *args: str) -> Measured:
    """Run the post-renderer and report its peak memory."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        input=stdin,
        capture_output=True,
        env=_env(),
        timeout=300,
        check=True,
    )
    return Measured(*json.loads(done.stdout))


def assert_refused(done: subprocess.CompletedProcess[bytes], code: int, *needles: str) -> str:
    """Exit ``code``, nothing on stdout, each needle in the message, no traceback."""
    err = done.stderr.decode()
    assert done.returncode == code, err
    assert done.stdout == b"", "an error must leave stdout empty"
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    assert "Traceback" not in err
    return err


def assert_passed_through(done: subprocess.CompletedProcess[bytes], expected: bytes) -> None:
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == expected
    assert done.stderr == b""


def billion_laughs(levels: int = 9, width: int = 10) -> bytes:
    """``width ** levels`` scalars once expanded, a few hundred bytes written."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def nested_block(levels: int) -> bytes:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(levels)).encode() + b"  " * levels + b"x\n"


def nested_flow(levels: int) -> bytes:
    return b"kind: A\ndeep: " + b"[" * levels + b"]" * levels + b"\n"


# --- Stream: forms that are errors (exit 3, nothing on stdout) -----------------------

RELEASE_LINES = RELEASE.count(b"\n")
RELEASE_DOCS = len(read_stream(RELEASE.decode()).documents)

INPUT_ERRORS = [
    ("invalid-yaml", b"kind: A\nmetadata: {name: [x\n", ["document 1", "invalid YAML at line 3"]),
    ("not-utf8", b"kind: A\nmetadata: {name: \xff}\n", ["not UTF-8", "byte 25", "line 2"]),
    ("latin-1", "kind: A\nname: café\n".encode("latin-1"), ["not UTF-8", "line 2"]),
    ("utf-16", "kind: A\n".encode("utf-16"), ["not UTF-8", "byte 0", "line 1"]),
    ("tab-indentation", b"kind: A\nmetadata:\n\tname: x\n", ["line 3", "tab"]),
    ("duplicate-key", b"kind: A\nmetadata: {name: x}\nkind: B\n", ["duplicate key 'kind'"]),
    (
        "duplicate-key-after-the-release",
        RELEASE + b"---\nkind: A\nkind: B\n",
        [f"document {RELEASE_DOCS + 1}", f"line {RELEASE_LINES + 3}", "duplicate key"],
    ),
    (
        "duplicate-merge-key",
        b"base: &b {x: 1}\nkind: A\nspec: {<<: *b, x: 2}\n",
        ["duplicate key 'x'"],
    ),
    ("python-tag", b"kind: !!python/object/apply:os.system ['true']\n", ["python/object"]),
    ("python-name", b"kind: !!python/name:os.system\n", ["python/name"]),
    ("custom-tag", b"kind: A\nvalue: !Ref other\n", ["line 2", "'!Ref'"]),
    ("bad-tagged-bool", b"kind: A\nflag: !!bool maybe\n", ["line 2", "bool value"]),
    ("bad-tagged-int", b"kind: A\nn: !!int x\n", ["line 2", "int value"]),
    ("bad-tagged-timestamp", b"kind: A\nt: !!timestamp x\n", ["line 2", "timestamp value"]),
    ("bad-binary", b"kind: A\nb: !!binary abc\n", ["line 2", "base64"]),
    ("complex-key", b"kind: A\n? [a, b]\n: c\n", ["line 2", "mapping key must be a scalar"]),
    ("control-character", b"kind: A\nname: a\x07b\n", ["line 2", "control characters"]),
    ("nul-byte", b"kind: A\n---\nkind: B\x00\n", ["document 2", "line 3"]),
    ("ends-inside-a-quote", b'kind: A\nmetadata:\n  name: "x\n', ["unexpected end of stream"]),
    ("ends-inside-a-flow", b"kind: A\nmetadata: {name: x,\n", ["invalid YAML at line"]),
    (
        "release-ends-inside-a-quote",
        RELEASE + b'---\nkind: ConfigMap\ndata:\n  a: "half a val',
        [f"document {RELEASE_DOCS + 1}", "unexpected end of stream"],
    ),
    ("alias-bomb", billion_laughs(), ["aliases expand the stream"]),
    (
        # Each document alone stays under the budget; together they do not.
        "alias-bombs-spread-over-documents",
        b"---\n".join([billion_laughs(levels=5)] * 20),
        ["aliases expand the stream", "document 11"],
    ),
    ("recursive-alias", b"kind: A\nspec: &s [*s]\n", ["recursive alias"]),
    ("100k-open-brackets", b"a: " + b"[" * 100_000 + b"\n", ["nesting depth"]),
    ("deep-block-nesting", nested_block(MAX_DEPTH + 5), ["nested deeper than 100 levels"]),
    ("deep-flow-nesting", nested_flow(500), ["nested deeper than 100 levels"]),
    ("yaml-directive", b"%YAML 1.1\n---\nkind: A\n", ["invalid YAML"]),
    (
        # Valid JSON, but YAML 1.1 (libyaml) has no surrogate pairs: write the character.
        "json-surrogate-pair-escape",
        b'{"kind": "A", "emoji": "\\ud83d\\ude00"}\n',
        ["line 1", "invalid Unicode character escape"],
    ),
]


@MODES
@pytest.mark.parametrize(
    ("stdin", "needles"), [c[1:] for c in INPUT_ERRORS], ids=[c[0] for c in INPUT_ERRORS]
)
def test_unreadable_stream_is_refused_with_what_and_where(
    stdin: bytes, needles: list[str], profile: Path | None
) -> None:
    err = assert_refused(run(stdin, profile=profile), EXIT_INPUT, *needles)
    assert err.startswith("cannot read the manifest stream")


def test_python_tags_execute_nothing(tmp_path: Path) -> None:
    stdin = b"kind: !!python/object/apply:os.system ['touch PWNED']\n"
    assert_refused(run(stdin, cwd=tmp_path), EXIT_INPUT)
    assert not (tmp_path / "PWNED").exists()


# Bounded memory, not time, is asserted: an expansion or a read past the cap shows in the
# peak RSS on any machine, and speed belongs to the benchmark (issue 7, bench/).
@pytest.mark.parametrize(
    ("stdin", "mib"),
    [
        (billion_laughs(), 150),  # 10**9 scalars once expanded
        (b"a: " + b"[" * 100_000 + b"\n", 150),
        (nested_flow(999), 150),  # just under libyaml's own limit of 1000
        (b"\xff" * (200 * 1024 * 1024), 450),  # 200 MiB, refused at the default cap of 16 MiB
    ],
    ids=["billion-laughs", "100k-nesting", "999-nesting", "200MiB"],
)
def test_worst_inputs_are_refused_in_bounded_memory(stdin: bytes, mib: float) -> None:
    done = measured(stdin)
    assert done.returncode == EXIT_INPUT and done.stdout_bytes == 0, done.stderr
    assert done.max_rss_mib < mib


def test_input_is_read_only_up_to_the_cap() -> None:
    # 256 MiB piped in, cap 1 MiB: the process must not hold the whole input.
    done = measured(b"#" * (256 * 1024 * 1024), "--max-input-bytes", str(1 << 20))
    assert done.returncode == EXIT_INPUT and "over the limit of 1048576 bytes" in done.stderr
    assert done.max_rss_mib < 100


# --- Stream: forms that pass through ---------------------------------------------------

DOC = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"
PASS_THROUGH = [
    ("crlf", DOC.replace(b"\n", b"\r\n")),
    ("cr-only-line-ends", b"kind: A\r---\rkind: B\r...\r--- x\r"),
    ("tab-in-values-and-comments", b"kind: A\nmetadata:\n  name: x\t# tab, then a comment\n"),
    ("comment-on-separator", b"--- # comment\n" + DOC),
    ("document-end-marker", DOC + b"...\n---\n" + DOC),
    ("document-end-then-bare-document", DOC + b"...\n" + DOC.replace(b"x", b"z")),
    ("content-glued-to-separator", b"--- {kind: A}\n--- {kind: B}\n"),
    ("scalar-glued-to-separator", b"--- text\n"),
    ("dashes-starting-a-key", b"---kind: A\n"),
    ("empty-documents", b"---\n---\n---\n" + DOC + b"---\n"),
    ("comment-only", b"# nothing to see\n"),
    ("comment-only-documents", b"---\n# Source: slurm/templates/empty.yaml\n---\n" + DOC),
    ("whitespace-only", b"\n  \n"),
    ("top-level-scalars", b"--- hello\n---\n42\n---\nnull\n"),
    ("top-level-list", b"- a\n- b\n---\n- kind: NodeSet\n  metadata: {name: x-worker-gpu}\n"),
    ("without-kind", b"metadata: {name: x}\n---\napiVersion: v1\n"),
    ("without-metadata", b"apiVersion: example.com/v1\nkind: NodeSet\n"),
    ("json", b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}\n'),
    ("json-stream", b'{"kind": "A"}\n---\n{"kind": "B", "metadata": {"name": "b"}}\n'),
    ("no-final-newline", DOC.rstrip(b"\n")),
    ("unicode", "kind: A\ndata: {greet: 'héllo ☃ 𝄞'}\n".encode()),
    ("small-anchors-and-aliases", b"kind: A\nbase: &b {k: v}\ncopy: *b\n"),
    ("timestamps-binary-sets", b"kind: A\nt: 2001-12-14\nb: !!binary aGk=\ns: !!set {x}\n"),
    ("empty-input", b""),
]


@MODES
@pytest.mark.parametrize("stdin", [c[1] for c in PASS_THROUGH], ids=[c[0] for c in PASS_THROUGH])
def test_unusual_but_valid_forms_pass_through_byte_for_byte(
    stdin: bytes, profile: Path | None
) -> None:
    assert_passed_through(run(stdin, profile=profile), stdin)


@pytest.mark.parametrize(
    "extra", [c[1] for c in PASS_THROUGH if c[1]], ids=[c[0] for c in PASS_THROUGH if c[1]]
)
def test_unusual_forms_survive_inside_a_patched_release(extra: bytes) -> None:
    newline = b"\r\n" if b"\r\n" in extra else b"\n"
    done = run(RELEASE + b"---" + newline + extra, profile=PROFILES)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Gres=gpu:a100:8" in done.stdout  # the release itself was patched
    assert extra in done.stdout  # and the extra document is there, byte for byte


@MODES
def test_bom_is_dropped_and_nothing_else_changes(profile: Path | None) -> None:
    plain = run(RELEASE, profile=profile)
    with_bom = run(b"\xef\xbb\xbf" + RELEASE, profile=profile)
    assert with_bom.returncode == plain.returncode
    assert with_bom.stdout == plain.stdout
    if profile is None:  # untargeted release: no-profile mode refuses it (exit 5)
        assert plain.returncode == 5
    else:
        assert plain.returncode == 0


def test_crlf_release_keeps_untouched_documents_byte_for_byte() -> None:
    crlf = RELEASE.replace(b"\n", b"\r\n")
    done = run(crlf, profile=PROFILES)
    assert done.returncode == 0, done.stderr.decode()
    for doc in read_stream(crlf.decode()).documents:
        if doc.kind in ("Secret", "RestApi"):
            assert doc.raw.encode() in done.stdout
    assert run(done.stdout, profile=PROFILES).stdout == done.stdout  # a fixed point
    lf = run(RELEASE, profile=PROFILES).stdout.decode()
    assert [d.body for d in read_stream(done.stdout.decode()).documents] == [
        d.body for d in read_stream(lf).documents
    ]


@MODES
def test_output_is_utf8_whatever_the_locale(profile: Path | None) -> None:
    stdin = "kind: A\ndata: {greet: 'héllo ☃'}\n".encode()
    for env in ({"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C"}):
        assert_passed_through(run(stdin, profile=profile, env=env), stdin)


def test_document_end_marker_survives_a_rewrite() -> None:
    # Found by fuzz/fuzz_stream.py: a rewritten document lost its "..." line and the
    # next document, which had no "---", was read as part of it.
    marked = RELEASE.replace(
        b"---\n# Source: slurm/templates/restapi", b"...\n# Source: slurm/templates/restapi"
    )
    assert marked != RELEASE
    done = run(marked, profile=PROFILES)
    assert done.returncode == 0, done.stderr.decode()
    out = read_stream(done.stdout.decode()).documents
    added = {"ConfigMap/slinky-slurm-gres-conf"}
    assert [f"{d.kind}/{d.name}" for d in out if f"{d.kind}/{d.name}" not in added] == [
        f"{d.kind}/{d.name}" for d in read_stream(marked.decode()).documents
    ]


# --- Stream: the size cap ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--max-input-bytes", str(len(RELEASE) - 1)], {}),
        ([], {"SLINKY_PR_MAX_INPUT_BYTES": str(len(RELEASE) - 1)}),
        (["--max-input-bytes", str(len(RELEASE) - 1)], {"SLINKY_PR_MAX_INPUT_BYTES": "99999999"}),
    ],
    ids=["option", "environment", "option-beats-environment"],
)
def test_size_cap_refuses_one_byte_over(args: list[str], env: dict[str, str]) -> None:
    done = run(RELEASE, *args, profile=PROFILES, env=env)
    assert_refused(done, EXIT_INPUT, f"over the limit of {len(RELEASE) - 1} bytes", "hint:")


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--max-input-bytes", str(len(RELEASE))], {}),
        ([], {"SLINKY_PR_MAX_INPUT_BYTES": str(len(RELEASE))}),
    ],
    ids=["option", "environment"],
)
def test_size_cap_accepts_exactly_the_cap(args: list[str], env: dict[str, str]) -> None:
    assert run(RELEASE, *args, profile=PROFILES, env=env).returncode == 0


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--max-input-bytes", "0"], {}),
        (["--max-input-bytes", "-1"], {}),
        (["--max-input-bytes", "lots"], {}),
        ([], {"SLINKY_PR_MAX_INPUT_BYTES": "lots"}),
        ([], {"SLINKY_PR_MAX_INPUT_BYTES": "-5"}),
    ],
    ids=["zero", "negative", "not-a-number", "env-not-a-number", "env-negative"],
)
def test_bad_size_cap_is_a_usage_error(args: list[str], env: dict[str, str]) -> None:
    assert_refused(run(RELEASE, *args, profile=PROFILES, env=env), USAGE, "--max-input-bytes")


def test_huge_size_cap_is_accepted() -> None:
    done = run(RELEASE, profile=PROFILES, env={"SLINKY_PR_MAX_INPUT_BYTES": str(10**30)})
    assert done.returncode == 0, done.stderr.decode()


# --- Stream: regressions of the reader, in process -----------------------------------------


def test_alias_budget_is_shared_by_the_whole_stream() -> None:
    small = billion_laughs(levels=5).decode()  # 10**5 scalars: alone, accepted
    read_stream(small)
    with pytest.raises(SlinkyError, match=f"more than {MAX_EXPANDED_NODES} nodes"):
        read_stream("---\n".join([small] * 11))


def test_alias_free_stream_has_no_budget() -> None:
    big = "".join(f"---\nkind: A\nitems: [{', '.join(['x'] * 1000)}]\n" for _ in range(1100))
    assert len(read_stream(big).documents) == 1100  # 1.1 million nodes, no alias


@pytest.mark.parametrize("alias", ["", "a: &a x\nb: *a\n"], ids=["tree", "with-alias"])
def test_nesting_up_to_the_limit_is_accepted(alias: str) -> None:
    def doc(lists: int) -> str:  # the top mapping, then ``lists`` nested lists: lists + 1
        return f"kind: A\n{alias}deep: " + "[" * lists + "]" * lists + "\n"

    assert read_stream(doc(MAX_DEPTH - 1)).documents[0].kind == "A"
    with pytest.raises(SlinkyError, match="nested deeper than 100 levels"):
        read_stream(doc(MAX_DEPTH))


def test_reader_errors_give_the_line_in_the_whole_stream() -> None:
    with pytest.raises(SlinkyError) as info:
        read_stream("a: 1\r---\rb: 2\r---\rc: é\x07\n")  # CR-only line ends, as libyaml counts
    assert "line 5" in info.value.format()


def test_decode_names_the_cap_not_a_size_it_never_read() -> None:
    with pytest.raises(SlinkyError, match="over the limit of 10 bytes"):
        decode(b"x" * 11, max_bytes=10)


def test_cr_only_stream_is_written_back_as_read() -> None:
    text = "kin: A\r...\r---\rkind: A\r...\r("  # fuzz/fuzz_stream.py crash-21e7742f, reduced
    assert write_stream(read_stream(text)) == text


def test_sets_and_nan_survive_a_rewrite() -> None:
    # fuzz/fuzz_stream.py crash-5997222d was the harness comparing dumps of two equal sets
    # (set order varies); the data itself must read back equal.
    text = "kind: A\ns: !!set {tag:yml.org, .org, 2, 01gex}\nm: .nan\n"
    stream = read_stream(text)
    stream.documents[0].changed = True
    body = read_stream(write_stream(stream)).documents[0].body
    assert body["s"] == {"tag:yml.org", ".org", 2, "01gex"} and body["m"] != body["m"]


def test_rewrite_keeps_a_document_end_marker_in_process() -> None:
    text = "kind: A\n...\n\n-ki--nd: B\n"  # fuzz/fuzz_stream.py crash-906141d6
    stream = read_stream(text)
    stream.documents[0].changed = True
    again = read_stream(write_stream(stream))
    assert [d.body for d in again.documents] == [{"kind": "A"}, {"-ki--nd": "B"}]


# --- Profiles: every bad profile is exit 4 with file:line -------------------------------


def _profile(partition: str, clusters: str = "") -> str:
    """One cluster, one partition starting at line 4; ``partition`` adds its lines from 5."""
    body = textwrap.indent(textwrap.dedent(partition).strip("\n"), " " * 8)
    return (
        "clusters:\n  - name: slinky-cluster\n    partitions:\n"
        f"      - name: gpu-partition\n{body}\n{clusters}"
    )


BAD_PROFILES = [
    # wrong types
    ("nodes-string", _profile("nodes: two"), 5, ['"two" is not of type "integer"']),
    ("gres-number", _profile("gres: 8"), 5, ['8 is not of type "string"']),
    ("efa-enabled-string", _profile('efa_enabled: "yes"'), 5, ['is not of type "boolean"']),
    ("node-selector-list", _profile("nodeSelector: [a]"), 5, ['is not of type "object"']),
    ("tolerations-map", _profile("tolerations: {key: a}"), 5, ['is not of type "array"']),
    ("label-value-bool", _profile("nodeSelector: {efa: true}"), 5, ['quote it: "true"']),
    ("partitions-map", "clusters:\n  - name: c\n    partitions: {a: 1}\n", 3, ["not of type"]),
    ("top-level-list", "- clusters\n", 1, ['is not of type "object"']),
    ("gres-date", _profile("gres: 2024-01-01"), 5, ["date is not a profile value", "quote"]),
    ("gres-binary", _profile("gres: !!binary aGk="), 5, ["bytes is not a profile value"]),
    # unknown keys
    ("unknown-key", _profile("gress: gpu:8"), 5, ["unknown key 'gress'", "did you mean 'gres'"]),
    (
        "unknown-option",
        _profile("options: {MaxTme: 30}"),
        5,
        ["unknown key 'MaxTme'", "did you mean 'MaxTime'"],
    ),
    ("unknown-top-level", "cluster: []\n", 1, ["unknown key 'cluster'"]),
    # duplicates
    (
        "duplicate-partition",
        _profile("nodes: 1") + "      - name: gpu-partition\n",
        6,
        ["defined twice", "first defined at profiles.yaml:4"],
    ),
    (
        "duplicate-cluster",
        _profile("nodes: 1", "  - name: slinky-cluster\n    partitions: []\n"),
        6,
        ["cluster 'slinky-cluster' is defined twice", "first defined at profiles.yaml:2"],
    ),
    ("duplicate-key", _profile("nodes: 1\nnodes: 2"), 6, ["duplicate key 'nodes'"]),
    # injection into slurm.conf / extraConf
    ("name-newline", _profile("").replace("gpu-partition", '"gpu\\nSlurmUser=root"'), 4, ["name"]),
    ("name-space", _profile("").replace("gpu-partition", '"gpu State=DOWN"'), 4, ["name"]),
    ("name-equals", _profile("").replace("gpu-partition", '"gpu=x"'), 4, ["name"]),
    ("name-hash", _profile("").replace("gpu-partition", '"gpu#x"'), 4, ["name"]),
    ("option-newline", _profile('options: {MaxTime: "30\\nSlurmUser=root"}'), 5, ["MaxTime"]),
    ("option-space", _profile('options: {QOS: "normal State=DOWN"}'), 5, ["QOS"]),
    ("option-equals", _profile('options: {AllowGroups: "ml=x"}'), 5, ["AllowGroups"]),
    ("option-hash", _profile('options: {QOS: "a#b"}'), 5, ["QOS"]),
    ("option-list-space", _profile('options: {AllowGroups: ["ml team"]}'), 5, ["AllowGroups"]),
    ("tres-weights-space", _profile('options: {TRESBillingWeights: "CPU=1 X=2"}'), 5, ["TRES"]),
    ("feature-space", _profile('features: ["a b"]'), 5, ["features[0]"]),
    ("feature-equals", _profile('features: ["a=b"]'), 5, ["features[0]"]),
    ("feature-newline", _profile('features: ["a\\nb"]'), 5, ["features[0]"]),
    ("feature-hash", _profile('features: ["a#b"]'), 5, ["features[0]"]),
    ("gres-space", _profile('gres: "gpu:8 Weight=1"'), 5, ["gres"]),
    ("gres-newline", _profile('gres: "gpu:8\\n"'), 5, ["gres"]),
    ("gres-equals", _profile('gres: "gpu=8"'), 5, ["gres"]),
    ("gres-hash", _profile('gres: "gpu:a#b:8"'), 5, ["gres"]),
    ("nodeset-key-newline", _profile('nodesets: ["gpu\\nx"]'), 5, ["nodesets[0]"]),
    ("nodeset-key-space", _profile('nodesets: ["gpu x"]'), 5, ["nodesets[0]"]),
    # label and annotation injection
    ("selector-key-newline", _profile('nodeSelector: {"role\\nx": a}'), 4, ["label key"]),
    ("selector-value-space", _profile('nodeSelector: {role: "a b"}'), 4, ["label value"]),
    ("selector-value-newline", _profile('nodeSelector: {role: "a\\nb"}'), 4, ["label value"]),
    ("selector-url-key", _profile('nodeSelector: {"://vpc.amazonaws.com": "true"}'), 4, ["URL"]),
    ("label-value-newline", _profile('labels: {team: "ml\\nx"}'), 4, ["label value"]),
    ("label-key-space", _profile('labels: {"my team": ml}'), 4, ["label key"]),
    ("annotation-key-space", _profile('annotations: {"a b": x}'), 4, ["label key"]),
    (
        "annotation-retargets",
        _profile('annotations: {"slinky-pr/partition": cpu-partition}'),
        4,
        ["chooses a NodeSet's partitions"],
    ),
    ("toleration-key-space", _profile('tolerations: [{key: "a b", operator: Exists}]'), 4, ["key"]),
    (
        "toleration-bad-effect",
        _profile("tolerations: [{key: a, operator: Exists, effect: Sometimes}]"),
        5,
        ["effect"],
    ),
    # absurd numbers
    ("negative-nodes", _profile("nodes: -1"), 5, ["less than the minimum of 0"]),
    ("billion-nodes", _profile("nodes: 1000000000"), 5, ["greater than the maximum"]),
    ("billion-gpus", _profile("gres: gpu:1000000000"), 5, ["gres"]),
    ("negative-gpus", _profile("gres: gpu:-1"), 5, ["gres"]),
    ("zero-gpus", _profile("gres: gpu:0"), 4, ["at least 1"]),
    ("too-many-gpus", _profile("instance_types: [p4d.24xlarge]\ngres: gpu:9999"), 4, ["9999"]),
    ("billion-efa", _profile("efa_enabled: true\nefa_count: 1000000000"), 6, ["efa_count"]),
    ("negative-efa", _profile("efa_enabled: true\nefa_count: -1"), 6, ["efa_count"]),
    ("priority-tier", _profile("options: {PriorityTier: 1000000000}"), 5, ["PriorityTier"]),
    ("mem-per-gpu", _profile("options: {DefMemPerGPU: 100000000000000000000}"), 5, ["maximum"]),
    ("5000-digit-int", _profile("nodes: 1" + "0" * 5000), 5, ["cannot read this value"]),
    ("infinity", _profile("nodes: .inf"), 5, ["inf is not a finite number"]),
    ("not-a-number", _profile("options: {PriorityTier: .nan}"), 5, ["nan is not a finite"]),
    # YAML itself
    ("tab", "clusters:\n\t- name: c\n", 2, ["invalid YAML"]),
    ("control-character", _profile("gres: a\x07b"), 5, ["invalid YAML"]),
    ("surrogate-escape", _profile('gres: "\\ud800"'), 5, ["invalid Unicode character escape"]),
    ("python-tag", _profile("gres: !!python/object/apply:os.system [true]"), 5, ["python"]),
    ("python-tag-scalar", _profile("gres: !!python/name:os.system"), 5, ["python/name"]),
    ("set-tag", _profile("nodeSelector: !!set {a}"), 5, ["tag:yaml.org,2002:set"]),
    ("recursive-alias", "clusters: &c\n  - name: c\n    partitions: *c\n", 1, ["recursive alias"]),
    ("complex-key", _profile("? [a]\n: b"), 5, ["mapping key must be a scalar"]),
    ("two-documents", "clusters: []\n---\nclusters: []\n", 2, ["another document"]),
]


@pytest.mark.parametrize(
    ("text", "line", "needles"),
    [c[1:] for c in BAD_PROFILES],
    ids=[c[0] for c in BAD_PROFILES],
)
def test_bad_profile_is_refused_with_file_and_line(
    tmp_path: Path, text: str, line: int, needles: list[str]
) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    err = assert_refused(
        run(RELEASE, profile=path), EXIT_PROFILE, f"profiles.yaml:{line}", *needles
    )
    assert err.startswith("invalid partition profile")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "the profile file is empty"),
        ("# only a comment\n", "the profile file is empty"),
        (
            "x: &a [" + ", ".join(["*b"] * 10) + "]\n",
            "invalid YAML",  # an alias to an anchor that does not exist
        ),
        ("clusters: " + "[" * 10_000 + "\n", "nesting depth"),
    ],
    ids=["empty", "comment-only", "unknown-alias", "10k-nesting"],
)
def test_profile_without_a_usable_line_still_names_the_file(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    assert_refused(run(RELEASE, profile=path), EXIT_PROFILE, "profiles.yaml", needle)


def test_profile_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    bomb = billion_laughs().decode() + "clusters: [{name: c, partitions: *a8}]\n"
    path = tmp_path / "profiles.yaml"
    path.write_text(bomb)
    assert_refused(run(RELEASE, profile=path), EXIT_PROFILE, "aliases expanded")


def test_profile_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_bytes(b"clusters:\n  - name: caf\xe9\n")
    assert_refused(run(RELEASE, profile=path), EXIT_PROFILE, "profiles.yaml:2", "byte 23")


def test_profile_python_tag_executes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(_profile("gres: !!python/object/apply:os.system ['touch PWNED']"))
    assert_refused(run(RELEASE, profile=path, cwd=tmp_path), EXIT_PROFILE)
    assert not (tmp_path / "PWNED").exists()


def test_retargeting_annotation_would_break_the_fixed_point() -> None:
    # Why the profile may not set slinky-pr/partition: on the next run the NodeSet would
    # belong to the partition it names as well, and the output would change again.
    with pytest.raises(SlinkyError) as info:
        parse_profile(_profile("nodesets: [cpu]\nannotations: {slinky-pr/partition: other}"))
    assert info.value.exit_code == EXIT_PROFILE


@pytest.mark.parametrize(
    "field",
    [
        'labels: {team: "ml\\n"}',
        'nodeSelector: {"role\\n": a}',
        'nodeSelector: {role: "a\\n"}',
        'nodeSelector: {"example.com\\n/role": a}',
        'annotations: {"example.com/x\\n": a}',
        'tolerations: [{key: "a\\n", operator: Exists}]',
        'tolerations: [{key: a, operator: Equal, value: "x\\n", effect: NoSchedule}]',
    ],
    ids=[
        "label-value",
        "selector-key",
        "selector-value",
        "selector-prefix",
        "annotation-key",
        "toleration-key",
        "toleration-value",
    ],
)
def test_label_text_ending_in_a_newline_is_refused(field: str) -> None:
    with pytest.raises(SlinkyError):
        parse_profile(_profile(field), "profiles.yaml")


def test_profile_reader_error_names_the_line_after_multibyte_text(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text("# " + "é" * 40 + "\nclusters:\n  - name: c\x07\n")
    assert_refused(run(RELEASE, profile=path), EXIT_PROFILE, "profiles.yaml:3", "control")


def test_profile_nesting_between_64_and_libyamls_limit(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text("clusters: " + "[" * 70 + "]" * 70 + "\n")
    assert_refused(run(RELEASE, profile=path), EXIT_PROFILE, "nested deeper than 64 levels")


def test_toleration_value_with_a_newline_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(
        _profile('tolerations: [{key: a, operator: Equal, value: "x\\ny", effect: NoSchedule}]')
    )
    assert_refused(run(RELEASE, profile=path), EXIT_PROFILE, "value")


# --- The stream feeds slurm.conf too -----------------------------------------------------


def _with_hostname(hostname: str) -> bytes:
    return RELEASE.replace(b"hostname: gpu-", b"hostname: " + hostname.encode())


@pytest.mark.parametrize(
    "hostname", ['"gpu\\nSlurmUser=root-"', '"gpu x-"', '"gpu#-"'], ids=["newline", "space", "hash"]
)
def test_nodeset_key_cannot_inject_into_slurm_conf(hostname: str) -> None:
    done = run(_with_hostname(hostname), profile=PROFILES)
    assert done.returncode != 0 and done.stdout == b""


def test_nodeset_key_with_a_trailing_newline_cannot_break_the_partition_line() -> None:
    done = run(_with_hostname('"gpu\\n-"'), profile=PROFILES)
    assert done.returncode != 0 and done.stdout == b""


def _truncated_after(marker: bytes, keep: int) -> bytes:
    """The release cut ``keep`` bytes after the first ``marker``: ends mid-document."""
    at = RELEASE.index(marker) + len(marker)
    return RELEASE[: at + keep]


METADATA_SCALAR = b"apiVersion: slinky.slurm.net/v1beta1\nkind: NodeSet\nmetadata: 5\nspec: 7\n"
CUT_IN_METADATA = _truncated_after(b"kind: NodeSet\nmetadata:\n  ", 1)
CUT_IN_SPEC = _truncated_after(b"kind: NodeSet\nmetadata:", 300).rsplit(b"\n", 2)[0] + b"\n  c"


@pytest.mark.parametrize(
    ("stdin", "profile"),
    [
        (METADATA_SCALAR, None),
        (METADATA_SCALAR, PROFILES),
        (CUT_IN_METADATA, PROFILES),
        (CUT_IN_SPEC, None),
        (CUT_IN_SPEC, PROFILES),
    ],
    ids=[
        "metadata-scalar-no-profile",
        "metadata-scalar-profile",
        "cut-in-metadata-profile",
        "cut-in-spec-no-profile",
        "cut-in-spec-profile",
    ],
)
def test_malformed_slinky_objects_are_clear_errors(stdin: bytes, profile: Path | None) -> None:
    done = run(stdin, profile=profile)
    assert done.returncode in (3, 5, 6) and done.stdout == b"", done.stderr.decode()


def test_stream_cut_mid_document_is_refused_when_it_shows() -> None:
    # Without a profile the cut NodeSet fails its schema; what still reads as YAML and
    # fits the schemas cannot be told from a complete stream (docs/hostile-input.md).
    # The cut leaves a plain "n": false to Kubernetes (go-yaml reads y/n as booleans).
    assert_refused(run(CUT_IN_METADATA), 6, 'at metadata: false is not of type "object"')


# --- Secrets never reach stderr or the log ---------------------------------------------------

MARKER = "S3CRET-MARKER-d41d8cd98f"
MARKER_B64 = base64.b64encode(MARKER.encode()).decode()
SECRET = (
    "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: leaky\ntype: Opaque\n"
    f"data:\n  key: {MARKER_B64}\nstringData:\n  token: {MARKER}\n"
)


def _secret_with(line: str) -> str:
    return f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: leaky\nstringData:\n{line}\n"


SECRET_LEAKS = [
    ("broken-document-after", SECRET + "---\nkind: [\n", EXIT_INPUT),
    ("duplicate-key-after", SECRET + "---\nkind: A\nkind: B\n", EXIT_INPUT),
    ("tagged-int", _secret_with(f"  token: !!int {MARKER}"), EXIT_INPUT),
    ("tagged-float", _secret_with(f"  token: !!float {MARKER}"), EXIT_INPUT),
    ("tagged-bool", _secret_with(f"  token: !!bool {MARKER}"), EXIT_INPUT),
    ("tagged-timestamp", _secret_with(f"  token: !!timestamp {MARKER}"), EXIT_INPUT),
    ("tagged-binary", _secret_with(f"  token: !!binary {MARKER}!"), EXIT_INPUT),
    ("unterminated-quote", _secret_with(f'  token: "{MARKER}'), EXIT_INPUT),
    ("tab-after-value", _secret_with(f"  token: {MARKER}\n\tother: x"), EXIT_INPUT),
    ("duplicate-key", _secret_with(f"  token: {MARKER}\n  token: {MARKER}"), EXIT_INPUT),
    ("control-character", _secret_with(f"  token: {MARKER}\x07"), EXIT_INPUT),
    ("bad-key-after", _secret_with(f"  token: {MARKER}\n  ? [a]\n  : b"), EXIT_INPUT),
]


@MODES
@pytest.mark.parametrize(
    ("stdin", "code"), [c[1:] for c in SECRET_LEAKS], ids=[c[0] for c in SECRET_LEAKS]
)
def test_secret_data_never_reaches_stderr_or_the_log(
    tmp_path: Path, stdin: str, code: int, profile: Path | None
) -> None:
    log = tmp_path / "pr.log"
    done = run(RELEASE + stdin.encode(), "--log-file", str(log), profile=profile)
    assert done.returncode == code and done.stdout == b""
    for text in (done.stderr.decode(), log.read_text()):
        assert MARKER not in text and MARKER_B64 not in text


@pytest.mark.parametrize(
    ("profile_text", "code"),
    [
        (_profile("nodeSelector: {kubernetes.io/os: windows}"), 5),  # conflict with the chart
        (_profile("nodesets: [gpu]\nannotations: {example.com/x: y}", "  - {name: x}\n"), 4),
    ],
    ids=["plan-conflict", "profile-error"],
)
def test_secret_data_stays_out_of_later_errors(
    tmp_path: Path, profile_text: str, code: int
) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text(profile_text)
    log = tmp_path / "pr.log"
    done = run(RELEASE + SECRET.encode(), "--log-file", str(log), "-v", profile=path)
    assert done.returncode == code and done.stdout == b""
    for text in (done.stderr.decode(), log.read_text()):
        assert MARKER not in text and MARKER_B64 not in text


def test_secret_data_stays_out_of_an_internal_error_traceback(tmp_path: Path) -> None:
    log = tmp_path / "pr.log"
    crash = b"---\napiVersion: slinky.slurm.net/v1beta1\nkind: NodeSet\nmetadata: 5\n"
    done = run(RELEASE + SECRET.encode() + crash, "--log-file", str(log), profile=PROFILES)
    assert done.returncode != 0 and done.stdout == b""
    for text in (done.stderr.decode(), log.read_text()):
        assert MARKER not in text and MARKER_B64 not in text


def test_secret_data_stays_out_of_verbose_success(tmp_path: Path) -> None:
    done = run(RELEASE + SECRET.encode(), "-v", profile=PROFILES)
    assert done.returncode == 0
    assert MARKER not in done.stderr.decode() and MARKER.encode() in done.stdout


# --- The log file, shells, loaders, plugin installs -------------------------------------------


def test_log_file_is_created_owner_only_even_with_umask_0(tmp_path: Path) -> None:
    log = tmp_path / "state" / "slinky-pr.log"
    old = os.umask(0)
    try:
        done = run(b"kind: [\n", "--log-file", str(log))
    finally:
        os.umask(old)
    assert done.returncode == EXIT_INPUT
    assert log.stat().st_mode & 0o777 == 0o600
    assert log.parent.stat().st_mode & 0o777 == 0o700
    assert "invalid YAML" in log.read_text()


def _python_sources() -> list[Path]:
    return sorted((ROOT / "postrender").rglob("*.py"))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


SHELL_CALLS = {
    "os.system",
    "os.popen",
    "os.execl",
    "os.execlp",
    "os.execle",
    "os.execv",
    "os.execvp",
    "os.execvpe",
    "os.spawnl",
    "os.spawnlp",
    "os.spawnv",
    "os.spawnvp",
    "os.posix_spawnp",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "pty.spawn",
}


def test_no_shell_anywhere_in_the_package() -> None:
    found = []
    for path in _python_sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            if name in SHELL_CALLS:
                found.append(f"{path.name}:{node.lineno} {name}")
            for keyword in node.keywords:
                shell_off = isinstance(keyword.value, ast.Constant) and not keyword.value.value
                if keyword.arg == "shell" and not shell_off:
                    found.append(f"{path.name}:{node.lineno} shell=")
    assert found == []
    assert _python_sources(), "the scan found no sources"


UNSAFE_YAML = {
    "yaml.load",  # only through a named safe loader, checked below
    "yaml.load_all",
    "yaml.unsafe_load",
    "yaml.unsafe_load_all",
    "yaml.full_load",
    "yaml.full_load_all",
    "yaml.Loader",
    "yaml.UnsafeLoader",
    "yaml.FullLoader",
    "yaml.CLoader",
    "yaml.CUnsafeLoader",
    "yaml.CFullLoader",
}


def test_yaml_is_only_loaded_safely() -> None:
    found = []
    for path in _python_sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and _dotted(node) in UNSAFE_YAML:
                found.append(f"{path.name}:{node.lineno} {_dotted(node)}")
            if isinstance(node, ast.ClassDef):
                bases = {_dotted(b) for b in node.bases if _dotted(b).startswith("yaml.")}
                if any("Loader" in b for b in bases) and not bases <= {
                    "yaml.SafeLoader",
                    "yaml.CSafeLoader",
                }:
                    found.append(f"{path.name}:{node.lineno} class {node.name}{bases}")
    assert found == []


def test_plugin_install_fetches_nothing_but_python_packages() -> None:
    scripts = [*(ROOT / "plugin").glob("*"), *(ROOT / "plugins").glob("*/bin/*")]
    assert scripts
    fetchers = re.compile(r"\b(curl|wget|git\s+clone|fetch|nc|scp|rsync)\b|https?://")
    for script in scripts:
        code = [
            line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")
        ]
        assert not [line for line in code if fetchers.search(line)], script
    install = (ROOT / "plugin" / "install.sh").read_text()
    assert "-m pip install" in install
