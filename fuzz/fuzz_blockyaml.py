"""Coverage-guided differential fuzzing of the fast YAML reader against PyYAML.

    python fuzz/fuzz_blockyaml.py -max_total_time=600

Contract checked for any text: whatever ``blockyaml.load`` reads (as a manifest document,
and as a profile, with keys as written and the line of every value), PyYAML reads too,
to the same values with the same types and, for profiles, the same lines. Declining is
always allowed. A failed assertion is a crash: libFuzzer saves the input as
``crash-<sha1>``; replay with ``python fuzz/fuzz_blockyaml.py crash-<sha1>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import atheris
import fuzz_profile
import fuzz_stream
from _harness import libfuzzer_args

from postrender.yaml.text import Unreadable

with atheris.instrument_imports():
    from postrender.errors import SlinkyError
    from postrender.model import profile_yaml
    from postrender.model.profile_doc import MAX_PROFILE_DEPTH
    from postrender.yaml import fast_reader as blockyaml
    from postrender.yaml import pyyaml as pyyaml_io
    from postrender.yaml import stream

INLINE_SEEDS = [
    b"a: 1\nb:\n- x: '2'\n  y: \"3\"\nc: |-\n  l1\n\n  l2\nd: [1, {e: f}]\n",
    b"--- # c\nkind: A\nmetadata:\n  name: x # y\n  labels: {}\n",
    b"clusters:\n  - name: c\n    partitions:\n      - {name: p, gres: 'gpu:8'}\n",
]


def seeds() -> list[Path]:
    """The stream and profile seeds of the other two harnesses: both dialects are read here."""
    return [*fuzz_stream.seeds(), *fuzz_profile.seeds()]


def _typed(value: Any) -> Any:
    """Values with their types spelled out (in Python 1 == 1.0 == True)."""
    if isinstance(value, dict):
        return [(_typed(k), _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def test_one_input(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    for chunk in stream.split_documents(text):
        try:
            fast = blockyaml.load(chunk, stream.MAX_DEPTH)
        except blockyaml.Declined:
            continue
        try:
            slow = pyyaml_io.parse(chunk, 1, 10**6, stream.MAX_DEPTH, 10**6)[0]
        except Unreadable as exc:
            raise AssertionError(f"read what PyYAML refuses: {exc}") from None
        assert _typed(fast) == _typed(slow), "read differently from PyYAML"
    lines: dict[Any, int] = {}
    try:
        fast = blockyaml.load(text, MAX_PROFILE_DEPTH, keys_as_written=True, lines=lines)
    except blockyaml.Declined:
        return
    if fast is None:
        return  # an empty profile: profiles.py hands it to PyYAML, which says so
    try:
        slow, slow_lines, duplicates = profile_yaml.read(text, "fuzz")
    except SlinkyError as exc:
        raise AssertionError(f"read a profile PyYAML refuses: {exc.format()}") from None
    assert not duplicates, "read a profile with duplicate keys"
    assert _typed(fast) == _typed(slow), "read a profile differently from PyYAML"
    assert lines == slow_lines, "gave other lines than PyYAML"


def main() -> None:
    atheris.Setup(libfuzzer_args(seeds(), INLINE_SEEDS), test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
