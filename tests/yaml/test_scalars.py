"""The meaning of one plain scalar, held to PyYAML's resolver (``postrender.yaml.scalars``)."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender.yaml import scalars


def test_dates_with_one_digit_month_or_day_are_strings() -> None:
    for text in ("2001-1-1", "2001-01-1", "2001-1-01"):
        assert scalars.reads_as_string(text), text
    assert not scalars.reads_as_string("2001-01-01")


_resolver = yaml.resolver.Resolver()


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(st.sampled_from("0123456789-+._:eExXoObBinfaINFNAtTzZ ~"), min_size=1),
        st.sampled_from(["yes", "Off", "NULL", "<<", "=", ".inf", "-.Inf", ".NaN", "0b1_0"]),
    )
)
def test_plain_scalar_types_are_pyyaml_types(text: str) -> None:
    # PyYAML's own decision for a plain scalar (types-PyYAML leaves resolve untyped)
    tag = _resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag != "tag:yaml.org,2002:str":  # and more that YAML 1.2 or go-yaml read otherwise
        assert not scalars.reads_as_string(text), tag
    try:
        value = scalars.resolve_plain(text)
    except scalars.Declined:
        return
    want = yaml.SafeLoader("").construct_object(yaml.ScalarNode(tag, text))
    # Same type too: 1 == True == 1.0 in Python.
    assert type(value) is type(want) and value == want
