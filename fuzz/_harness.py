"""What the fuzz harnesses share: seed corpus and libFuzzer arguments.

libFuzzer writes every new interesting input into the first corpus directory it is given.
So that a plain ``python fuzz/fuzz_stream.py -max_total_time=60`` neither starts from
nothing nor litters the repository, the harness copies its seeds (test data of this
repository) into a fresh temporary directory and passes that first, unless a corpus
directory is named on the command line.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A slow input is a finding (a post-renderer has no time budget in Helm): libFuzzer
# reports anything over this many seconds as a timeout, with the input saved.
DEFAULT_ARGS = [
    "-timeout=20",
    "-rss_limit_mb=2048",
    f"-dict={Path(__file__).resolve().parent / 'yaml.dict'}",
]


def libfuzzer_args(seeds: Iterable[Path], inline: Iterable[bytes]) -> list[str]:
    """``sys.argv`` for atheris.Setup: defaults, then a seeded corpus when none was given."""
    args = list(sys.argv)
    for default in DEFAULT_ARGS:
        if not any(a.startswith(default.split("=")[0] + "=") for a in args[1:]):
            args.insert(1, default)
    if any(not a.startswith("-") for a in args[1:]):
        return args  # the caller named a corpus directory (or inputs to replay)
    corpus = Path(tempfile.mkdtemp(prefix="slinky-pr-fuzz-"))
    for i, path in enumerate(seeds):
        shutil.copyfile(path, corpus / f"seed-{i}-{path.name}")
    for i, data in enumerate(inline):
        (corpus / f"inline-{i}").write_bytes(data)
    print(f"corpus: {corpus}", file=sys.stderr)
    return [*args, str(corpus)]
