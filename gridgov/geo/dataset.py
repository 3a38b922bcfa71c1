"""The vocabulary of a county dataset: layer names, their parents, the code scheme, and defects.

Shared by the reader, the topology checks and the exporter, so that one list says what a county's
files hold (docs/data-format.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import shapely

DEFECT_KINDS = (
    "invalid_geometry",
    "not_polygon",
    "empty_geometry",
    "duplicate_code",
    "missing_parent",
    "not_inside_parent",
    "overlap",
    "gap",
    "outside_county",
    "missing_crs",
    "unknown_crs",
    "crs_mismatch",
    "swapped_lat_lon",
    "coordinates_out_of_range",
    "empty_layer",
    "bad_code",
)
"""Every defect kind, as it appears in ``Defect.kind``."""

LEVELS = ("county", "towns", "villages", "grids", "micro_grids")
"""The administrative hierarchy (县, 乡镇, 村, 网格, 微网格), top down."""

RESOURCE_LAYERS = ("rivers", "forests", "farmland")
SPATIAL_LAYERS = LEVELS + RESOURCE_LAYERS
TABLE_LAYERS = ("officers", "chiefs")
LAYER_NAMES = SPATIAL_LAYERS + TABLE_LAYERS
LINE_LAYERS = frozenset({"rivers"})

PARENT_LAYER = {
    "towns": "county",
    "villages": "towns",
    "grids": "villages",
    "micro_grids": "grids",
    "rivers": "villages",
    "forests": "villages",
    "farmland": "villages",
}
"""The layer holding each layer's parent units."""

SINGULAR = {
    "county": "county",
    "towns": "town",
    "villages": "village",
    "grids": "grid",
    "micro_grids": "micro-grid",
    "rivers": "river reach",
    "forests": "forest patch",
    "farmland": "farmland parcel",
    "officers": "officer",
    "chiefs": "chief",
}

CODE_PATTERNS = {
    "county": r"\d{6}",
    "towns": r"\d{9}",
    "villages": r"\d{12}",
    "grids": r"\d{14}",
    "micro_grids": r"\d{16}",
    "rivers": r"\d{12}R\d{3}",
    "forests": r"\d{12}F\d{3}",
    "farmland": r"\d{12}T\d{4}",
    "officers": r"W\d{10}",
    "chiefs": r"Z[HLT]\d{6}(\d{3}){0,2}",
}
"""The code scheme of docs/data-format.md, one full-match regular expression per layer."""

CHIEF_DOMAIN_LETTER = {"river": "H", "forest": "L", "field": "T"}
CHIEF_LEVEL_LAYER = {"county": "county", "town": "towns", "village": "villages"}


@dataclass(frozen=True)
class Defect:
    """One problem found in a county's files.

    Attributes
    ----------
    kind : str
        One of ``DEFECT_KINDS``.
    layer : str
        The layer the problem is in (``grids``, ``officers``...).
    code : str
        The unit's code, ``"A/B"`` for a pair, the parent's code for a gap, ``""`` for a whole layer.
    where : str
        ``"lon,lat"`` (6 decimals, EPSG:4490) of the problem or of a point on the unit, or ``""``.
    message : str
        What is wrong, for a person to act on.
    """

    kind: str
    layer: str
    code: str = ""
    where: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def format_point(point) -> str:
    """``"lon,lat"`` with 6 decimals for a shapely Point (``""`` for None or empty)."""
    if point is None or shapely.is_empty(point):
        return ""
    return f"{shapely.get_x(point):.6f},{shapely.get_y(point):.6f}"


def normalise_codes(values) -> np.ndarray:
    """Codes as stripped strings; ``None``/NaN become ``""``."""
    return np.array(["" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v).strip()
                     for v in pd.Series(values, dtype=object)], dtype=object)
