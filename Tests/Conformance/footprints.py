#!/usr/bin/env python3
"""Footprints and heights of every building in every CityJSON file given, computed with
Shapely (GEOS from Python) straight from the JSON, against the catalog `twinscene tiles
import` wrote (issue #12, item 3).

The reference: a building's footprint is the union of its ground surfaces (semantics
GroundSurface, in any geometry), else of all faces of its lowest-LoD geometry, projected to
the ground; its parts' footprints are unioned in. Its height is its highest z minus its
lowest over its own geometry and its parts'; without geometry of any height, 3D BAG's
b3_h_dak_max - b3_h_maaiveld. Passes when every area is within 1% and every height within
1 cm; prints the worst cases either way.

    python3 Tests/Conformance/footprints.py --binary .build/debug/twinscene FILE...
"""
import argparse, json, os, sqlite3, struct, subprocess, sys, tempfile

from shapely.geometry import Polygon
from shapely.ops import unary_union
from shapely.validation import make_valid


def read_city(path):
    """(transform, {id: object}, vertices) of a CityJSON or CityJSONSeq file; Seq features'
    vertices are appended, their indices shifted."""
    with open(path) as f:
        if path.endswith(".jsonl"):
            header = json.loads(f.readline())
            objects, vertices = {}, []
            for line in f:
                if not line.strip():
                    continue
                feature = json.loads(line)
                base = len(vertices)
                vertices += feature["vertices"]
                for oid, obj in feature["CityObjects"].items():
                    obj = json.loads(json.dumps(obj))
                    for g in obj.get("geometry", []):
                        g["boundaries"] = shift(g["boundaries"], base)
                    objects[oid] = obj
            return header.get("transform"), objects, vertices
        doc = json.load(f)
        return doc.get("transform"), doc["CityObjects"], doc["vertices"]


def shift(b, base):
    return [shift(x, base) for x in b] if isinstance(b, list) else b + base


def surfaces_of(g):
    """(rings, semantic value) of every surface of a geometry."""
    t, b = g["type"], g["boundaries"]
    values = (g.get("semantics") or {}).get("values")
    types = [s.get("type") for s in (g.get("semantics") or {}).get("surfaces", [])]
    out = []
    def label(v):
        return types[v] if v is not None and v < len(types) else None
    if t in ("MultiSurface", "CompositeSurface"):
        for i, s in enumerate(b):
            out.append((s, label(values[i]) if values else None))
    elif t == "Solid":
        for si, shell in enumerate(b):
            for i, s in enumerate(shell):
                out.append((s, label(values[si][i]) if values else None))
    elif t in ("MultiSolid", "CompositeSolid"):
        for ki, solid in enumerate(b):
            for si, shell in enumerate(solid):
                for i, s in enumerate(shell):
                    out.append((s, label(values[ki][si][i]) if values else None))
    return out


def lod_key(g):
    return str(g.get("lod", ""))


def own_footprint(obj, point):
    geoms = [g for g in obj.get("geometry", []) if g["type"] in ("MultiSurface", "CompositeSurface", "Solid", "MultiSolid", "CompositeSolid")]
    for g in sorted(geoms, key=lod_key):
        ground = [r for r, l in surfaces_of(g) if l == "GroundSurface"]
        if ground:
            return polygons(ground, point)
    with_faces = [g for g in geoms if surfaces_of(g)]
    if with_faces:
        g = min(with_faces, key=lod_key)
        return polygons([r for r, _ in surfaces_of(g)], point)
    return []


def polygons(surfaces, point):
    out = []
    for rings in surfaces:
        shell = [point(i)[:2] for i in rings[0]]
        holes = [[point(i)[:2] for i in r] for r in rings[1:]]
        if len(shell) < 3:
            continue
        p = Polygon(shell, [h for h in holes if len(h) >= 3])
        if p.area <= 1e-9:
            continue
        out.append(p if p.is_valid else make_valid(p))
    return out


def z_range(obj, point):
    zs = [point(i)[2] for g in obj.get("geometry", []) for i in flat(g["boundaries"])]
    return (min(zs), max(zs)) if zs else None


def flat(b):
    for x in b:
        if isinstance(x, list):
            yield from flat(x)
        else:
            yield x


def reference(path):
    transform, objects, vertices = read_city(path)
    scale = transform["scale"] if transform else [1, 1, 1]
    translate = transform["translate"] if transform else [0, 0, 0]
    def point(i):
        v = vertices[i]
        return (v[0] * scale[0] + translate[0], v[1] * scale[1] + translate[1], v[2] * scale[2] + translate[2])
    parts = {}
    for oid, obj in objects.items():
        for p in obj.get("parents", [])[:1]:
            parts.setdefault(p, []).append(oid)
    out = {}
    for oid, obj in objects.items():
        if obj.get("type") != "Building" or obj.get("parents"):
            continue
        members = [obj] + [objects[c] for c in parts.get(oid, []) if c in objects]
        polys = [p for m in members for p in own_footprint(m, point)]
        area = unary_union(polys).area if polys else 0.0
        ranges = [r for r in (z_range(m, point) for m in members) if r]
        height = None
        if ranges:
            lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
            if hi > lo:
                height = hi - lo
        if height is None:
            a = obj.get("attributes", {})
            if "b3_h_dak_max" in a and "b3_h_maaiveld" in a:
                height = a["b3_h_dak_max"] - a["b3_h_maaiveld"]
        out[oid] = (area, height)
    return out


def catalog_area(blob):
    at = 0
    def u32():
        nonlocal at
        v = struct.unpack_from("<I", blob, at)[0]; at += 4; return v
    total = 0.0
    for _ in range(u32()):
        for k in range(u32()):
            n = u32()
            pts = [struct.unpack_from("<dd", blob, at + 16 * j) for j in range(n)]
            at += 16 * n
            a = abs(sum(pts[j][0] * pts[(j + 1) % n][1] - pts[(j + 1) % n][0] * pts[j][1] for j in range(n))) / 2
            total += a if k == 0 else -a
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    worst, failures, buildings = [], 0, 0
    for path in a.files:
        tmp = tempfile.mkdtemp()
        cat = os.path.join(tmp, "c.sqlite")
        r = subprocess.run([a.binary, "tiles", "import", path, "--catalog", cat], capture_output=True, text=True)
        if r.returncode != 0 and "names no reference system" in r.stderr:
            # Areas and heights do not depend on which CRS; the file just names none.
            r = subprocess.run([a.binary, "tiles", "import", path, "--catalog", cat, "--crs", "EPSG:7415"], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {path}: import failed: {r.stderr.strip()[:300]}")
            failures += 1
            continue
        rows = {oid: (h, blob) for oid, h, blob in sqlite3.connect(cat).execute(
            "SELECT objectId, height, footprint FROM cityObject WHERE type = 'Building' AND parentId IS NULL")}
        ref = reference(path)
        for oid, (area, height) in ref.items():
            buildings += 1
            if oid not in rows:
                print(f"FAIL {os.path.basename(path)} {oid}: not in the catalog"); failures += 1; continue
            h, blob = rows[oid]
            got = catalog_area(blob) if blob else 0.0
            da = abs(got - area) / area if area > 0 else (0 if got == 0 else 1)
            dh = abs((h if h is not None else -1e9) - height) if height is not None else (0 if h is None else 1e9)
            worst.append((da, dh, os.path.basename(path), oid, got, area, h, height))
            if da > 0.01 or dh > 0.01:
                failures += 1
    worst.sort(key=lambda w: -max(w[0] / 0.01, w[1] / 0.01))
    for da, dh, f, oid, got, area, h, height in worst[:8]:
        print(f"{'FAIL' if da > 0.01 or dh > 0.01 else 'ok  '} {f} {oid}: area {got:.2f} vs {area:.2f} m² ({100 * da:.3f}%), "
              f"height {h if h is None else round(h, 3)} vs {height if height is None else round(height, 3)} m")
    print(f"{buildings} buildings in {len(a.files)} files, {failures} outside 1% of area or 1 cm of height")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
