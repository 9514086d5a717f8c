from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import shapely
from yiwang.grid_routing.domain.generator import UnknownPreset, generate_county
from yiwang.grid_routing.domain.geojson import read_feature_collections
from yiwang.grid_routing.domain.index import OUTSIDE, GridIndex
from yiwang.grid_routing.domain.network import DEPARTMENT_LAYERS
from yiwang.grid_routing.domain.overlay import with_overlay
from yiwang.grid_routing.domain.validation import find_problems


def test_the_district_preset_has_the_scale_of_lizhou_and_no_gaps_or_overlaps() -> None:
    collections = generate_county("district")
    levels = Counter(f["properties"]["level"] for f in collections["admin"]["features"])
    assert levels == {"county": 1, "township": 7, "community": 54, "grid": 900, "micro_grid": 6000}
    network, unreadable = read_feature_collections(collections.items())
    assert unreadable == []
    assert find_problems(network) == []
    households = [m.households for m in network.micro_grids]
    assert all(h is not None and 30 <= h <= 50 for h in households)
    west, south, east, north = shapely.total_bounds([m.polygon for m in network.micro_grids])
    assert 113.4 <= west < east <= 113.7
    assert 37.8 <= south < north <= 38.0


def test_generation_is_deterministic_for_a_seed() -> None:
    assert generate_county("tiny", seed=3) == generate_county("tiny", seed=3)
    assert generate_county("tiny", seed=3) != generate_county("tiny", seed=4)


def test_an_unknown_preset_is_named() -> None:
    with pytest.raises(UnknownPreset, match=r"'metropolis'.*tiny, district, city"):
        generate_county("metropolis")


def test_department_layers_do_not_follow_the_admin_tree() -> None:
    network, _ = read_feature_collections(generate_county("district").items())
    network = with_overlay(network)
    for department in DEPARTMENT_LAYERS:
        shares = [link.share for link in network.overlay if link.department is department]
        assert len(shares) == 6000, department
        # Some micro-grids are cut by the department's boundaries: the layers really differ.
        assert sum(share < 0.99 for share in shares) > 20, department


def test_point_lookup_on_the_city_agrees_with_brute_force() -> None:
    network, _ = read_feature_collections(generate_county("city").items())
    index = GridIndex(network, version=1)
    assert len(index) == 12300
    rng = np.random.default_rng(42)
    lons = rng.uniform(113.39, 113.71, 400)
    lats = rng.uniform(37.79, 38.01, 400)
    # Shared corners and borders too: a point there belongs to the lowest code.
    corners = shapely.get_coordinates(index.polygons[rng.integers(0, len(index), 50)])
    lons = np.concatenate([lons, corners[:, 0]])
    lats = np.concatenate([lats, corners[:, 1]])
    found = index.locate_many(lons, lats)
    for lon, lat, position in zip(lons, lats, found, strict=True):
        hits = np.flatnonzero(shapely.intersects(index.polygons, shapely.Point(lon, lat)))
        assert position == (hits.min() if len(hits) else OUTSIDE), (lon, lat)
    assert (found == OUTSIDE).any()
    assert (found != OUTSIDE).sum() > 300
