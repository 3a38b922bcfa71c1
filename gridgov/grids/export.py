"""Writing a county's layers back to GIS files in the import format (docs/data-format.md).

The format follows the path:

===================  ===========================================================================
``x.gpkg``           one GeoPackage, one layer per layer name (attribute tables without geometry)
``x.geojson``        one GeoJSON file; only for a single layer
``x_geojson/``       a folder of ``<layer>.geojson`` (attribute tables as features with null geometry)
``x.shp``            one Shapefile; only for a single spatial layer
``x_shp/``           a folder of ``<layer>.shp`` (attribute tables as bare ``<layer>.dbf``)
===================  ===========================================================================

Everything is written in EPSG:4490 lon/lat. Shapefiles get ASCII field names of at most 10 characters
(``parent_code`` becomes ``PARENT``, one of its documented aliases) and UTF-8 attributes with a
``.cpg``, so ``read_county_files`` reads back exactly what was written.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gridgov.errors import InvalidParameter
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.geo.dataset import LAYER_NAMES, TABLE_LAYERS

SHAPEFILE_FIELD_NAMES = {"parent_code": "PARENT"}
"""Documented fields whose names a Shapefile cannot hold, and the alias written instead."""


def export_format(path) -> str:
    """``"gpkg"``, ``"geojson"``, ``"geojson_dir"``, ``"shp"`` or ``"shp_dir"`` for an output path."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".gpkg"):
        return "gpkg"
    if name.endswith((".geojson", ".json")):
        return "geojson"
    if name.endswith(".shp"):
        return "shp"
    if name.endswith("_geojson"):
        return "geojson_dir"
    if name.endswith("_shp"):
        return "shp_dir"
    raise InvalidParameter(
        f"cannot tell the format of {path}: use a name ending in .gpkg, .geojson, .shp, "
        "_geojson (a folder of GeoJSON) or _shp (a folder of Shapefiles)"
    )


def export_layers(layers: Mapping[str, pd.DataFrame], path, *, overwrite: bool = False) -> list[Path]:
    """Write layers to a GeoPackage, GeoJSON or Shapefile(s) chosen by the path; see the module doc.

    Parameters
    ----------
    layers : mapping of layer name to GeoDataFrame or DataFrame
        As returned by ``read_county_files`` (geometries in EPSG:4490).
    path : str or Path
        The output; its suffix picks the format.
    overwrite : bool
        Replace an existing output instead of refusing.

    Returns
    -------
    list of Path
        The files written (the GeoPackage once).

    Examples
    --------
    >>> export_layers(result.layers, "out/nan_county.gpkg")  # doctest: +SKIP
    [PosixPath('out/nan_county.gpkg')]
    """
    path = Path(path)
    kind = export_format(path)
    unknown = sorted(set(layers) - set(LAYER_NAMES))
    if unknown:
        raise InvalidParameter(f"unknown layer(s) {', '.join(unknown)}")
    names = [n for n in LAYER_NAMES if n in layers]
    if not names:
        raise InvalidParameter("nothing to export: no layers")
    if kind in ("geojson", "shp") and len(names) != 1:
        folder = path.with_suffix("").name + ("_geojson" if kind == "geojson" else "_shp")
        raise InvalidParameter(f"{path.name} holds one layer but {len(names)} were given; "
                               f"write them to a folder such as {folder}/")
    if kind == "shp" and names[0] in TABLE_LAYERS:
        raise InvalidParameter(f"{names[0]} has no geometry; write it to a folder ending in _shp")
    if path.exists():
        if not overwrite:
            raise InvalidParameter(f"{path} already exists (pass overwrite to replace it)")
        shutil.rmtree(path) if path.is_dir() else _remove_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    if kind == "gpkg":
        for name in names:
            _write(layers[name], path, layer=name, driver="GPKG", append=name != names[0])
        return [path]
    if kind in ("geojson", "shp"):
        _write_one(layers[names[0]], path, shapefile=kind == "shp")
        return [path]
    path.mkdir()
    written = []
    for name in names:
        shapefile = kind == "shp_dir"
        is_table = not isinstance(layers[name], gpd.GeoDataFrame)
        suffix = (".dbf" if is_table else ".shp") if shapefile else ".geojson"
        target = path / f"{name}{suffix}"
        _write_one(layers[name], target, shapefile=shapefile)
        written.append(target)
    return written


def _remove_file(path: Path) -> None:
    if path.suffix.lower() == ".shp":
        for sidecar in path.parent.glob(f"{path.stem}.*"):
            sidecar.unlink()
    else:
        path.unlink()


def _write_one(frame: pd.DataFrame, path: Path, *, shapefile: bool) -> None:
    if shapefile:
        _write(_shapefile_columns(frame), path, driver="ESRI Shapefile", encoding="UTF-8")
    else:
        _write(frame, path, driver="GeoJSON")


def _write(frame: pd.DataFrame, path: Path, **kwargs) -> None:
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is None or frame.crs.to_epsg() != STORAGE_EPSG:
            raise InvalidParameter(f"layers must be in EPSG:{STORAGE_EPSG} to export, got {frame.crs}")
        kwargs.setdefault("promote_to_multi", False)
        if kwargs.get("driver") != "ESRI Shapefile" and frame.geom_type.nunique() > 1:
            kwargs["geometry_type"] = "Unknown"
    else:
        frame = pd.DataFrame(frame)
    pyogrio.write_dataframe(frame, path, **kwargs)


def _shapefile_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename columns to unique ASCII names of at most 10 characters."""
    renamed, used = {}, set()
    for column in frame.columns:
        if isinstance(frame, gpd.GeoDataFrame) and column == frame.geometry.name:
            continue
        new = SHAPEFILE_FIELD_NAMES.get(column) or re.sub(r"[^A-Za-z0-9_]", "_", str(column))[:10]
        base, n = new, 1
        while new.lower() in used:
            suffix = f"_{n}"
            new, n = base[: 10 - len(suffix)] + suffix, n + 1
        used.add(new.lower())
        renamed[column] = new
    return frame.rename(columns=renamed)
