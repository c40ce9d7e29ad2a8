"""A Report and an AddrBulk index as a list does: negative from the end, IndexError past
either end (a Report once answered ``rep[-n - 2]`` with item ``n - 2``), slices with steps."""

from __future__ import annotations

from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlcore.codec.bulk import AddrBulk
from nlcore.ops.results import Report


def _report(n: int) -> Report:
    return Report([f"s{k}" for k in range(n)], array("i", [0] * n), {}, {}, set(), False,
                  False)


@given(st.integers(0, 6), st.integers(-12, 12))
def test_report_index_as_a_list(n: int, i: int) -> None:
    want = [f"s{k}" for k in range(n)]
    rep = _report(n)
    if -n <= i < n:
        assert rep[i].spec == want[i] and rep[i].status == "ok"
    else:
        with pytest.raises(IndexError, match=f"Report index {i} out of range"):
            rep[i]


@given(st.integers(0, 6), st.integers(-12, 12))
def test_bulk_index_as_a_list(n: int, i: int) -> None:
    texts = [f"198.51.100.{k + 1}/24" for k in range(n)]
    bulk = AddrBulk(texts, index=2, backend="pure")
    if -n <= i < n:
        assert bulk[i].address == texts[i] and bulk[i].index == 2
    else:
        with pytest.raises(IndexError, match="out of range"):
            bulk[i]


@given(st.integers(0, 6), st.slices(8))
def test_report_slices_as_a_list(n: int, s: slice) -> None:
    assert [r.spec for r in _report(n)[s]] == [f"s{k}" for k in range(n)][s]
