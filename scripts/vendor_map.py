"""Vendor the dashboard's map assets: Leaflet and a world outline, served by pollwatch itself.

Why: the coordinators' map must not load tiles or scripts from third parties (privacy rule:
pages make no third-party requests), so Leaflet is copied into ``web/static/vendor/leaflet``
and the background is a small GeoJSON of country outlines converted once from Mike
Bostock's ``world-atlas`` (Natural Earth 1:110m, public domain; package ISC).

Run once when upgrading either package::

    cd /tmp && npm pack leaflet@1.9.4 world-atlas@2.0.2
    mkdir -p leaflet world-atlas
    tar xzf leaflet-1.9.4.tgz -C leaflet && tar xzf world-atlas-2.0.2.tgz -C world-atlas
    python scripts/vendor_map.py /tmp/leaflet/package /tmp/world-atlas/package

TopoJSON is decoded here (quantized delta-encoded arcs, then stitched into rings) so no
JavaScript tool is needed; coordinates are rounded to 0.01 degree, plenty at world scale.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).resolve().parents[1] / "src" / "pollwatch" / "web" / "static" / "vendor"


def _decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Absolute (lon, lat) points of every arc of a quantized TopoJSON topology."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((round(x * sx + tx, 2), round(y * sy + ty, 2)))
        arcs.append(points)
    return arcs


def _ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[list[float]]:
    """Stitch arcs into one ring; a negative index ``~i`` means arc ``i`` reversed."""
    ring: list[list[float]] = []
    for index in indexes:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        for k, (lon, lat) in enumerate(points):
            if k == 0 and ring:
                continue  # arcs share their end point with the next arc's start
            if not ring or ring[-1] != [lon, lat]:
                ring.append([lon, lat])
    return ring


def topojson_to_geojson(topology: dict[str, Any], name: str) -> dict[str, Any]:
    """The object ``name`` of a TopoJSON topology as a GeoJSON FeatureCollection."""
    arcs = _decode_arcs(topology)
    features = []
    for geometry in topology["objects"][name]["geometries"]:
        if geometry.get("type") == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry.get("type") == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        coordinates = [[_ring(ring, arcs) for ring in polygon] for polygon in polygons]
        coordinates = [p for p in coordinates if p and len(p[0]) >= 4]
        if not coordinates:
            continue
        features.append(
            {
                "type": "Feature",
                "properties": {"name": geometry.get("properties", {}).get("name", "")},
                "geometry": {"type": "MultiPolygon", "coordinates": coordinates},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def main(leaflet: Path, world_atlas: Path) -> None:
    target = VENDOR / "leaflet"
    if target.exists():
        shutil.rmtree(target)
    (target / "images").mkdir(parents=True)
    for name in ("leaflet.js", "leaflet.css"):
        text = (leaflet / "dist" / name).read_text("utf-8")
        # No source map requests: the map file is not vendored.
        text = "\n".join(ln for ln in text.splitlines() if "sourceMappingURL" not in ln) + "\n"
        (target / name).write_text(text, "utf-8")
    for image in (leaflet / "dist" / "images").iterdir():
        shutil.copy(image, target / "images" / image.name)
    shutil.copy(leaflet / "LICENSE", target / "LICENSE")

    world = VENDOR / "world-atlas"
    world.mkdir(parents=True, exist_ok=True)
    topology = json.loads((world_atlas / "countries-110m.json").read_text("utf-8"))
    geojson = topojson_to_geojson(topology, "countries")
    out = world / "countries-110m.geojson"
    out.write_text(json.dumps(geojson, separators=(",", ":")), "utf-8")
    shutil.copy(world_atlas / "LICENSE", world / "LICENSE")
    size = out.stat().st_size
    if size > 300_000:
        raise SystemExit(f"{out} is {size} bytes; keep the outline under 300 KB")
    sys.stdout.write(f"vendored Leaflet into {target} and {len(geojson['features'])} ")
    sys.stdout.write(f"country outlines ({size} bytes) into {out}\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python scripts/vendor_map.py LEAFLET_PACKAGE WORLD_ATLAS_PACKAGE")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
