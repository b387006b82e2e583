"""slurm.conf fragments: the operator's extraConf rules and partition lines."""

from __future__ import annotations

import pytest

from postrender.slurmconf import (
    ConfError,
    Gres,
    format_tokens,
    is_default,
    join_block,
    merge_conf_key,
    merge_gres,
    merge_list_token,
    parse_tokens,
    partition_line,
    partition_names,
)


@pytest.mark.parametrize("bad", ["Weight=1  Gres=gpu:8", "Weight", "a\nb=1"])
def test_tokens_that_would_panic_the_operator_are_refused(bad: str) -> None:
    with pytest.raises(ConfError):
        parse_tokens(bad)


def test_gres_merges_into_the_one_gres_key_and_keeps_other_keys() -> None:
    tokens = parse_tokens("Weight=10 Gres=shard:4")
    merge_gres(tokens, Gres.parse("gpu:a100:8"))
    assert format_tokens(tokens) == "Weight=10 Gres=shard:4,gpu:a100:8"
    merge_gres(tokens, Gres("gpu", "a100", 8))  # same again: no change
    assert format_tokens(tokens) == "Weight=10 Gres=shard:4,gpu:a100:8"


def test_gres_of_the_same_name_but_other_value_is_a_conflict() -> None:
    tokens = parse_tokens("Gres=gpu:4")
    with pytest.raises(ConfError, match="already has Gres=gpu:4"):
        merge_gres(tokens, Gres("gpu", "a100", 8))


def test_features_comma_merge_without_duplicates() -> None:
    tokens = parse_tokens("features=a")
    merge_list_token(tokens, "Features", ["a", "efa"])
    assert format_tokens(tokens) == "features=a,efa"


def test_partition_line_renders_options_as_slurm_writes_them() -> None:
    line = partition_line(
        "gpu",
        ["gpu", "gpu2"],
        {"MaxTime": "2-00:00:00", "Default": True, "AllowGroups": ["a", "b"]},
    )
    assert line == "PartitionName=gpu Nodes=gpu,gpu2 MaxTime=2-00:00:00 Default=YES AllowGroups=a,b"
    assert is_default(line)
    assert partition_names(["GresTypes=gpu", line]) == {"gpu": line}


def test_conf_keys_merge_and_blocks_keep_their_trailing_newline() -> None:
    assert merge_conf_key(["GresTypes=mps"], "GresTypes", ["gpu"]) == ["GresTypes=mps,gpu"]
    assert merge_conf_key(["A=1"], "GresTypes", ["gpu"]) == ["A=1", "GresTypes=gpu"]
    assert join_block(["a", "b"], "x\n") == "a\nb\n"
    assert join_block(["a", "b"], "x") == "a\nb"
