"""Complementary suppression: no withheld small count can be solved from a total and its published parts."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.suppress import BELOW_K, COMPLEMENTARY, Cell, Pattern, exposed, primary, protect


def solutions(pattern: Pattern, k: int) -> dict[int, set[int]]:
    """Brute force, independent of `feasible`: every value each withheld BELOW_K cell can take given
    the published cells, the reasons (below_k in [1, k-1], complementary >= 0) and parts = total."""
    cells = [*pattern.parts, pattern.total]
    truth = sum(p.value for p in pattern.parts)
    cap = truth + 2 * k  # a complementary cell above this only adds solutions, never removes one
    hidden = [i for i, c in enumerate(cells) if c.reason]
    ranges = [range(1, k) if cells[i].reason == BELOW_K else range(cap + 1) for i in hidden]
    seen: dict[int, set[int]] = {i: set() for i in hidden if cells[i].reason == BELOW_K}
    for combo in itertools.product(*ranges):
        values = [c.value for c in cells]
        for i, v in zip(hidden, combo, strict=True):
            values[i] = v
        if sum(values[:-1]) == values[-1]:
            for i, v in zip(hidden, combo, strict=True):
                if i in seen:
                    seen[i].add(v)
    return seen


small_tables = st.tuples(
    st.integers(3, 6),
    st.lists(st.tuples(st.integers(0, 9), st.booleans()), min_size=1, max_size=5),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(small_tables)
def test_no_withheld_small_cell_is_determined_by_the_published_ones(
    table: tuple[int, list[tuple[int, bool]], bool],
) -> None:
    """Random tables (some parts already published and locked, as hours out before their day): after
    `protect`, every withheld count below k can still take at least two values given everything
    published, its reason and the sum, checked by brute force; or protect says it could not."""
    k, raw, total_locked = table
    parts = [Cell(v, primary(v, k), locked=True) if locked else Cell(v) for v, locked in raw]
    total_value = sum(v for v, _ in raw)
    total = Cell(total_value, primary(total_value, k), locked=True) if total_locked else Cell(total_value)
    pattern = protect(parts, total, k)
    if pattern.unresolved:
        assert total_locked  # only when the total was out already and no part is left to withhold
        return
    for i, values in solutions(pattern, k).items():
        assert len(values) >= 2, (pattern, i, values)


@settings(max_examples=200, deadline=None)
@given(st.integers(3, 10), st.lists(st.integers(0, 60), min_size=1, max_size=25))
def test_protect_always_resolves_a_day_not_yet_published(k: int, hours: list[int]) -> None:
    """Hours published as they close (locked) and a day still to publish: withholding the day's figure
    always suffices, and every small hour is withheld."""
    parts = [Cell(v, primary(v, k), locked=True) for v in hours]
    pattern = protect(parts, Cell(sum(hours)), k)
    assert not pattern.unresolved
    assert not exposed(pattern.parts, pattern.total, k)
    assert all((p.reason == BELOW_K) == (0 < p.value < k) for p in pattern.parts)


def test_two_hidden_hours_of_k_minus_1_withhold_the_day() -> None:
    """The auditor's case: two hidden hours of 4 at k = 5 sum to 8 >= k, yet each is 4 exactly
    (4 is the most a withheld cell holds): the day is withheld too."""
    parts = [Cell(4, BELOW_K, locked=True), Cell(4, BELOW_K, locked=True), Cell(30, locked=True)]
    pattern = protect(parts, Cell(38), k=5)
    assert pattern.total.reason == COMPLEMENTARY


def test_two_hidden_ones_or_one_alone_are_pinned_a_mix_is_not() -> None:
    """Two hidden hours of 1 (sum 2) are 1 each, one hidden hour is the difference itself; 1 and 3
    (sum 4: 1+3, 2+2, 3+1) are not pinned and the day may go out."""
    assert exposed([Cell(1, BELOW_K), Cell(1, BELOW_K), Cell(9)], Cell(11), 5) == [0, 1]
    assert exposed([Cell(3, BELOW_K), Cell(9)], Cell(12), 5) == [0]
    assert exposed([Cell(1, BELOW_K), Cell(3, BELOW_K), Cell(9)], Cell(13), 5) == []


def test_the_smallest_free_part_is_the_complement_before_the_total() -> None:
    """Parts not yet published (days of a month report, stores of a group) give the complement: the
    smallest part above zero, so the total and the big parts stay published."""
    pattern = protect([Cell(2), Cell(0), Cell(40), Cell(7), Cell(9)], Cell(58), 5)
    assert [p.reason for p in pattern.parts] == [BELOW_K, None, None, COMPLEMENTARY, None]
    assert pattern.total.reason is None


def test_a_small_total_made_of_ones_is_withheld_as_complementary() -> None:
    """A day of 2 at k = 3 made of two hours of 1: withholding all three as "below k" still pins them
    (each is at least 1, the total at most 2), so the day's reason is `complementary`: no bound."""
    pattern = protect([Cell(1), Cell(1), Cell(0)], Cell(2), 3)
    assert [p.reason for p in pattern.parts] == [BELOW_K, BELOW_K, None]
    assert pattern.total.reason == COMPLEMENTARY
    assert not pattern.unresolved
