"""Coverage-guided fuzzing of the stream reader and writer (atheris / libFuzzer).

    python fuzz/fuzz_stream.py -max_total_time=60

Contract checked for any bytes: ``decode`` + ``read_stream`` either raise SlinkyError or
give a stream that ``write_stream`` writes back byte for byte; re-serializing every
mapping document (what a transform does) gives a stream that reads back to equal data.
Any other exception, or a failed assertion, is a crash: libFuzzer saves the input as
``crash-<sha1>`` in the current directory. Replay one with
``python fuzz/fuzz_stream.py crash-<sha1>``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import atheris
from _harness import ROOT, libfuzzer_args

with atheris.instrument_imports():
    import yaml  # noqa: F401  (instrumented: its constructors and resolver run per input)

    from postrender.errors import SlinkyError
    from postrender.yaml.stream import decode, read_stream, write_stream

# Small cap: the fuzzer should spend its time on structure, not on size.
MAX_BYTES = 1 << 16

INLINE_SEEDS = [
    b"--- # comment\nkind: A\n",
    b"kind: A\n...\n---\nkind: B\n",
    b"--- {kind: A}\n--- {kind: B}\n",
    b"\xef\xbb\xbfkind: A\r\nmetadata:\r\n  name: x\r\n",
    b"a: &a [1, 2]\nb: *a\nc: {<<: {x: 1}}\n",
    b"- 1\n---\nplain scalar\n---\n# only a comment\n---\n",
    b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}\n',
    b"a: !!binary aGVsbG8=\nb: 2001-12-14\nc: !!set {x}\nd: .nan\n",
]


def seeds() -> list[Path]:
    rendered = sorted((ROOT / "testdata" / "upstream" / "rendered").glob("*.yaml"))
    return [ROOT / "testdata" / "examples" / "release.yaml", *rendered]


def _canonical(value: Any) -> Any:
    """Data compared by value: NaN equals NaN, a !!set in any order (set order may differ
    between two equal sets, so comparing dumps gave false alarms)."""
    if isinstance(value, float) and math.isnan(value):
        return "<nan>"
    if isinstance(value, dict):
        return {repr(_canonical(k)): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(repr(_canonical(v)) for v in value)
    return value


def test_one_input(data: bytes) -> None:
    try:
        text = decode(data, MAX_BYTES)
        stream = read_stream(text)
    except SlinkyError:
        return
    assert write_stream(stream) == text, "an untouched stream must be written back as read"
    before = [_canonical(d.body) for d in stream.documents if isinstance(d.body, dict)]
    for doc in stream.documents:
        doc.changed = isinstance(doc.body, dict)
    rewritten = write_stream(stream)
    try:
        again = read_stream(rewritten)
    except SlinkyError as exc:
        raise AssertionError(f"rewritten stream does not read back: {exc}") from None
    after = [_canonical(d.body) for d in again.documents if isinstance(d.body, dict)]
    assert after == before, "rewritten documents read back different"


def main() -> None:
    atheris.Setup(libfuzzer_args(seeds(), INLINE_SEEDS), test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
