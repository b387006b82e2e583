"""slurm.conf fragments: the operator's extraConf rules and partition lines."""

from __future__ import annotations

import pytest

from postrender.slurmconf import (
    ConfError,
    Gres,
    conf_key,
    format_tokens,
    gres_conflicts,
    gres_entries,
    is_default,
    join_block,
    merge_conf_key,
    merge_gres,
    merge_list_token,
    operator_conf,
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


def test_keys_are_read_as_the_operator_titles_them() -> None:
    assert [conf_key(k) for k in ("GRES", "gres", "feature", "Features", "weight")] == [
        "Gres",
        "Gres",
        "Features",
        "Features",
        "Weight",
    ]
    tokens = parse_tokens("gres=nic:1 Weight=2 GRES=gpu:8 Feature=a features=b")
    assert operator_conf(tokens) == {
        "Gres": ["nic:1", "gpu:8"],
        "Weight": ["2"],
        "Features": ["a", "b"],
    }
    assert gres_entries(tokens) == [Gres("nic", None, 1), Gres("gpu", None, 8)]


def test_gres_over_every_token_conflicts_and_merges_into_the_first() -> None:
    tokens = parse_tokens("Gres=nic:1 Weight=2 Gres=gpu:8")
    with pytest.raises(ConfError, match="merges the Gres= tokens"):
        merge_gres(tokens, Gres("gpu", "h100", 8))
    tokens = parse_tokens("Gres=nic:1 Weight=2 gres=gpu:h100:8")
    merge_gres(tokens, Gres("gpu", "h100", 8))
    assert format_tokens(tokens) == "Gres=nic:1,gpu:h100:8 Weight=2"


def test_gres_conflicts_and_counts_with_multipliers() -> None:
    assert gres_conflicts([Gres("gpu", None, 8), Gres("gpu", "a100", 8)]) == [
        "Gres=gpu:8,gpu:a100:8 mixes untyped and typed gpu"
    ]
    assert gres_conflicts([Gres("gpu", "a100", 4), Gres("gpu", "a100", 4)]) == [
        "Gres=gpu:a100:4,gpu:a100:4 repeats an entry"
    ]
    assert gres_conflicts([Gres("gpu", "a100", 4), Gres("gpu", "h100", 4)]) == []
    assert Gres.parse("bandwidth:lustre:4G").count == 4 * 1024**3
    with pytest.raises(ConfError):
        Gres.parse("gpu:a:b:8")
