"""The generated reference docs are current: tools/gendocs.py, run into a temporary
directory, writes exactly the committed docs/profile-keys.md and docs/lint-rules.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from postrender.lint.rules import RULES

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ("profile-keys.md", "lint-rules.md")


def test_committed_docs_are_current(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gendocs.py"), "--out", str(tmp_path)],
        check=True,
        cwd=tmp_path,
    )
    for name in GENERATED:
        fresh = (tmp_path / name).read_text(encoding="utf-8")
        committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
        assert fresh == committed, f"docs/{name} is stale: run `make docs` and commit it"


def test_generated_docs_cover_every_rule_and_profile_key() -> None:
    rules = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")
    for rule_id, module in RULES.items():
        assert f"\n## {rule_id}\n" in rules
        assert (module.__doc__ or "").strip().splitlines()[0] in rules
    keys = (ROOT / "docs" / "profile-keys.md").read_text(encoding="utf-8")
    schema = json.loads((ROOT / "schemas" / "profile.schema.json").read_text(encoding="utf-8"))
    partition = schema["properties"]["clusters"]["items"]["properties"]["partitions"]["items"]
    for key, node in partition["properties"].items():
        assert f"| `{key}`" in keys
        # every partition key is described, so the reference says what it means
        assert node.get("description"), f"partition key {key} has no schema description"


def test_doc_links_stay_inside_the_repository() -> None:
    """Every relative link of README, CONTRIBUTING and docs/ names a file of this repository
    (the README's reference material moved to docs/; a moved section must not dangle)."""
    link = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
    code = re.compile(r"```.*?```|`[^`\n]*`", re.S)  # patterns in code are not links
    for page in pages:
        for target in link.findall(code.sub("", page.read_text(encoding="utf-8"))):
            if "://" in target:
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.name} links outside: {target}"
            assert resolved.exists(), f"{page.relative_to(ROOT)} links to missing {target}"
