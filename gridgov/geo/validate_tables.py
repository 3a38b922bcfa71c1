"""Checks of the attribute tables: grid officers (one per grid) and chiefs (one per domain and unit)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from gridgov.geo.dataset import (
    CHIEF_DOMAIN_LETTER,
    CHIEF_LEVEL_LAYER,
    CODE_PATTERNS,
    SINGULAR,
    TABLE_LAYERS,
    Defect,
    normalise_codes,
)


def check_tables(layers, prepared, known_codes) -> list[Defect]:
    """Officer and chief rows: codes, the units they answer for, one officer per grid."""
    defects = []

    def unit_codes(layer_name: str) -> set[str]:
        layer = prepared.get(layer_name)
        own = set(layer.codes) if layer is not None else set()
        return own | set(known_codes.get(layer_name) or ())

    for name in TABLE_LAYERS:
        frame = layers.get(name)
        if frame is None:
            continue
        if len(frame) == 0:
            defects.append(Defect("empty_layer", name, message=f"the {name} table has no rows"))
            continue
        n = len(frame)
        codes = normalise_codes(frame["code"]) if "code" in frame else np.full(n, "", dtype=object)
        pattern = re.compile(CODE_PATTERNS[name])
        for code in codes:
            if not code:
                defects.append(Defect("bad_code", name, "", "", f"a row of {name} has no code"))
            elif not pattern.fullmatch(code):
                defects.append(Defect("bad_code", name, code, "",
                                      f"{code!r} does not follow the {SINGULAR[name]} code scheme"))
        if name == "officers":
            defects += _check_officers(frame, codes, unit_codes("grids"))
        else:
            defects += _check_chiefs(frame, codes, unit_codes)
    return defects


def _column(frame, field: str) -> np.ndarray:
    return normalise_codes(frame[field]) if field in frame else np.full(len(frame), "", dtype=object)


def _check_officers(frame, codes, grids: set[str]) -> list[Defect]:
    defects = []
    grid_codes = _column(frame, "grid_code")
    for code, grid in zip(codes, grid_codes):
        if grid not in grids:
            reason = (f"grid {grid!r} is neither in the grids layer nor in the database" if grid
                      else "the row has no grid_code")
            defects.append(Defect("missing_parent", "officers", code, "", reason))
    counts = pd.Series(grid_codes[grid_codes != ""]).value_counts()
    for grid, count in counts[counts > 1].items():
        defects.append(Defect("duplicate_code", "officers", grid, "",
                              f"grid {grid} has {count} officer rows; one person answers for a grid"))
    return defects


def _check_chiefs(frame, codes, unit_codes) -> list[Defect]:
    defects = []
    domains, levels, units = (_column(frame, f) for f in ("domain", "level", "unit_code"))
    for code, domain, level, unit in zip(codes, domains, levels, units):
        if domain not in CHIEF_DOMAIN_LETTER or level not in CHIEF_LEVEL_LAYER:
            defects.append(Defect("bad_code", "chiefs", code, "",
                                  f"domain {domain!r} / level {level!r} not one of "
                                  "river|forest|field / county|town|village"))
            continue
        expected = f"Z{CHIEF_DOMAIN_LETTER[domain]}{unit}"
        if code and code != expected:
            defects.append(Defect("bad_code", "chiefs", code, "",
                                  f"a {domain} chief of {unit} should have code {expected!r}"))
        if unit not in unit_codes(CHIEF_LEVEL_LAYER[level]):
            defects.append(Defect("missing_parent", "chiefs", code, "",
                                  f"{level} {unit!r} is neither in the {CHIEF_LEVEL_LAYER[level]} "
                                  "layer nor in the database"))
    counts = pd.Series(codes[codes != ""]).value_counts()
    for code, count in counts[counts > 1].items():
        defects.append(Defect("duplicate_code", "chiefs", code, "", f"{code!r} appears {count} times"))
    return defects
