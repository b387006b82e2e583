"""`slinky lint` end to end: the circulating catalogue, suppressions, outputs, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.cli.slinky import slinky_main
from postrender.lint import RULES, LintConfig, lint, parse_config, rule_doc, run
from postrender.lint.context import LintContext
from postrender.lint.objects import Obj
from postrender.lint.report import github, json_report, sarif, text

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "testdata" / "upstream" / "rendered" / "slurm-1.3.0-rc1_gpu-cpu.yaml"
LINT = ROOT / "testdata" / "lint"
CIRCULATING = LINT / "circulating"
FIXED = LINT / "fixed"
FIXED_OBJECTS = [
    str(FIXED / f) for f in ("karpenter.yaml", "eksctl.yaml", "efa-device-plugin.yaml")
]
EXAMPLE_PROFILES = ROOT / "testdata" / "examples" / "profiles.yaml"


def lint_circulating() -> Any:
    return lint(
        RELEASE.read_text(),
        stream_file=str(RELEASE),
        profile_path=str(CIRCULATING / "profiles.yaml"),
        cluster_files=[str(CIRCULATING / "karpenter.yaml")],
    )


def lint_fixed(**kwargs: Any) -> Any:
    return lint(
        RELEASE.read_text(),
        stream_file=str(RELEASE),
        profile_path=str(EXAMPLE_PROFILES),
        cluster_files=FIXED_OBJECTS,
        **kwargs,
    )


# --- the partition catalogue as it circulates ----------------------------------------------

# (rule, object, text of the mistake, text of the fix in the hint)
CIRCULATING_MISTAKES = [
    ("SPR-I001", "Partition/gpu-partition", "p4dn.24xlarge", "p4d.24xlarge"),
    (
        "SPR-S004",
        "Partition/gpu-partition",
        "://vpc.amazonaws.com",
        "vpc.amazonaws.com/efa.present",
    ),
    ("SPR-K001", "NodePool/slurm-gpu-pool", "karpenter.sh/v1beta1", "karpenter.sh/v1"),
    ("SPR-K003", "NodePool/slurm-gpu-pool", "nodeClassRef", "group: karpenter.k8s.aws"),
    ("SPR-K002", "EC2NodeClass/gpu-nodeclass", "karpenter.aws", "karpenter.k8s.aws/v1"),
    ("SPR-K006", "EC2NodeClass/gpu-nodeclass", "AL2", "al2023"),
]


def test_circulating_catalogue_reports_each_mistake_exactly_once() -> None:
    result = lint_circulating()
    assert result.errors == []
    # Nothing else: no cascade of the same mistakes, no noise on the chart's own render.
    assert sorted((f.rule, f.object) for f in result.findings) == sorted(
        (rule, obj) for rule, obj, _, _ in CIRCULATING_MISTAKES
    )
    for rule, obj, mistake, fix in CIRCULATING_MISTAKES:
        [finding] = [f for f in result.findings if f.rule == rule and f.object == obj]
        assert mistake in f"{finding.message} {finding.path}"
        assert finding.hint and fix in finding.hint, finding
        assert finding.file and finding.line


def test_circulating_locations_point_into_the_inputs() -> None:
    lines = {f.rule: f.line for f in lint_circulating().findings}
    profile = (CIRCULATING / "profiles.yaml").read_text().splitlines()
    karpenter = (CIRCULATING / "karpenter.yaml").read_text().splitlines()
    # the line of the finding's key, not of the object or profile entry holding it
    assert profile[lines["SPR-I001"] - 1].strip() == 'instance_types: ["p4dn.24xlarge"]'
    assert karpenter[lines["SPR-K001"] - 1] == "apiVersion: karpenter.sh/v1beta1"
    assert karpenter[lines["SPR-K002"] - 1] == "apiVersion: karpenter.aws/v1beta1"
    assert karpenter[lines["SPR-K003"] - 1].strip().startswith("nodeClassRef:")


def test_fixed_catalogue_is_clean_and_post_rendered() -> None:
    result = lint_fixed()
    assert result.post_rendered
    assert [(f.rule, f.severity) for f in result.findings] == [("SPR-O002", "info")]
    assert not result.fails("warning") and result.fails("info")


def test_an_unknown_type_in_a_nodepool_is_reported_once(tmp_path: Path) -> None:
    # Not also as "no NodePool satisfies kubernetes.io/os=linux" for every NodeSet.
    pool = tmp_path / "pool.yaml"
    pool.write_text((FIXED / "karpenter.yaml").read_text().replace("p4d.24xlarge", "p4dn.24xlarge"))
    default = RELEASE.with_name("slurm-1.3.0-rc1_default.yaml")
    result = lint(default.read_text(), cluster_files=[str(pool)])
    assert [(f.rule, f.object) for f in result.findings] == [
        ("SPR-I001", "NodePool/slurm-gpu-pool")
    ]


def test_lint_reads_the_post_rendered_release(tmp_path: Path) -> None:
    # The profile asks for 2 p4d nodes with 8 GPUs; the pool allows 8 GPUs in all. Only the
    # post-rendered NodeSet says so (the chart's own render has no GPU at all).
    pools = yaml.safe_load_all((FIXED / "karpenter.yaml").read_text())
    docs = list(pools)
    docs[0]["spec"]["limits"] = {"nvidia.com/gpu": 8}
    path = tmp_path / "pools.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = lint(
        RELEASE.read_text(),
        profile_path=str(EXAMPLE_PROFILES),
        cluster_files=[str(path), *FIXED_OBJECTS[1:]],
    )
    [finding] = [f for f in result.findings if f.rule == "SPR-K007"]
    assert "need 16" in finding.message and finding.object == "NodePool/slurm-gpu-pool"


# --- suppression ---------------------------------------------------------------------


def test_annotation_suppresses_on_the_object_only(tmp_path: Path) -> None:
    text_in = RELEASE.read_text().replace(
        "    slinky-pr/partition: gpu-partition\n",
        "    slinky-pr/partition: gpu-partition\n    slinky-pr/lint-ignore: SPR-O002, spr-g002\n",
        1,
    )
    result = lint(text_in, profile_path=str(EXAMPLE_PROFILES), cluster_files=FIXED_OBJECTS)
    assert result.findings == [] and result.suppressed == 1


def test_profile_partition_annotations_suppress(tmp_path: Path) -> None:
    profiles = EXAMPLE_PROFILES.read_text().replace(
        "        nodes: 2\n",
        "        nodes: 2\n        annotations: {slinky-pr/lint-ignore: SPR-O002}\n",
        1,
    )
    path = tmp_path / "profiles.yaml"
    path.write_text(profiles)
    result = lint(RELEASE.read_text(), profile_path=str(path), cluster_files=FIXED_OBJECTS)
    assert result.findings == [] and result.suppressed == 1


def test_lint_config_ignores_rules_and_objects_and_overrides_severity() -> None:
    known = list(RULES)
    config = parse_config(
        "ignore: [SPR-K001]\n"
        "ignore_objects:\n  SPR-K006: ['EC2NodeClass/*']\n"
        "severity: {SPR-I001: warning}\n",
        known,
    )
    result = run_with(config)
    rules = {f.rule: f.severity for f in result.findings}
    assert "SPR-K001" not in rules and "SPR-K006" not in rules
    assert rules["SPR-I001"] == "warning"
    assert result.suppressed == 1  # ignored rules do not run; ignored objects are counted


def run_with(config: LintConfig) -> Any:
    from postrender.lint.runner import build_context

    ctx = build_context(
        RELEASE.read_text(),
        profile_path=str(CIRCULATING / "profiles.yaml"),
        cluster_files=[str(CIRCULATING / "karpenter.yaml")],
    )
    return run(ctx, config)


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("ignore: [SPR-K01]", "did you mean SPR-K001?"),
        ("ignores: []", "unknown key 'ignores'"),
        ("severity: {SPR-K001: fatal}", "is not one of error, warning, info"),
        ("- a list", "must be a map"),
    ],
)
def test_bad_lint_config_is_refused(config: str, needle: str) -> None:
    from postrender.errors import SlinkyError

    with pytest.raises(SlinkyError) as caught:
        parse_config(config, list(RULES))
    assert needle in caught.value.format()


def test_generic_findings_give_way_to_specific_ones(tmp_path: Path) -> None:
    # The CRD schema rejects a multi-line partition config too; SPR-C006 says it better.
    release = (
        "apiVersion: slinky.slurm.net/v1beta1\nkind: NodeSet\nmetadata: {name: w}\n"
        'spec:\n  controllerRef: {name: s}\n  partition: {enabled: true, config: "A=1\\n"}\n'
    )
    rules = [f.rule for f in lint(release).findings]
    assert rules == ["SPR-C006"]


# --- never crash ---------------------------------------------------------------------

_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70000) | st.sampled_from(["", "x", "a b", "8"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "spec",
                    "template",
                    "metadata",
                    "labels",
                    "nodeSelector",
                    "tolerations",
                    "extraConf",
                    "slurmd",
                    "resources",
                    "limits",
                    "requests",
                    "nvidia.com/gpu",
                    "vpc.amazonaws.com/efa",
                    "requirements",
                    "key",
                    "operator",
                    "values",
                    "taints",
                    "effect",
                    "disruption",
                    "nodeClassRef",
                    "partition",
                    "config",
                    "managedNodeGroups",
                    "instanceType",
                    "annotations",
                    "replicas",
                    "data",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
_KINDS = [
    ("slinky.slurm.net/v1beta1", "NodeSet"),
    ("slinky.slurm.net/v1beta1", "Controller"),
    ("karpenter.sh/v1", "NodePool"),
    ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    ("eksctl.io/v1alpha5", "ClusterConfig"),
    ("apps/v1", "DaemonSet"),
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_KINDS), _VALUES, _VALUES), min_size=1, max_size=4))
def test_rules_never_crash_on_odd_objects(docs: list[Any]) -> None:
    objects = []
    for i, ((api, kind), spec, extra) in enumerate(docs):
        body = {"apiVersion": api, "kind": kind, "metadata": {"name": f"o{i}"}, "spec": spec}
        if isinstance(extra, dict):
            body.update({k: v for k, v in extra.items() if k not in ("apiVersion", "kind")})
        objects.append(Obj(body, "in.yaml", 1, None))
    result = run(LintContext(release=objects, cluster_objects=objects))
    assert result.errors == []


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Any:
    yield path
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        yield from _paths(child, (*path, key))


def test_rules_never_crash_on_damaged_real_objects() -> None:
    """Every object of the rule cases, with random fields replaced by values of another type."""
    import copy
    import random

    docs = [
        doc
        for path in sorted((LINT / "rules").glob("*.yaml"))
        for verdict in ("pass", "fail")
        for case in yaml.safe_load(path.read_text()).get(verdict) or []
        for key in ("release", "cluster")
        if isinstance(case.get(key), list)
        for doc in case[key]
    ]
    odd: list[Any] = [None, True, -1, "", "a b", [], {}, [None], {"key": None}]
    rng = random.Random(7)
    for _ in range(300):
        sample = []
        for _ in range(rng.randint(1, 4)):
            doc = copy.deepcopy(rng.choice(docs))
            for _ in range(2):  # paths are listed afresh: a damaged parent has new children
                spots = [p for p in _paths(doc) if p and p[0] not in ("apiVersion", "kind")]
                *parents, last = rng.choice(spots)
                node = doc
                for key in parents:
                    node = node[key]
                node[last] = copy.deepcopy(rng.choice(odd))
            sample.append(Obj(doc, "in.yaml", 1, None))
        assert run(LintContext(release=sample, cluster_objects=sample)).errors == []


def test_a_crashing_rule_is_reported_and_the_others_still_run() -> None:
    import types

    broken = types.ModuleType("broken")
    broken.ID, broken.SEVERITY = "SPR-X999", "error"  # type: ignore[attr-defined]

    def check(ctx: LintContext) -> Any:
        raise RuntimeError("boom")

    broken.check = check  # type: ignore[attr-defined]
    from postrender.lint.runner import build_context

    ctx = build_context(RELEASE.read_text(), cluster_files=[str(CIRCULATING / "karpenter.yaml")])
    result = run(ctx, rules={**RULES, "SPR-X999": broken})
    assert result.errors == ["rule SPR-X999 failed: RuntimeError('boom')"]
    assert {f.rule for f in result.findings} >= {"SPR-K001", "SPR-K002"}


# --- outputs -------------------------------------------------------------------------


def test_text_groups_by_object_and_colours_only_when_asked() -> None:
    result = lint_circulating()
    plain = text(result)
    assert "\x1b[" not in plain
    assert plain.count("NodePool/slurm-gpu-pool") == 1  # one header, two findings below
    assert "hint: did you mean p4d.24xlarge" in plain
    assert plain.rstrip().endswith(
        "6 errors, 0 warnings, 0 info; release linted without post-rendering"
    )
    assert "\x1b[31merror" in text(result, colour=True)


def test_json_output() -> None:
    data = json.loads(json_report(lint_circulating()))
    assert data["summary"] == {"error": 6, "warning": 0, "info": 0, "suppressed": 0}
    assert {f["rule"] for f in data["findings"]} >= {"SPR-I001", "SPR-K006"}


def test_sarif_validates_against_the_sarif_2_1_0_schema() -> None:
    schema = json.loads((LINT / "sarif-schema-2.1.0.json").read_text())
    for result in (lint_circulating(), lint_fixed()):
        log = json.loads(sarif(result, RULES))
        jsonschema.validators.validator_for(schema)(schema).validate(log)
        run_ = log["runs"][0]
        assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == list(RULES)
        for entry in run_["results"]:
            assert run_["tool"]["driver"]["rules"][entry["ruleIndex"]]["id"] == entry["ruleId"]


def test_github_annotations() -> None:
    lines = github(lint_circulating()).splitlines()
    assert len(lines) == 6
    first = lines[0]
    assert re.match(
        r"::error file=.*profiles.yaml,line=12,title=SPR-I001 Partition/gpu-partition::", first
    )


# --- documentation -------------------------------------------------------------------


@pytest.mark.parametrize("rule_id", list(RULES))
def test_rule_module_declares_and_documents_itself(rule_id: str) -> None:
    module = RULES[rule_id]
    assert rule_id == module.ID and re.fullmatch(r"SPR-[PIGESKCO]\d{3}", rule_id)
    assert module.SEVERITY in ("error", "warning", "info")
    doc = rule_doc(rule_id)
    assert doc is not None
    for section in ("**What.**", "**Why.**", "**Options.**", "PASS::", "FAIL::"):
        assert section in doc, f"{rule_id} doc lacks {section}"


def test_rule_doc_is_case_insensitive_and_none_for_unknown_rules() -> None:
    assert rule_doc("spr-g002") == rule_doc("SPR-G002")
    assert rule_doc("SPR-Z000") is None


# --- the command line ----------------------------------------------------------------


def cli(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(slinky_main, ["lint", *args], input=stdin)


def test_cli_list_rules() -> None:
    done = cli("--list-rules")
    assert done.exit_code == 0
    assert [line.split()[0] for line in done.output.splitlines()] == list(RULES)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], 1),
        (["--fail-on", "warning"], 1),
        (["--lint-config", str(LINT / "circulating" / "README.md")], 2),
    ],
)
def test_cli_exit_codes_circulating(args: list[str], code: int) -> None:
    done = cli(
        str(RELEASE),
        "--config",
        str(CIRCULATING / "profiles.yaml"),
        "--cluster-objects",
        str(CIRCULATING / "karpenter.yaml"),
        *args,
    )
    assert done.exit_code == code, done.output


def test_cli_fixed_is_clean_unless_failing_on_info() -> None:
    objects = [arg for path in FIXED_OBJECTS for arg in ("--cluster-objects", path)]
    base = [str(RELEASE), "--config", str(EXAMPLE_PROFILES), *objects]
    assert cli(*base).exit_code == 0
    assert cli(*base, "--fail-on", "info").exit_code == 1


def test_cli_reads_stdin() -> None:
    default = RELEASE.with_name("slurm-1.3.0-rc1_default.yaml").read_text()
    done = cli("-", "--format", "json", stdin=default)
    assert done.exit_code == 0 and json.loads(done.output)["findings"] == []
    # The gpu-cpu render carries slinky-pr/partition annotations: a profile is needed.
    done = cli("--format", "github", stdin=RELEASE.read_text())
    assert done.exit_code == 1 and "no profile was given" in done.output


@pytest.mark.parametrize(
    "args",
    [
        ["/nonexistent.yaml"],
        [str(RELEASE), "--config", "/nonexistent.yaml"],
        [str(RELEASE), "--cluster-objects", "/nonexistent.yaml"],
        [str(RELEASE), "--format", "xml"],
    ],
    ids=["no-stream", "no-profile", "no-cluster-objects", "bad-format"],
)
def test_cli_could_not_run(args: list[str]) -> None:
    assert cli(*args).exit_code == 2


def test_cli_unreadable_stream_is_could_not_run() -> None:
    done = cli("-", stdin="kind: [\n")
    assert done.exit_code == 2 and "invalid YAML" in done.output


@pytest.mark.parametrize("form", ["--chart CHART", "CHART"])
def test_cli_renders_a_chart(form: str) -> None:
    pytest.importorskip("helm_python")
    chart = str(ROOT / "testdata" / "charts" / "slinky-fixture")
    args = ["--chart", chart] if form.startswith("--") else [chart]
    done = cli(*args, "--config", str(EXAMPLE_PROFILES), "--set", "shape=1.0", "--format", "json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["post_rendered"] and report["findings"]
    assert {f["source"] for f in report["findings"]} == {"slurm/templates/nodeset/nodeset-cr.yaml"}


def test_cli_two_charts_is_a_usage_error() -> None:
    chart = str(ROOT / "testdata" / "charts" / "slinky-fixture")
    done = cli(chart, "--chart", chart)
    assert done.exit_code == 2 and "two charts" in done.output


def test_slinky_explain_shows_a_rule_doc() -> None:
    from click.testing import CliRunner

    from postrender.cli.slinky import slinky_main

    shown = CliRunner().invoke(slinky_main, ["explain", "SPR-G002"])
    assert shown.exit_code == 0 and "PASS" in shown.output and "FAIL" in shown.output
    unknown = CliRunner().invoke(slinky_main, ["explain", "SPR-X999"])
    assert unknown.exit_code == 2 and "no lint rule" in unknown.output
