"""Hostile input that Kubernetes reads: shapes the CRDs leave unchecked, YAML scalars whose
meaning must survive for Kubernetes, valid manifests that must pass through, stdout that
carries nothing but the stream, output Kubernetes would reject, and the verify command.

The stream cases run the real ``python -m postrender`` as Helm does (``test_hostile.run``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hostile import PROFILES, RELEASE, assert_refused, run

from postrender.errors import EXIT_INVALID, EXIT_PLAN, EXIT_PROFILE

GPU_NODESET = RELEASE.index(b"name: slinky-slurm-worker-gpu")


def _in_gpu_nodeset(old: bytes, new: bytes) -> bytes:
    """The example release with ``old`` replaced by ``new`` in the targeted GPU NodeSet."""
    at = RELEASE.index(old, GPU_NODESET)
    return RELEASE[:at] + new + RELEASE[at + len(old) :]


SELECTOR = b'      nodeSelector:\n        kubernetes.io/os: linux\n      priorityClassName: ""'
SLURMD_RESOURCES = b"    resources: {}\n    volumeMounts"
TOLERATIONS = b"      tolerations: []\n      volumes"

# Each of these ended in a traceback (exit 70): the NodeSet CRD leaves the pod template's
# spec and slurmd unchecked, and the transforms took their shapes for granted.
BAD_SHAPES = [
    ("tolerations-scalar", TOLERATIONS, b"      tolerations: x\n      volumes",
     "spec.template.spec.tolerations: must be a list, not a string"),
    ("toleration-not-a-map", TOLERATIONS, b"      tolerations: [1]\n      volumes",
     "spec.template.spec.tolerations[0]: a toleration must be a map, not the int 1"),
    ("node-selector-list", SELECTOR, b'      nodeSelector: [a]\n      priorityClassName: ""',
     "spec.template.spec.nodeSelector: must be a map, not a list"),
    ("resources-list", SLURMD_RESOURCES, b"    resources: []\n    volumeMounts",
     "spec.slurmd.resources: must be a map, not a list"),
    ("resources-string", SLURMD_RESOURCES, b'    resources: "x"\n    volumeMounts',
     "spec.slurmd.resources: must be a map, not a string"),
    ("limits-list", SLURMD_RESOURCES, b"    resources: {limits: [1]}\n    volumeMounts",
     "spec.slurmd.resources.limits: must be a map, not a list"),
    ("requests-list", SLURMD_RESOURCES, b"    resources: {requests: [1]}\n    volumeMounts",
     "spec.slurmd.resources.requests: must be a map, not a list"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "needle"), [c[1:] for c in BAD_SHAPES], ids=[c[0] for c in BAD_SHAPES]
)
def test_targeted_nodeset_of_the_wrong_shape_is_a_clean_error(
    old: bytes, new: bytes, needle: str
) -> None:
    done = run(_in_gpu_nodeset(old, new), profile=PROFILES)
    err = assert_refused(done, EXIT_INVALID, "NodeSet/slinky-slurm-worker-gpu", needle)
    assert err.startswith("the rendered release is not valid")


def test_gres_conf_configmap_without_a_name_is_a_clean_error() -> None:
    nameless = b"---\napiVersion: v1\nkind: ConfigMap\ndata:\n  gres.conf: AutoDetect=nvidia\n"
    done = run(RELEASE + nameless, profile=PROFILES)
    assert_refused(done, EXIT_PLAN, "ConfigMap/", "at metadata.name", "gres.conf")


# --- YAML meaning for Kubernetes (item 2) ------------------------------------------------
# Kubernetes reads YAML with go-yaml v2 (sigs.k8s.io/yaml): "y"/"n" are booleans, "1e3" and
# "08" floats, "0o17" and "0X1F" integers, and "10:30" or a date is the string it is.
# tests/e2e/test_kube_yaml.py holds this against the real reader; these are the known cases.

KUBE_MEANING = [
    ("y", True), ("Y", True), ("n", False), ("N", False), ("yes", True), ("off", False),
    ("1e3", 1000.0), ("1.0e5", 100000.0), ("08", 8.0), ("0o17", 15), ("0X1F", 31),
    ("1_000", 1000), ("-0b101", -5), ("10:30", "10:30"), ("1:30.5", "1:30.5"),
    ("2024-01-01", "2024-01-01"), ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("0000-00-00", "0000-00-00"), ("2024-02-30", "2024-02-30"), ("0x_", "0x_"), ("=", "="),
    ("<<", "<<"), ("1e400", "1e400"), ("1_0e400", "1_0e400"), ("1.2.3", "1.2.3"), ("~", None),
    ("", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"), KUBE_MEANING, ids=[c[0] or "empty" for c in KUBE_MEANING]
)
def test_plain_scalars_mean_what_they_mean_to_kubernetes(text: str, value: object) -> None:
    from postrender.yaml import pyyaml as pyyaml_io
    from postrender.yaml import scalars

    assert scalars.kube_plain(text) == value and type(scalars.kube_plain(text)) is type(value)
    body = pyyaml_io.parse(f"kind: A\nv: {text}\n", 1, 10**6, 100, 10**6)[0]  # PyYAML's path
    assert body["v"] == value and type(body["v"]) is type(value)


SPELLINGS = [c[0] for c in KUBE_MEANING if c[0]] + ["0o17x", "+1", "-.5", ".5", "0b2", "1__0"]


def _rewritten(text: str) -> str:
    from postrender.yaml.stream import read_stream, write_stream

    stream = read_stream(text)
    for doc in stream.documents:
        doc.changed = True
    return write_stream(stream)


def test_rewritten_documents_keep_every_scalars_meaning() -> None:
    import yaml

    from postrender.yaml.stream import read_stream

    quoted = "".join(f'  q{i}: "{s}"\n' for i, s in enumerate(SPELLINGS))
    plain = "".join(f"  p{i}: {s}\n" for i, s in enumerate(SPELLINGS))
    text = f"kind: ConfigMap\nq:\n{quoted}p:\n{plain}"
    out = _rewritten(text)
    before, after = read_stream(text).documents[0].body, read_stream(out).documents[0].body
    assert after == before  # as Kubernetes reads both
    assert all(type(after["p"][k]) is type(v) for k, v in before["p"].items())
    # Every string is quoted where YAML 1.1 (PyYAML) would read another type, too.
    reread = yaml.safe_load(out)
    for key, value in before["q"].items():
        assert reread["q"][key] == value, (key, out)


# YAML 1.2.2's core schema, tag resolution (section 10.3.2): what a 1.2 reader makes of a
# plain scalar other than a string.
YAML12_NOT_STRING = re.compile(
    r"null|Null|NULL|~|true|True|TRUE|false|False|FALSE"
    r"|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN"
)


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from("0123456789-+._:eExXoObBinfaINFNAtTzZ ~yYlLuUrs"), min_size=1))
def test_strings_a_yaml_12_reader_would_read_otherwise_are_quoted(text: str) -> None:
    from postrender.yaml import scalars

    if YAML12_NOT_STRING.fullmatch(text):
        assert not scalars.reads_as_string(text)


def test_plain_time_and_date_are_not_converted_on_rewrite() -> None:
    out = _rewritten("kind: A\nat: 10:30\nday: 2024-01-01\nwhen: 2001-12-14 21:59:43.10\n")
    assert out == 'kind: A\nat: "10:30"\nday: "2024-01-01"\nwhen: "2001-12-14 21:59:43.10"\n'


def test_profile_label_values_that_look_like_other_types_stay_strings(tmp_path: Path) -> None:
    profile = tmp_path / "profiles.yaml"
    selector = "nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool"
    extra = ', gpu: "y", n: "1e3", v: "08"'
    profile.write_text(PROFILES.read_text().replace(selector, selector + extra, 1))
    done = run(RELEASE, profile=profile)
    assert done.returncode == 0, done.stderr.decode()
    for line in (b'gpu: "y"', b'"n": "1e3"', b'v: "08"'):
        assert line in done.stdout


# --- Valid manifests pass through (item 3) ----------------------------------------------

VALID = [
    ("equals-value", b"a: =\n"),
    ("merge-value", b"a: <<\n"),
    ("impossible-dates", b"kind: A\nd: 0000-00-00\ne: 2024-02-30\n"),
    ("hex-without-digits", b"kind: A\nx: 0x_\n"),
    ("5000-digit-number", b"kind: A\nn: 1" + b"0" * 5000 + b"\n"),
    ("sexagesimal-looking", b"kind: A\nt: 10:30\nu: 1:30.5\n"),
]


@pytest.mark.parametrize("profile", [None, PROFILES], ids=["no-profile", "profile"])
@pytest.mark.parametrize("stdin", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_manifests_slinky_pr_does_not_change_pass_through(
    stdin: bytes, profile: Path | None
) -> None:
    done = run(stdin, profile=profile)
    assert (done.returncode, done.stdout, done.stderr) == (0, stdin, b"")


@pytest.mark.parametrize("extra", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_manifests_pass_through_beside_a_patched_release(extra: bytes) -> None:
    done = run(RELEASE + b"---\n" + extra, profile=PROFILES)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Gres=gpu:a100:8" in done.stdout and b"---\n" + extra in done.stdout


# --- Nothing but the manifest stream on stdout (item 6) -----------------------------------


def _stderr_closed(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The real post-renderer started with file descriptor 2 closed (``2>&-``)."""
    return subprocess.run(
        [sys.executable, "-m", "postrender", *args],
        input=stdin,
        stdout=subprocess.PIPE,
        preexec_fn=lambda: os.close(2),
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("stdin", "args", "code"),
    [
        (b"kind: [\n", [], 3),
        (RELEASE, ["--config", "/nonexistent/profiles.yaml"], 4),
        (RELEASE, ["--max-input-bytes", "0"], 2),
        (_in_gpu_nodeset(TOLERATIONS, b"      tolerations: x\n      volumes"),
         ["-c", str(PROFILES)], 6),
    ],
    ids=["unreadable-stream", "missing-profile", "usage", "invalid-release"],
)  # fmt: skip
def test_errors_never_reach_stdout_with_stderr_closed(
    stdin: bytes, args: list[str], code: int
) -> None:
    done = _stderr_closed(stdin, *args)
    assert (done.returncode, done.stdout) == (code, b"")


def test_verbose_changes_never_reach_stdout() -> None:
    plain = run(RELEASE, profile=PROFILES)
    verbose = run(RELEASE, "-v", profile=PROFILES)
    closed = _stderr_closed(RELEASE, "-v", "--config", str(PROFILES))
    assert plain.returncode == verbose.returncode == closed.returncode == 0
    assert b"nodeSelector karpenter.sh/nodepool" in verbose.stderr  # the change list
    assert verbose.stdout == closed.stdout == plain.stdout


# --- Memory linear in partitions and NodeSets (item 5) ------------------------------------


def _partitions(count: int, nodesets: str = "nodesets: [gpu], ") -> str:
    rows = "".join(
        f"      - {{name: p{i}, {nodesets.format(i=i)}options: {{MaxTime: 30}}}}\n"
        for i in range(count)
    )
    return "clusters:\n  - name: slinky-cluster\n    partitions:\n" + rows


def _own_nodesets(count: int) -> bytes:
    """The example Controller and ``count`` small NodeSets, each in its own partition."""
    controller = RELEASE.split(b"\n---\n")[0] + b"\n"
    nodeset = (
        "---\napiVersion: slinky.slurm.net/v1beta1\nkind: NodeSet\nmetadata:\n  name: w{i}\n"
        "  annotations: {{slinky-pr/partition: p{i}}}\nspec:\n  controllerRef: {{name: x}}\n"
        "  template:\n    spec:\n      hostname: n{i}-\n"
    )
    return controller + "".join(nodeset.format(i=i) for i in range(count)).encode()


@pytest.mark.parametrize(
    ("stdin", "profile_text"),
    [
        # Before: every PartitionName line kept the whole extraConf so far (~0.5 GB here).
        (RELEASE.replace(b"slinky-pr/partition", b"x-not-targeted"), _partitions(5000)),
        (_own_nodesets(5000), _partitions(5000, nodesets="")),
    ],
    ids=["5000-partitions-one-nodeset", "5000-nodesets-own-partitions"],
)
def test_memory_is_linear_in_partitions(tmp_path: Path, stdin: bytes, profile_text: str) -> None:
    from test_hostile import measured

    profile = tmp_path / "profiles.yaml"
    profile.write_text(profile_text)
    done = measured(stdin, "--config", str(profile))
    assert done.returncode == 0, done.stderr
    assert done.stdout_bytes > len(stdin)
    assert done.max_rss_mib < 120


# --- Output Kubernetes would reject (item 8) ----------------------------------------------


def test_gres_configmap_name_over_253_characters_is_refused() -> None:
    long = b"c" * 250  # a valid Controller name; "-gres-conf" makes it 260
    stdin = RELEASE.replace(b"  name: slinky-slurm\n", b"  name: " + long + b"\n", 1)
    stdin = stdin.replace(
        b"controllerRef:\n    name: slinky-slurm", b"controllerRef:\n    name: " + long
    )
    done = run(stdin, profile=PROFILES)
    assert_refused(done, EXIT_PLAN, "at metadata.name", "260 characters", "allows 253")


def _profile_with(selector_extra: str, tmp_path: Path) -> Path:
    selector = "nodeSelector: {karpenter.sh/nodepool: slurm-gpu-pool}"
    path = tmp_path / "profiles.yaml"
    path.write_text(PROFILES.read_text().replace(selector, selector + selector_extra, 1))
    return path


def test_pod_annotations_over_256_kib_are_refused(tmp_path: Path) -> None:
    profile = _profile_with(
        "\n        annotations: {example.com/big: " + "x" * 300_000 + "}", tmp_path
    )
    done = run(RELEASE, profile=profile)
    assert_refused(
        done, EXIT_INVALID, "at spec.template.metadata.annotations", "over Kubernetes' limit"
    )


@pytest.mark.parametrize("seconds", ["100000000000000000000000", "1.0e+23", "-9223372036854775809"])
def test_toleration_seconds_beyond_int64_are_refused(tmp_path: Path, seconds: str) -> None:
    old = "{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}"
    new = (
        f"{{key: nvidia.com/gpu, operator: Exists, effect: NoExecute, tolerationSeconds: {seconds}"
    )
    new += "}"
    profile = tmp_path / "profiles.yaml"
    profile.write_text(PROFILES.read_text().replace(old, new))
    assert_refused(
        run(RELEASE, profile=profile), EXIT_PROFILE, "tolerationSeconds", "9223372036854775"
    )


def test_chart_toleration_seconds_beyond_int64_are_refused() -> None:
    toleration = b"      tolerations: [{key: a, operator: Exists, effect: NoExecute, "
    toleration += b"tolerationSeconds: 1e23}]\n"
    done = run(_in_gpu_nodeset(TOLERATIONS, toleration + b"      volumes"), profile=PROFILES)
    assert_refused(done, EXIT_INVALID, "tolerations[0].tolerationSeconds", "64-bit integer")


# --- slinky verify, names in messages, the log file (item 9) -------------------------------


@pytest.mark.parametrize(
    "option",
    ["--pod=--server=https://x", "--namespace=--kubeconfig=/tmp/k", "--container=-it"],
)
def test_verify_refuses_names_kubectl_would_read_as_flags(tmp_path: Path, option: str) -> None:
    from click.testing import CliRunner

    from postrender.cli.slinky import slinky_main

    ran = tmp_path / "kubectl-ran"
    shim = tmp_path / "kubectl.py"
    shim.write_text(f"open({str(ran)!r}, 'w').write('ran')\n")
    args = ["verify", "-c", str(PROFILES), "--kubectl", f"{sys.executable} {shim}", option]
    result = CliRunner().invoke(slinky_main, args)
    assert result.exit_code == 2, result.output
    assert "is not a Kubernetes name" in result.output
    assert not ran.exists()


def test_control_characters_in_names_are_escaped_in_stderr_and_the_log(tmp_path: Path) -> None:
    forged = b'"evil\\e[2J\\rslinky-pr: all good\\n--- 2026-12-06T00:00:00 pid 1"'
    stdin = _in_gpu_nodeset(TOLERATIONS, b"      tolerations: x\n      volumes")
    stdin = stdin.replace(b"name: slinky-slurm-worker-gpu", b"name: " + forged, 1)
    log = tmp_path / "pr.log"
    done = run(stdin, "--log-file", str(log), profile=PROFILES)
    assert done.returncode == EXIT_INVALID and done.stdout == b""
    for text in (done.stderr.decode(), log.read_text()):
        assert "\x1b" not in text and "\r" not in text
        assert "\n--- 2026-12-06" not in text  # no forged log entry
        assert "NodeSet/evil\\x1b[2J\\rslinky-pr: all good\\n--- 2026-12-06" in text


def test_a_fifo_as_log_file_does_not_hang_the_error_path(tmp_path: Path) -> None:
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    done = run(b"kind: [\n", "--log-file", str(fifo))  # nobody reads the FIFO
    assert_refused(done, 3, "invalid YAML")
    assert "also written to" not in done.stderr.decode()
