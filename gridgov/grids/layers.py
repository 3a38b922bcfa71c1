"""The layers of a county dataset mapped onto stored levels and resource kinds."""

from __future__ import annotations

from gridgov.geo import dataset
from gridgov.grids.models import Level, ResourceKind

UNIT_LAYERS: dict[str, Level] = dict(zip(dataset.LEVELS, Level, strict=True))
"""Polygon layers of the hierarchy, top-down (parents before children)."""

RESOURCE_LAYERS: dict[str, ResourceKind] = dict(zip(dataset.RESOURCE_LAYERS, ResourceKind, strict=True))
"""Resource layers; every feature's parent is a village."""

LAYER_OF_LEVEL: dict[Level, str] = {level: layer for layer, level in UNIT_LAYERS.items()}
