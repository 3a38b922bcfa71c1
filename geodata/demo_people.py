"""The synthetic people of the demo county: grid officers and the river, forest and field chiefs.

Split from the units and resources because people only read finished layers (grid adjacency, unit
codes) and draw their names from their own pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from demo_shapes import adjacency
from demo_units import COUNTY_CODE, Spec

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏付方邹熊秦邱江尹段雷侯龙史陶黎贺顾毛郝龚邵万严覃戴莫孔向汤文易"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志红兰德云春海林波玉凤小辉飞鹏斌宇浩凯健俊")


def person_names(rng, n: int) -> list[str]:
    """``n`` distinct synthetic Chinese personal names (surname + one or two given characters)."""
    one = [s + g for s in SURNAMES for g in GIVEN]
    two = [s + g + h for s in SURNAMES for g in GIVEN for h in GIVEN[::3] if g != h]
    pool = np.array(one + two)
    weights = np.r_[np.full(len(one), 1.0 / len(one)), np.full(len(two), 3.0 / len(two))]
    return list(pool[rng.choice(len(pool), n, replace=False, p=weights / weights.sum())])


def build_officers(grid_df: pd.DataFrame, grid_village: np.ndarray, spec: Spec, rng) -> pd.DataFrame:
    """One row per grid; ``grids - officers`` officers hold two neighbouring grids of one village."""
    pairs_needed = spec.grids - spec.officers
    geoms = grid_df["geometry"].to_numpy()
    i, j, _ = adjacency(geoms)
    same_village = grid_village[i] == grid_village[j]
    chosen, used = [], np.zeros(len(geoms), dtype=bool)
    for pool in (np.flatnonzero(same_village), np.flatnonzero(~same_village)):
        for e in pool[rng.permutation(len(pool))]:
            if len(chosen) == pairs_needed:
                break
            if not used[i[e]] and not used[j[e]]:
                used[i[e]] = used[j[e]] = True
                chosen.append((i[e], j[e]))
    if len(chosen) != pairs_needed:
        raise RuntimeError(f"found only {len(chosen)} neighbouring grid pairs, need {pairs_needed}")
    partner = np.full(len(geoms), -1)
    for a, b in chosen:
        partner[a], partner[b] = b, a
    officer_of = np.full(len(geoms), -1)
    serial = 0
    for g in range(len(geoms)):
        if officer_of[g] < 0:
            officer_of[g] = serial
            if partner[g] >= 0:
                officer_of[partner[g]] = serial
            serial += 1
    names = np.array(person_names(rng, serial))
    return pd.DataFrame(
        {
            "code": [f"W{COUNTY_CODE}{k + 1:04d}" for k in officer_of],
            "name": names[officer_of],
            "grid_code": grid_df["code"].to_numpy(),
            "synthetic": 1,
        }
    )


def build_chiefs(units: dict[str, pd.DataFrame], rng) -> pd.DataFrame:
    """A river, forest and field chief (河长, 林长, 田长) for the county, every town and village."""
    levels = [
        ("county", [COUNTY_CODE]),
        ("town", list(units["towns"]["code"])),
        ("village", list(units["villages"]["code"])),
    ]
    rows = [
        (f"Z{letter}{code}", domain, level, code)
        for domain, letter in (("river", "H"), ("forest", "L"), ("field", "T"))
        for level, codes in levels
        for code in codes
    ]
    df = pd.DataFrame(rows, columns=["code", "domain", "level", "unit_code"])
    df.insert(1, "name", person_names(rng, len(df)))
    df["synthetic"] = 1
    return df
