"""The layers of a county dataset and how they map onto stored levels and resource kinds."""

from __future__ import annotations

from gridgov.grids.models import Level, ResourceKind

UNIT_LAYERS: dict[str, Level] = {
    "county": Level.COUNTY,
    "towns": Level.TOWN,
    "villages": Level.VILLAGE,
    "grids": Level.GRID,
    "micro_grids": Level.MICRO_GRID,
}
"""Polygon layers of the hierarchy, top-down (parents before children)."""

RESOURCE_LAYERS: dict[str, ResourceKind] = {
    "rivers": ResourceKind.RIVER,
    "forests": ResourceKind.FOREST,
    "farmland": ResourceKind.FARMLAND,
}
"""Resource layers; every feature's parent is a village."""

PEOPLE_LAYERS = ("officers", "chiefs")
"""Attribute tables without geometry."""

LAYER_OF_LEVEL: dict[Level, str] = {level: layer for layer, level in UNIT_LAYERS.items()}
