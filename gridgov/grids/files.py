"""Reading a county's GIS files (docs/data-format.md) into normalised layers.

A path is one of:

* a GeoPackage: its layers are read by name (``towns``, ``grids``...; other layers are ignored);
* a folder: every ``<layer>.shp``, ``<layer>.geojson``/``.json``, ``<layer>.gpkg``, and for the
  attribute tables also ``<layer>.dbf`` and ``<layer>.csv``, is read as that layer;
* one file: it holds the layer named by ``layer=``, else the one its stem names.

Every spatial layer comes back as a GeoDataFrame in EPSG:4490 lon/lat with the documented fields
(``code``, ``name``, ``parent_code``, ``kind`` for resources, ``synthetic``) and codes as strings;
``officers`` and ``chiefs`` come back as DataFrames. Problems that concern the data are collected as
``Defect`` (so ``gridgov validate`` lists them all); a file GDAL cannot open at all raises
``InvalidDataset`` naming the file.

CRS policy: the file's CRS wins, and a ``crs=`` that contradicts it is refused with a ``crs_mismatch``
defect for that layer (we never guess which of the two is wrong). ``crs=`` supplies the CRS of a file
that has none, or whose CRS cannot be used (an unparsable ``.prj``, a local engineering CRS, an
unknown projection); without ``crs=`` those are ``missing_crs`` and ``unknown_crs``. A custom but
complete CRS (e.g. a county's own Gauss-Krüger with a shifted false easting) is transformed exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from gridgov.errors import InvalidDataset
from gridgov.geo.crs import STORAGE_EPSG
from gridgov.geo.dataset import (
    LAYER_NAMES,
    RESOURCE_LAYERS,
    TABLE_LAYERS,
    Defect,
)

FIELD_ALIASES = {
    "code": ("code", "编码", "代码"),
    "name": ("name", "名称"),
    "parent_code": ("parent_code", "parent", "parent_cod", "上级编码"),
    "kind": ("kind",),
    "synthetic": ("synthetic",),
    "grid_code": ("grid_code",),
    "unit_code": ("unit_code",),
    "domain": ("domain",),
    "level": ("level",),
}
"""Accepted column names per documented field, matched case-insensitively (``parent_cod`` is
``parent_code`` cut to the 10 characters a Shapefile allows)."""

CODE_FIELDS = ("code", "parent_code", "grid_code", "unit_code")


def layer_fields(layer: str) -> tuple[str, ...]:
    """The documented fields of a layer, in order (geometry not included)."""
    if layer == "officers":
        return ("code", "name", "grid_code")
    if layer == "chiefs":
        return ("code", "name", "domain", "level", "unit_code")
    if layer in RESOURCE_LAYERS:
        return ("code", "name", "parent_code", "kind", "synthetic")
    return ("code", "name", "parent_code", "synthetic")


SPATIAL_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json")
TABLE_SUFFIXES = (".dbf", ".csv")


@dataclass
class ReadResult:
    """What :func:`read_county_files` found.

    Attributes
    ----------
    layers : dict
        Layer name to GeoDataFrame (EPSG:4490) or DataFrame (``officers``, ``chiefs``); layers that
        could not be used (empty, no CRS...) are left out and reported in ``defects``.
    defects : list of Defect
        Problems found while reading.
    sources : dict
        Layer name to the file (and ``:layer`` inside a GeoPackage) it came from.
    ignored : list of str
        Files or GeoPackage layers that name no known layer.
    """

    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = field(default_factory=dict)
    defects: list[Defect] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Source:
    layer: str
    path: Path
    gdal_layer: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.gdal_layer}" if self.gdal_layer else str(self.path)


def normalise_code(value) -> str:
    """A code as a clean string: ``430921.0`` (a float artefact) -> ``"430921"``, None -> ``""``.

    Examples
    --------
    >>> normalise_code(430921.0), normalise_code(" 430921100.0 "), normalise_code(None)
    ('430921', '430921100', '')
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    text = str(value).strip()
    match = re.fullmatch(r"(\d+)\.0*", text)
    return match.group(1) if match else text


def read_county_files(path, *, layer: str | None = None, crs: str | int | None = None,
                      gcj02: bool = False) -> ReadResult:
    """Read a county's GeoPackage, folder of files, or single file into normalised layers.

    Parameters
    ----------
    path : str or Path
        A ``.gpkg``, a folder of ``<layer>.shp|.geojson|.gpkg`` files, or one file.
    layer : str, optional
        The layer a single file holds (default: the file's stem), or the one layer to read from a
        GeoPackage.
    crs : str or int, optional
        The CRS (``"EPSG:4546"``, ``4546``) of files that carry none.
    gcj02 : bool
        The coordinates are Amap GCJ-02 lon/lat; they are converted to WGS84/CGCS2000 after reading.

    Returns
    -------
    ReadResult

    Raises
    ------
    InvalidDataset
        The path does not exist, a file cannot be opened, or the layer of a file cannot be told.

    Examples
    --------
    >>> result = read_county_files("geodata/nan_county/nan_county.gpkg")  # doctest: +SKIP
    >>> sorted(result.layers), result.defects  # doctest: +SKIP
    (['chiefs', 'county', 'farmland', ...], [])
    """
    path = Path(path)
    if layer is not None and layer not in LAYER_NAMES:
        raise InvalidDataset(f"unknown layer {layer!r}; expected one of {', '.join(LAYER_NAMES)}")
    given_crs = _parse_given_crs(crs)
    result = ReadResult()
    for source in _discover(path, layer, result):
        if source.layer in result.sources:
            raise InvalidDataset(f"layer {source.layer!r} found twice: {result.sources[source.layer]} "
                                 f"and {source}")
        result.sources[source.layer] = str(source)
        frame = _read_source(source, given_crs, gcj02, result.defects)
        if frame is not None:
            result.layers[source.layer] = frame
    return result


def _parse_given_crs(crs) -> pyproj.CRS | None:
    if crs is None:
        return None
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as error:
        raise InvalidDataset(f"--crs {crs!r} is not a CRS pyproj knows: {error}") from error


def _discover(path: Path, layer: str | None, result: ReadResult) -> list[_Source]:
    if not path.exists():
        raise InvalidDataset(f"{path} does not exist")
    if path.is_dir():
        return _discover_folder(path, layer, result)
    suffix = path.suffix.lower()
    if suffix == ".gpkg":
        return _discover_geopackage(path, layer, result, single_name=layer or path.stem)
    name = layer or path.stem.lower()
    if name not in LAYER_NAMES:
        raise InvalidDataset(f"cannot tell which layer {path} holds: name it with --layer "
                             f"({', '.join(LAYER_NAMES)})")
    return [_Source(name, path)]


def _discover_folder(path: Path, layer: str | None, result: ReadResult) -> list[_Source]:
    sources = []
    files = sorted(p for p in path.iterdir() if p.is_file())
    shapefile_stems = {p.stem.lower() for p in files if p.suffix.lower() == ".shp"}
    for file in files:
        suffix, stem = file.suffix.lower(), file.stem.lower()
        if suffix not in SPATIAL_SUFFIXES + TABLE_SUFFIXES:
            continue
        if suffix == ".dbf" and stem in shapefile_stems:
            continue  # part of a shapefile
        if stem not in LAYER_NAMES or (layer is not None and stem != layer):
            result.ignored.append(str(file))
            continue
        if suffix in TABLE_SUFFIXES and stem not in TABLE_LAYERS:
            result.ignored.append(str(file))
            continue
        if suffix == ".gpkg":
            sources += _discover_geopackage(file, stem, result, single_name=stem)
        else:
            sources.append(_Source(stem, file))
    return sorted(sources, key=lambda s: LAYER_NAMES.index(s.layer))


def _discover_geopackage(path: Path, layer: str | None, result: ReadResult, *,
                         single_name: str) -> list[_Source]:
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as error:  # GDAL raises several error types for a broken file
        raise InvalidDataset(f"cannot read {path}: {error}") from error
    if layer is not None and layer in names:
        return [_Source(layer, path, layer)]
    if len(names) == 1 and single_name in LAYER_NAMES and (layer is not None or
                                                          names[0] not in LAYER_NAMES):
        return [_Source(single_name, path, names[0])]
    if layer is not None:
        raise InvalidDataset(f"{path} has no layer {layer!r} (it has {', '.join(names)})")
    sources = []
    for name in names:
        if name in LAYER_NAMES:
            sources.append(_Source(name, path, name))
        else:
            result.ignored.append(f"{path}:{name}")
    return sorted(sources, key=lambda s: LAYER_NAMES.index(s.layer))


def _is_shapefile_part(path: Path) -> bool:
    return path.suffix.lower() in (".shp", ".dbf")


def _sidecar(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def _read_frame(source: _Source, *, read_geometry: bool) -> pd.DataFrame:
    """Read with pyogrio; Shapefiles without .cpg are decoded as UTF-8 if valid, else as GBK."""
    kwargs = dict(layer=source.gdal_layer, read_geometry=read_geometry)
    try:
        if source.path.suffix.lower() == ".csv":
            return _read_csv(source.path)
        if _is_shapefile_part(source.path) and _sidecar(source.path, ".cpg") is None:
            try:
                return pyogrio.read_dataframe(source.path, encoding="utf-8", **kwargs)
            except UnicodeDecodeError:
                return pyogrio.read_dataframe(source.path, encoding="gbk", **kwargs)
        return pyogrio.read_dataframe(source.path, **kwargs)
    except InvalidDataset:
        raise
    except Exception as error:
        raise InvalidDataset(f"cannot read {source}: {error}") from error


def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "gbk"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError:
            continue
        except Exception as error:
            raise InvalidDataset(f"cannot read {path}: {error}") from error
    raise InvalidDataset(f"cannot read {path}: neither UTF-8 nor GBK text")


def _read_source(source: _Source, given_crs, gcj02: bool, defects: list[Defect]):
    name = source.layer
    if name in TABLE_LAYERS:
        frame = _read_frame(source, read_geometry=False)
        if len(frame) == 0:
            defects.append(Defect("empty_layer", name, message=f"{source} has no rows"))
            return None
        return _normalise_fields(pd.DataFrame(frame.drop(columns="geometry", errors="ignore")), name)

    if source.path.suffix.lower() in TABLE_SUFFIXES:
        defects.append(Defect("not_polygon", name, message=f"{source} has no geometry"))
        return None
    try:
        info = pyogrio.read_info(source.path, layer=source.gdal_layer)
    except Exception as error:
        raise InvalidDataset(f"cannot read {source}: {error}") from error
    if info.get("geometry_type") is None:
        defects.append(Defect("not_polygon", name, message=f"{source} has no geometry column"))
        return None
    if info.get("features") == 0:
        defects.append(Defect("empty_layer", name, message=f"{source} has no features"))
        return None
    source_crs = _resolve_crs(source, info.get("crs"), given_crs, defects)
    if source_crs is None:
        return None
    if gcj02 and not source_crs.is_geographic:
        defects.append(Defect("crs_mismatch", name, message=(
            f"--gcj02 needs lon/lat coordinates but {source} is in {_crs_label(source_crs)}")))
        return None

    frame = _read_frame(source, read_geometry=True)
    if len(frame) == 0:
        defects.append(Defect("empty_layer", name, message=f"{source} has no features"))
        return None
    geoms = shapely.force_2d(np.asarray(frame.geometry.array, dtype=object))
    if gcj02:
        from gridgov.geo.gcj02 import geometries_from_gcj02

        geoms = geometries_from_gcj02(geoms)
    geoms = _to_storage(geoms, source_crs)
    attributes = _normalise_fields(pd.DataFrame(frame.drop(columns="geometry")), name)
    return gpd.GeoDataFrame(attributes, geometry=gpd.GeoSeries(geoms, index=attributes.index),
                            crs=STORAGE_EPSG)


def _crs_label(crs: pyproj.CRS) -> str:
    authority = crs.to_authority(min_confidence=90)
    return ":".join(authority) if authority else f"{crs.name!r}"


def _usable(crs: pyproj.CRS) -> bool:
    """True when coordinates in ``crs`` can be transformed to CGCS2000."""
    if not (crs.is_geographic or crs.is_projected):
        return False
    try:
        pyproj.Transformer.from_crs(crs, STORAGE_EPSG, always_xy=True)
    except pyproj.exceptions.ProjError:
        return False
    return True


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    if a == b or a.equals(b, ignore_axis_order=True):
        return True
    ea, eb = a.to_epsg(min_confidence=90), b.to_epsg(min_confidence=90)
    return ea is not None and ea == eb


def _resolve_crs(source: _Source, crs_text, given_crs, defects: list[Defect]) -> pyproj.CRS | None:
    name = source.layer
    file_crs, problem = None, None
    if crs_text:
        try:
            file_crs = pyproj.CRS.from_user_input(crs_text)
        except pyproj.exceptions.CRSError as error:
            problem = f"the CRS of {source} cannot be parsed: {error}"
        else:
            if not _usable(file_crs):
                problem = (f"the CRS of {source} ({file_crs.type_name} {file_crs.name!r}) cannot be "
                           "transformed to CGCS2000")
                file_crs = None
    elif _is_shapefile_part(source.path) and _sidecar(source.path, ".prj") is not None:
        problem = f"GDAL does not recognise the .prj of {source}"
    if file_crs is not None:
        if given_crs is not None and not _same_crs(file_crs, given_crs):
            defects.append(Defect("crs_mismatch", name, message=(
                f"{source} declares {_crs_label(file_crs)} but --crs says {_crs_label(given_crs)}; "
                "the file's CRS is kept only if you drop --crs (or reproject the file)")))
            return None
        return file_crs
    if given_crs is not None:
        return given_crs
    if problem:
        defects.append(Defect("unknown_crs", name, message=problem + "; reproject the file or "
                              "give its CRS with --crs"))
    else:
        defects.append(Defect("missing_crs", name, message=(
            f"{source} has no CRS (no .prj?); give it with --crs EPSG:xxxx")))
    return None


def _to_storage(geoms: np.ndarray, source_crs: pyproj.CRS) -> np.ndarray:
    if _same_crs(source_crs, pyproj.CRS.from_epsg(STORAGE_EPSG)):
        return geoms
    tr = pyproj.Transformer.from_crs(source_crs, STORAGE_EPSG, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def _normalise_fields(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Rename aliases to the documented fields, keep only those, clean codes and flags."""
    lower = {str(c).strip().lower(): c for c in frame.columns}
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for target in layer_fields(layer):
        column = next((lower[a.lower()] for a in FIELD_ALIASES[target] if a.lower() in lower), None)
        values = frame[column].to_numpy(dtype=object) if column is not None else None
        if target in CODE_FIELDS:
            out[target] = ([normalise_code(v) for v in values] if values is not None
                           else [""] * len(frame))
        elif target == "synthetic":
            out[target] = ([_flag(v) for v in values] if values is not None
                           else [0] * len(frame))
            out[target] = out[target].astype("int64")
        elif target == "kind":
            out[target] = ([normalise_code(v).lower() for v in values] if values is not None
                           else [""] * len(frame))
        else:
            out[target] = ([_text(v) for v in values] if values is not None else [""] * len(frame))
    return out


def _text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return normalise_code(value) if isinstance(value, (int, float, np.number)) else str(value).strip()


def _flag(value) -> int:
    text = normalise_code(value).lower()
    return 1 if text in ("1", "true", "yes", "y", "t") else 0

