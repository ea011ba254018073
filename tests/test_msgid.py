"""One Message-ID grammar for every connector and for the replies coffeechat writes
(daemon.core.msgid)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.core import msgid


@pytest.mark.parametrize("value", [
    "<a@b>", "<CAF=x+y_z@mail.gmail.com>", "<BN6PR11MB1234.namprd11.prod.outlook.com@x.y>",
    "<" + "a" * 120 + "@" + "b" * 127 + ">",
])
def test_plain_ids_are_valid(value: str) -> None:
    assert msgid.valid(value)


@pytest.mark.parametrize("value", [
    "", "a@b", "<a@b", "<ab>", "<a b@c>", "<a@b>\r\nBcc: x@y", "<=?utf-8?q?x?=@b>", "<a@b?=>",
    "<a..b@c>", "<.a@b>", '<"a"@b>', "<a@[1.2.3.4]>", "<" + "a" * 121 + "@" + "b" * 127 + ">",
])
def test_anything_else_is_not(value: str) -> None:
    assert not msgid.valid(value)


def test_found_in_keeps_valid_ids_in_order_once() -> None:
    header = "<a@x> junk <b@x>\t<a@x> <=?q?x?=@y> <c@x><d@x> <e x@y>"
    assert msgid.found_in(header) == ("<a@x>", "<b@x>", "<c@x>", "<d@x>")
    assert msgid.first_in(header) == "<a@x>" and msgid.first_in("none") is None


def test_found_in_is_bounded_on_a_hostile_header() -> None:
    header = " ".join(f"<r{n}@x>" for n in range(msgid.MAX_SCANNED * 3))
    found = msgid.found_in(header)
    assert len(found) == msgid.MAX_SCANNED and found[-1] == f"<r{msgid.MAX_SCANNED - 1}@x>"


@given(st.lists(st.integers(0, 10**6), unique=True, max_size=40))
def test_trimmed_keeps_the_first_and_the_newest(numbers: list[int]) -> None:
    ids = [f"<r{n}@x>" for n in numbers]
    kept = msgid.trimmed(ids)
    assert len(kept) == min(len(ids), msgid.MAX_REFERENCES)
    if ids:
        assert kept[0] == ids[0] and kept[-1] == ids[-1]
        assert list(kept[1:]) == ids[len(ids) - len(kept) + 1:]


@given(st.text(max_size=300))
def test_whatever_a_header_holds_only_valid_ids_come_out(text: str) -> None:
    assert all(msgid.valid(found) for found in msgid.found_in(text))
