"""Read and validate in one call, and print the defects (``gridgov validate`` / ``gridgov import``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from gridgov.errors import InvalidDataset
from gridgov.geo.dataset import LAYER_NAMES, Defect
from gridgov.geo.validate import validate_county
from gridgov.grids.files import read_county_files


def validate_path(
    path,
    *,
    layer: str | None = None,
    crs: str | int | None = None,
    gcj02: bool = False,
    county_boundary=None,
    known_codes: Mapping[str, set[str]] | None = None,
    known_geometries: Mapping[str, Mapping[str, object]] | None = None,
    **tolerances,
) -> tuple[dict, list[Defect]]:
    """Read a county's files and check them; returns ``(layers, defects)``, defects sorted by layer.

    ``layer``, ``crs`` and ``gcj02`` go to ``read_county_files``; the rest, including tolerances
    such as ``min_gap_area_m2``, to ``validate_county``. Raises ``InvalidDataset`` only for a path
    that cannot be read at all.
    """
    result = read_county_files(path, layer=layer, crs=crs, gcj02=gcj02)
    defects = result.defects + validate_county(
        result.layers,
        county_boundary=county_boundary,
        known_codes=known_codes,
        known_geometries=known_geometries,
        **tolerances,
    )
    order = {name: i for i, name in enumerate(LAYER_NAMES)}
    defects.sort(key=lambda d: order.get(d.layer, len(order)))  # stable: keeps check order
    return result.layers, defects


def format_defects(defects: Iterable[Defect]) -> str:
    """One line per defect: ``kind<TAB>layer<TAB>code<TAB>where<TAB>message``."""
    return "\n".join(
        "\t".join((d.kind, d.layer, d.code, d.where, " ".join(d.message.split()))) for d in defects
    )


def defects_as_dicts(defects: Iterable[Defect]) -> list[dict[str, str]]:
    """The defects as plain dicts with keys kind, layer, code, where, message."""
    return [d.to_dict() for d in defects]


def defects_to_json(defects: Iterable[Defect], *, indent: int | None = 2) -> str:
    """The defects as a JSON list of objects (kind, layer, code, where, message), Chinese unescaped."""
    return json.dumps(defects_as_dicts(defects), ensure_ascii=False, indent=indent)


def raise_for_defects(defects: list[Defect], *, path=None) -> None:
    """Refuse an import with any defect: raise ``InvalidDataset`` listing them all in ``details``."""
    if not defects:
        return
    where = f"{path} " if path is not None else ""
    raise InvalidDataset(
        f"{where}has {len(defects)} defect(s); nothing was imported", details=defects_as_dicts(defects)
    )
