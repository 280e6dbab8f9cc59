// Footprint triangulation: the triangles' total area equals the rings' area by the shoelace
// formula (outer minus holes), for seeded random star polygons with square holes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { triangulate, trianglesArea, signedArea2, buildingMesh } from '../../Sources/SceneWeb/Viewer/geometry.js';

function rng(seed) {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

test('triangles cover exactly the footprint, holes left out (seed 42)', () => {
  const random = rng(42);
  for (let k = 0; k < 300; k++) {
    const n = 3 + Math.floor(random() * 30), cx = random() * 1000, cy = random() * 1000;
    const outer = [];
    for (let i = 0; i < n; i++) {
      const a = (i / n) * 2 * Math.PI, r = 20 + random() * 30;   // star-shaped: concave, simple
      outer.push([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
    }
    if (random() < 0.5) outer.reverse();                          // either orientation
    const rings = [outer];
    if (random() < 0.5) {
      const s = 2 + random() * 5;                                 // a square hole around the centre
      rings.push([[cx - s, cy - s], [cx + s, cy - s], [cx + s, cy + s], [cx - s, cy + s], [cx - s, cy - s]]);
    }
    const expected = rings.reduce((acc, r, i) => acc + (i === 0 ? 1 : -1) * Math.abs(signedArea2(r)) / 2, 0);
    const t = triangulate(rings);
    assert.ok(Math.abs(trianglesArea(t) - expected) < 1e-6 * expected, `polygon ${k}: ${trianglesArea(t)} vs ${expected}`);
  }
});

test('a courtyard building: walls on both rings, a roof with the hole', () => {
  const b = { height: 10, rings: [[[0, 0], [10, 0], [10, 10], [0, 10]], [[4, 4], [6, 4], [6, 6], [4, 6]]] };
  const mesh = buildingMesh([b]);
  const verts = mesh.length / 7;
  const roof = [...Array(verts).keys()].filter((v) => mesh[v * 7 + 5] === 1).length / 3;
  const walls = (verts - roof * 3) / 6;
  assert.equal(walls, 8);
  assert.ok(Math.abs(trianglesArea(triangulate(b.rings)) - 96) < 1e-9);
});
