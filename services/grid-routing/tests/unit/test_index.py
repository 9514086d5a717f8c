"""The grid index keeps tuples and shares equal mappings (domain/index.py): what it hands
out must still be whole MicroGridRefs, and copies a caller may change."""

from __future__ import annotations

from yiwang.common.events import MicroGridRef
from yiwang.grid_routing.domain.index import GridIndex


def test_micro_grid_refs_are_whole_refs_in_code_order(tiny_index: GridIndex) -> None:
    refs = tiny_index.micro_grid_refs
    codes = [ref.code for ref in refs]
    assert len(refs) == len(tiny_index)
    assert codes == sorted(codes)
    first = refs[0]
    assert isinstance(first, MicroGridRef)
    assert first.township_code
    assert first.county_code == tiny_index.county_code
    assert tiny_index.micro_grid(first.code) == first
    assert refs[1:3] == [refs[1], refs[2]]
    assert MicroGridRef.model_validate(first.model_dump()) == first  # every field set


def test_equal_department_units_are_shared_but_handed_out_as_copies(
    tiny_index: GridIndex,
) -> None:
    codes = [ref.code for ref in tiny_index.micro_grid_refs]
    units = [tiny_index.units_of(code) for code in codes]
    distinct = {tuple(sorted(u.items())) for u in units}
    assert 1 < len(distinct) < len(codes)  # neighbours share, yet not all alike
    handed = tiny_index.units_of(codes[0])
    handed.clear()
    assert tiny_index.units_of(codes[0]) == units[0] != {}


def test_ancestors_run_from_the_micro_grid_up_to_the_county(tiny_index: GridIndex) -> None:
    ref = tiny_index.micro_grid_refs[0]
    place = tiny_index.place(ref.code)
    assert place is not None
    assert place.ancestors[0] == ref.code
    assert place.ancestors[-1] == ref.county_code
    assert tiny_index.is_within(ref.code, ref.township_code)
    assert not tiny_index.is_within(ref.code, "no-such-code")
