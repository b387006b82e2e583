"""Run the lint: inputs → context → every rule → suppressions → sorted findings.

Lint never stops at the first bad input. A profile that does not load, or that the
post-renderer cannot apply, becomes findings and the chart's own render is linted instead.
Only input that cannot be read at all (a missing file, a stream that is not YAML) stops it:
that raises :class:`~postrender.errors.SlinkyError` ("could not run", exit 2).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType

from postrender.errors import EXIT_INPUT, Problem, SlinkyError
from postrender.lint.config import LintConfig
from postrender.lint.context import LintContext
from postrender.lint.finding import SEVERITIES, Finding, at_least
from postrender.lint.locate import key_lines
from postrender.lint.objects import Obj, index_stream
from postrender.lint.rules import RULES
from postrender.model.profiles import Profile, load_profile
from postrender.yaml.stream import decode, read_stream


@dataclass
class LintResult:
    """What a lint run found."""

    findings: list[Finding]
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)  # rules that crashed: a bug, exit 2
    post_rendered: bool = False

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def fails(self, threshold: str) -> bool:
        """Whether any finding is at ``threshold`` or more severe."""
        return any(at_least(f.severity, threshold) for f in self.findings)

    @property
    def summary(self) -> dict[str, int]:
        return {**{s: self.count(s) for s in SEVERITIES}, "suppressed": self.suppressed}


def read_objects(path: str) -> list[Obj]:
    """Every object of a YAML file (several documents, ``kind: List`` items one by one)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise SlinkyError(
            [Problem(f"cannot read {path}: {exc.strerror}")], EXIT_INPUT, "cannot read input"
        ) from None
    try:
        return list(index_stream(read_stream(decode(data)), path))
    except SlinkyError as exc:
        exc.title = f"cannot read {path}"
        raise


def _profile(path: str | None, cluster: str | None) -> tuple[Profile | None, list[Problem]]:
    if path is None:
        return None, []
    if not os.path.isfile(path):
        raise SlinkyError(
            [Problem(f"no profile file {path}")], EXIT_INPUT, "cannot read the profile"
        )
    try:
        return load_profile(path, cluster), []
    except SlinkyError as exc:
        return None, _without_cascades(exc.problems)


def _without_cascades(problems: list[Problem]) -> list[Problem]:
    """Drop "auto needs instance_types" where the partition's instance types are unknown.

    profiles.py resolves ``gres``/``efa_count: auto`` from the known types only, so one
    misspelt type (``p4dn.24xlarge``) would be reported a second time through them.
    """
    unknown = {p.profile for p in problems if "instance_types[" in (p.path or "")}
    return [
        p for p in problems if not (p.profile in unknown and "needs instance_types" in p.message)
    ]


def build_context(
    text: str | None,
    *,
    stream_file: str | None = "-",
    profile_path: str | None = None,
    cluster: str | None = None,
    cluster_files: Sequence[str] = (),
    rules: Mapping[str, ModuleType] = RULES,
) -> LintContext:
    """Read every input once and post-render the release when the profile applies."""
    from postrender.apply import apply
    from postrender.pipeline import plan, post_render, untargeted

    profile, profile_problems = _profile(profile_path, cluster)
    cluster_objects = [obj for path in cluster_files for obj in read_objects(path)]
    stream = read_stream(text or "")
    post_rendered, plan_problems = False, []
    if profile is not None:
        # Planning leaves the stream alone; only a whole plan is applied, so a failed one
        # leaves the release as rendered, and that is what gets linted.
        try:
            _, planned, _ = plan(stream, profile)
            apply(stream, planned)  # the stream is now what Helm deploys
            post_rendered = True
        except SlinkyError as exc:
            plan_problems = exc.problems
        except Exception as exc:  # a post-renderer bug on odd input: report it, lint the rest
            plan_problems = [Problem(f"the post-renderer failed: {exc!r}")]
    elif profile_path is None and not untargeted(stream):
        try:
            post_render(text or "", None)  # raises its own "no profile was given" problem
        except SlinkyError as exc:
            plan_problems = exc.problems
    routes = {
        name: rule_id
        for rule_id, module in rules.items()
        for name in getattr(module, "PROFILE_FIELDS", ())
    }
    return LintContext(
        release=list(index_stream(stream, stream_file)),
        cluster_objects=cluster_objects,
        profile=profile,
        profile_file=profile_path,
        profile_problems=profile_problems,
        plan_problems=plan_problems,
        post_rendered=post_rendered,
        routes=routes,
    )


_QUOTED_KEY = re.compile(r'\["((?:[^"\\]|\\.)*)"\]')


def _covers(specific: str | None, generic: str | None) -> bool:
    """Whether a finding at path ``specific`` explains one at ``generic`` (same or inside).

    Schema paths quote odd keys (``labels["a/b"]``), rules do not: compare unquoted.
    """
    if specific is None or generic is None:
        return False
    specific, generic = _QUOTED_KEY.sub(r"[\1]", specific), _QUOTED_KEY.sub(r"[\1]", generic)
    return generic == specific or generic.startswith((specific + ".", specific + "["))


def _without_generic(findings: list[Finding], generic: set[str]) -> list[Finding]:
    """Drop generic findings (post-render, schema) that a specific rule already explains."""
    specific: dict[str, list[str | None]] = {}
    for f in findings:
        if f.rule not in generic:
            specific.setdefault(f.object, []).append(f.path)
    return [
        f
        for f in findings
        if f.rule not in generic or not any(_covers(p, f.path) for p in specific.get(f.object, []))
    ]


def _ignored_by_annotation(ctx: LintContext) -> dict[str, frozenset[str]]:
    ignored: dict[str, frozenset[str]] = {}
    for obj in [*ctx.release, *ctx.cluster_objects]:
        if obj.ignored:
            ignored[obj.ref] = ignored.get(obj.ref, frozenset()) | obj.ignored
    if ctx.profile is not None:
        for name in ctx.profile.partitions:
            if ctx.partition_ignored(name):
                ignored[f"Partition/{name}"] = ctx.partition_ignored(name)
    return ignored


def _order(ctx: LintContext) -> dict[str, int]:
    """Objects in reading order: profile, release, cluster objects."""
    order: dict[str, int] = {}
    for obj in [*ctx.release, *ctx.cluster_objects]:
        order.setdefault(obj.ref, len(order) + 1)
    return order


def run(
    ctx: LintContext, config: LintConfig | None = None, rules: Mapping[str, ModuleType] = RULES
) -> LintResult:
    """Every rule over the context; suppressed findings counted, not returned."""
    config = config or LintConfig()
    found: list[Finding] = []
    errors: list[str] = []
    for rule_id, module in rules.items():
        if rule_id in config.ignore:
            continue
        severity = config.severity.get(rule_id, module.SEVERITY)
        try:
            produced = list(module.check(ctx))
        except Exception as exc:  # one broken rule must not hide the others' findings
            errors.append(f"rule {rule_id} failed: {exc!r}")
            continue
        found += [f.replace(rule=rule_id, severity=severity) for f in produced]
    generic = {rule_id for rule_id, m in rules.items() if getattr(m, "GENERIC", False)}
    found = list(dict.fromkeys(_without_generic(found, generic)))  # identical ones once
    ignored = _ignored_by_annotation(ctx)
    kept = [
        f
        for f in found
        if f.rule not in ignored.get(f.object, ()) and not config.ignores(f.rule, f.object)
    ]
    kept = key_lines(kept)
    order = _order(ctx)
    kept.sort(key=lambda f: (order.get(f.object, 0), f.object, f.line or 0, f.rule, f.path or ""))
    return LintResult(kept, len(found) - len(kept), errors, ctx.post_rendered)


def lint(
    text: str | None,
    *,
    stream_file: str | None = "-",
    profile_path: str | None = None,
    cluster: str | None = None,
    cluster_files: Iterable[str] = (),
    config: LintConfig | None = None,
) -> LintResult:
    """Lint a rendered stream with its profile and cluster objects: the library entry point."""
    ctx = build_context(
        text,
        stream_file=stream_file,
        profile_path=profile_path,
        cluster=cluster,
        cluster_files=list(cluster_files),
    )
    return run(ctx, config)
