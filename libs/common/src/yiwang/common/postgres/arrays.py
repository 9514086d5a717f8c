"""Values for `unnest($n::type[])`: a batch's rows sent as one array per column."""

from __future__ import annotations

from collections.abc import Sequence


def text_array(values: Sequence[str]) -> str:
    """A Postgres text[] literal, for an array column sent through unnest (which flattens
    an array of arrays): every element quoted, so any text survives. Cast back with
    `::text[]` in the statement."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"
