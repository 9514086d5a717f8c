"""Turning exported FeatureCollections into a grid set ready to store: read, validate,
repair on request, overlay. Pure and CPU-bound; storing is the repository's job."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yiwang.grid_routing.domain.geojson import read_feature_collections
from yiwang.grid_routing.domain.network import GridNetwork
from yiwang.grid_routing.domain.overlay import with_overlay
from yiwang.grid_routing.domain.problems import GridSetRejected
from yiwang.grid_routing.domain.progress import Progress, SilentProgress
from yiwang.grid_routing.domain.repair import repair_network
from yiwang.grid_routing.domain.validation import find_problems


def check_grid_set(
    collections: Iterable[tuple[str, Any]],
    *,
    repair: bool = False,
    progress: Progress | None = None,
) -> tuple[GridNetwork, list[str]]:
    """The validated network with its overlay, and the repairs made; or GridSetRejected.

    Malformed features cannot be repaired (there is nothing to repair them into), so
    they refuse the import even with repair on.
    """
    progress = progress or SilentProgress()
    steps = 4 if repair else 3
    progress.stage("checking grid set", steps)
    network, unreadable = read_feature_collections(collections)
    progress.advance()
    problems = find_problems(network)
    progress.advance()
    repairs: list[str] = []
    if repair and problems:
        network, repairs = repair_network(network)
        problems = find_problems(network)
    if repair:
        progress.advance()
    if unreadable or problems:
        raise GridSetRejected([*unreadable, *problems])
    network = with_overlay(network)
    progress.advance()
    return network, repairs
