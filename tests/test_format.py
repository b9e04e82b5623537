"""disburse._format: the one table writer, in its plain and its aligned form."""

from __future__ import annotations

from disburse._format import table


def test_a_table_is_left_aligned_without_trailing_blanks():
    assert table(("id", "what"), [("1", "a\nlonger"), ("22", "")]) == (
        "id  what\n1   a\n    longer\n22"
    )


def test_aligned_columns_right_align_the_amounts():
    text = table(("token", "paid", "due"), [("JPYT", "1,000", "5"), ("X", "7", "")], align="<>>")
    assert text.split("\n") == [
        "token   paid  due",
        "JPYT   1,000    5",
        "X          7     ",
    ]
