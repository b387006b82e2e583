"""`slinky lint` output a CI system can use: SARIF on repository files with the line of
the key, a valid document (SARIF, JSON, JUnit, GitHub) when lint cannot run, JUnit XML,
rule help as Markdown and terminal text, and colour only where it is wanted."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from postrender.lint import RULES, Finding
from postrender.lint.locate import in_chart, in_values, key_lines
from postrender.lint.report import rule_markdown, rule_terminal

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHART = ROOT / "testdata" / "charts" / "slinky-fixture"
PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"
RELEASE = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.3.0-rc1_gpu-cpu.yaml"
CIRCULATING = ROOT / "testdata" / "lint" / "circulating"
SARIF_SCHEMA = json.loads((ROOT / "testdata" / "lint" / "sarif-schema-2.1.0.json").read_text())


def slinky(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "HELM_COLOR", "HELM_BIN")}
    base["PATH"] = os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"])  # helm: the venv's
    return subprocess.run(
        [VENV_BIN / "slinky", *map(str, args)],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


CANNOT_RUN = {
    "missing profile": (["--config", "no-such-profiles.yaml", RELEASE], "no profile file"),
    "chart fails to render": (
        ["slinky", CHART, "--set-json", "nodesets={", "--config", PROFILES],
        "helm template failed",
    ),
    "two charts": ([CHART, "--chart", CHART, "--config", PROFILES], "two charts"),
}


@pytest.mark.parametrize("case", CANNOT_RUN)
def test_lint_that_cannot_run_writes_a_valid_document_saying_so(case: str) -> None:
    args, error = CANNOT_RUN[case]
    sarif = slinky("lint", *args, "--format", "sarif")
    assert sarif.returncode == 2 and error in sarif.stderr
    log = json.loads(sarif.stdout)
    jsonschema.validate(log, SARIF_SCHEMA)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert error in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert log["runs"][0]["results"] == []

    report = json.loads(slinky("lint", *args, "--format", "json").stdout)
    assert report["findings"] == [] and error in report["errors"][0]

    junit = ET.fromstring(slinky("lint", *args, "--format", "junit").stdout)
    assert junit.get("errors") == "1"
    assert error in junit.findall(".//error")[0].get("message", "")

    github = slinky("lint", *args, "--format", "github").stdout
    assert github.startswith("::error title=slinky lint could not run::")


def test_sarif_places_chart_findings_on_the_template_line_of_the_key() -> None:
    done = slinky(
        "lint", "slinky", CHART.relative_to(ROOT), "--config", PROFILES, "--format", "sarif"
    )
    assert done.returncode == 0, done.stderr
    log = json.loads(done.stdout)
    jsonschema.validate(log, SARIF_SCHEMA)
    results = log["runs"][0]["results"]
    assert results
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/") and (ROOT / uri).is_file(), uri  # a repository file
        line = (ROOT / uri).read_text().splitlines()[physical["region"]["startLine"] - 1]
        leaf = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].split(".")[-1]
        assert line.lstrip().startswith(f"{leaf}:"), (leaf, line)


def test_sarif_places_profile_and_cluster_findings_on_their_key_lines() -> None:
    inputs = CIRCULATING.relative_to(ROOT)
    done = slinky(
        "lint", RELEASE.relative_to(ROOT), "--config", inputs / "profiles.yaml",
        "--cluster-objects", inputs / "karpenter.yaml", "--format", "sarif",
    )  # fmt: skip
    log = json.loads(done.stdout)
    checked = 0
    for result in log["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        if not uri.startswith("testdata/lint/"):
            continue
        name = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        keys = [k for k in re.findall(r'\["?([^\]"]+)"?\]|([^.\[\]]+)', name)]
        leaf = next(a or b for a, b in reversed(keys) if not (a or b).isdigit())
        line = (ROOT / uri).read_text().splitlines()[physical["region"]["startLine"] - 1]
        assert leaf in line, (name, line)
        checked += 1
    assert checked >= 6


def test_junit_counts_failures_at_the_threshold_and_names_files() -> None:
    args = [RELEASE, "--config", CIRCULATING / "profiles.yaml", "--format", "junit"]
    args += ["--cluster-objects", CIRCULATING / "karpenter.yaml"]
    findings = json.loads(
        slinky("lint", *args[:3], "--cluster-objects", args[-1], "--format", "json").stdout
    )["findings"]
    for fail_on, failing in (("error", {"error"}), ("info", {"error", "warning", "info"})):
        suite = ET.fromstring(slinky("lint", *args, "--fail-on", fail_on).stdout).find("testsuite")
        assert suite is not None
        cases = suite.findall("testcase")
        expected = sum(1 for f in findings if f["severity"] in failing)
        assert suite.get("failures") == str(expected) == str(len(suite.findall(".//failure")))
        found_rules = {f["rule"] for f in findings}
        assert (
            len(cases)
            == len(findings) + len(RULES) - len(found_rules)
            == int(suite.get("tests", ""))
        )
        assert all(c.get("file") and c.get("line") for c in cases if c.find("failure") is not None)


def test_rule_help_is_markdown_in_sarif_and_plain_on_a_terminal() -> None:
    for rule_id, module in RULES.items():
        doc = module.__doc__ or ""
        markdown = rule_markdown(doc)
        prose = re.sub(r"```yaml\n.*?\n```", "", markdown, flags=re.S)
        assert "``" not in prose and "::\n" not in markdown, rule_id
        assert markdown.count("```yaml") == doc.count("::\n"), rule_id
        plain = rule_terminal(doc)
        assert "``" not in plain and "**" not in plain and "::\n" not in plain, rule_id
    shown = slinky("explain", "SPR-G002")
    assert shown.returncode == 0 and "PASS:" in shown.stdout
    assert "``" not in shown.stdout and "**" not in shown.stdout and "\x1b[" not in shown.stdout


def on_a_terminal(*args: str | Path, env: dict[str, str]) -> str:
    """stdout of `slinky ARGS` written to a pseudo-terminal, as a user's shell has it."""
    master, slave = pty.openpty()
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "HELM_COLOR", "TERM")}
    with subprocess.Popen(
        [VENV_BIN / "slinky", *map(str, args)], cwd=ROOT, env={**base, **env}, stdout=slave,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    ) as process:  # fmt: skip
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the process is done writing
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait()
    os.close(master)
    return b"".join(chunks).decode()


LINT = ["lint", RELEASE, "--config", PROFILES]


@pytest.mark.parametrize(
    ("env", "args", "coloured"),
    [
        ({"TERM": "xterm"}, LINT, True),
        ({"TERM": "xterm", "NO_COLOR": "1"}, LINT, False),
        ({"TERM": "xterm", "NO_COLOR": "1", "HELM_COLOR": "always"}, LINT, False),  # as Helm 4
        ({"TERM": "dumb"}, LINT, False),
        ({"TERM": "xterm", "HELM_COLOR": "never"}, LINT, False),
        ({"TERM": "xterm", "NO_COLOR": "1"}, [*LINT, "--color=always"], True),
        ({"TERM": "xterm"}, [*LINT, "--color", "never"], False),
        ({"TERM": "xterm"}, [*LINT, "--no-color"], False),
        ({"TERM": "xterm"}, ["--color", "never", *LINT], False),  # `helm --color never slinky`
        ({"TERM": "dumb"}, ["--colour=always", *LINT], True),
    ],
)
def test_colour_follows_flags_no_color_helm_color_and_term(
    env: dict[str, str], args: list[str | Path], coloured: bool
) -> None:
    out = on_a_terminal(*args, env=env)
    assert "no findings" in out or "info" in out
    assert ("\x1b[" in out) is coloured


def test_colour_when_helm_color_says_always_even_off_a_terminal() -> None:
    done = slinky("lint", RELEASE, "--config", PROFILES, env={"HELM_COLOR": "always"})
    assert "\x1b[" in done.stdout
    assert "\x1b[" not in slinky("lint", RELEASE, "--config", PROFILES).stdout


def test_key_line_is_found_by_object_identity_when_lines_moved(tmp_path: Path) -> None:
    """Post-rendering re-serializes changed documents, so an object's line in the stream
    lint read can differ from its line in the file; its identity still finds it."""
    stream = tmp_path / "release.yaml"
    stream.write_text(
        "kind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1'}\n---\n"
        "kind: NodeSet\nmetadata:\n  name: gpu\nspec:\n  replicas: 2\n  template:\n"
        "    spec:\n      tolerations: []\n"
    )
    moved = Finding(
        "m", "NodeSet/gpu", path="spec.template.spec.tolerations", file=str(stream), line=2
    )
    (located,) = key_lines([moved])
    assert stream.read_text().splitlines()[located.line - 1] == "      tolerations: []"
    quoted = moved.replace(path='spec["template"].spec.tolerations[0]', line=6)
    assert key_lines([quoted])[0].line == located.line


def test_sarif_places_a_field_set_in_a_values_file_on_its_line(tmp_path: Path) -> None:
    """A NodeSet field the user sets in a values file is fixed there: the alert lands on
    the last -f file that sets it (Helm merges them in order), at the line of the key."""
    overrides = tmp_path / "values-gpu.yaml"
    overrides.write_text(
        "nodesets:\n  gpu:\n    podSpec:\n      tolerations:\n"
        "        - {key: x, operator: Exists}\n"
    )
    chart = CHART.relative_to(ROOT)
    done = slinky(
        "lint", "slinky", chart, "-f", chart / "values.yaml", "-f", overrides,
        "--config", PROFILES, "--format", "sarif",
    )  # fmt: skip
    (result,) = json.loads(done.stdout)["runs"][0]["results"]
    physical = result["locations"][0]["physicalLocation"]
    assert Path(physical["artifactLocation"]["uri"]).resolve() == overrides
    assert physical["region"]["startLine"] == 4  # "      tolerations:"
    without = slinky("lint", "slinky", chart, "-f", chart / "values.yaml", "--config", PROFILES,
                     "--format", "sarif")  # fmt: skip
    (result,) = json.loads(without.stdout)["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    uri, line = location["artifactLocation"]["uri"], location["region"]["startLine"]
    assert uri == "testdata/charts/slinky-fixture/values.yaml"
    assert (ROOT / uri).read_text().splitlines()[line - 1].strip() == "tolerations: []"


def test_github_annotations_name_repository_files_relative_to_the_checkout() -> None:
    done = slinky(
        "lint", RELEASE, "--config", CIRCULATING / "profiles.yaml",
        "--cluster-objects", CIRCULATING / "karpenter.yaml", "--format", "github",
    )  # fmt: skip
    files = set(re.findall(r"file=([^,]+),", done.stdout))
    assert files == {
        "testdata/lint/circulating/profiles.yaml",
        "testdata/lint/circulating/karpenter.yaml",
    }


def test_a_values_file_too_deep_to_compose_leaves_the_finding_where_it_was(
    tmp_path: Path,
) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("nodesets: {gpu: {podSpec: {tolerations: " + "[" * 5000 + "]" * 5000 + "}}}\n")
    finding = Finding("m", "NodeSet/x", path="spec.template.spec.tolerations", source="s/t.yaml")
    assert in_values([finding], [str(deep)], {"NodeSet/x": "gpu"}) == [finding]


def test_a_source_comment_pointing_out_of_the_chart_is_not_followed() -> None:
    finding = Finding("m", "NodeSet/x", path="spec", source="slurm/../../../README.md")
    assert in_chart([finding], {"slurm": str(CHART)}) == [finding]
    inside = finding.replace(source="slurm/templates/nodeset/nodeset-cr.yaml")
    assert in_chart([inside], {"slurm": str(CHART)})[0].file is not None
