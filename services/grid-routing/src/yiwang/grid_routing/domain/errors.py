"""What grid-routing refuses or cannot do, one exception type each.

The refusals of a grid file (`GridSetRejected`) and of a matrix (`MatrixInvalid`) stay
beside their checks, in `problems.py` and `matrix.py`. Those here that HTTP answers carry
the field at fault; `entrypoints/http.py` maps them to a status once (`REFUSALS`).
"""

from __future__ import annotations


class NoGridSet(RuntimeError):
    """Nothing to route with: no grid set stored, and no preset to bootstrap one from."""

    def __init__(self) -> None:
        super().__init__(
            "no grid set is stored and no bootstrap preset is set; import one with "
            "'python -m yiwang.grid_routing.cli import <files>' or set "
            "GRID_ROUTING_BOOTSTRAP_PRESET"
        )


class UnknownGridSet(LookupError):
    """An operator asked for a grid set version that was never imported."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"there is no grid set version {version}")


class CaseNotRouted(LookupError):
    """A return for a case routing never routed: it cannot be routed again."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"case {case_id} was returned but grid-routing never routed it")


class CaseNotInMediation(ValueError):
    """Mediation handed back a case grid-routing did not send to mediation (or that came
    back already): routing it again would route it twice."""

    def __init__(self, case_id: str, state: str) -> None:
        self.case_id, self.state = case_id, state
        super().__init__(
            f"case {case_id} came back from mediation, but grid-routing did not send it there"
            f" (routing last left it {state})"
        )


class NoRoutingHistory(LookupError):
    """Asked for the routing history of a case grid-routing has not routed."""

    field = "case_id"

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"grid-routing has not routed case {case_id}")


class OutsideEveryMicroGrid(LookupError):
    """A point that no micro-grid of the active grid set contains."""

    field = "(point)"  # neither coordinate alone is at fault

    def __init__(self, lon: float, lat: float) -> None:
        self.lon, self.lat = lon, lat
        super().__init__(f"({lon}, {lat}) lies outside every micro-grid")
