// Building footprints into triangles: ear clipping, holes bridged into the outer ring, and
// extrusion to a height (walls and a roof) for the 3D view. Input rings are [[x, y], ...] in
// metres, the first the outer ring, the rest holes, closed or not.

const cross = (ax, ay, bx, by, cx, cy) => (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);

/** Twice the signed area of a ring (positive: counter-clockwise). */
export function signedArea2(ring) {
  let s = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  return s;
}

function open(ring) {
  const r = ring.slice();
  while (r.length > 1 && r[0][0] === r[r.length - 1][0] && r[0][1] === r[r.length - 1][1]) r.pop();
  return r;
}

function oriented(ring, ccw) {
  const r = open(ring);
  return (signedArea2(r) > 0) === ccw ? r : r.reverse();
}

/** The outer ring with every hole joined to it by a bridge (two coincident edges). */
function bridged(rings) {
  let outer = oriented(rings[0], true);
  const holes = rings.slice(1).map((h) => oriented(h, false)).filter((h) => h.length >= 3);
  holes.sort((a, b) => Math.max(...b.map((p) => p[0])) - Math.max(...a.map((p) => p[0])));
  for (const hole of holes) {
    let m = 0;
    for (let i = 1; i < hole.length; i++) if (hole[i][0] > hole[m][0]) m = i;
    const [mx, my] = hole[m];
    // The nearest outer edge to the right of M along y = my, and its endpoint furthest right.
    let best = -1, bestX = Infinity;
    for (let i = 0; i < outer.length; i++) {
      const a = outer[i], b = outer[(i + 1) % outer.length];
      if ((a[1] > my) === (b[1] > my)) continue;
      const x = a[0] + (my - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
      if (x >= mx && x < bestX) { bestX = x; best = a[0] > b[0] ? i : (i + 1) % outer.length; }
    }
    if (best < 0) continue;   // a hole outside its outer ring: leave it out
    const loop = [...hole.slice(m), ...hole.slice(0, m), hole[m], outer[best]];
    outer = [...outer.slice(0, best + 1), ...loop, ...outer.slice(best + 1)];
  }
  return outer;
}

/** Triangles covering a polygon with holes: vertex indices into the returned points. */
export function triangulate(rings) {
  const points = bridged(rings);
  const n = points.length;
  const triangles = [];
  if (n < 3) return { points, triangles };
  const prev = new Int32Array(n), next = new Int32Array(n);
  for (let i = 0; i < n; i++) { prev[i] = (i + n - 1) % n; next[i] = (i + 1) % n; }
  let left = n, i = 0, stall = 0;
  const inside = (a, b, c, p) => {
    const [ax, ay] = points[a], [bx, by] = points[b], [cx, cy] = points[c], [px, py] = points[p];
    return cross(ax, ay, bx, by, px, py) >= 0 && cross(bx, by, cx, cy, px, py) >= 0 && cross(cx, cy, ax, ay, px, py) >= 0;
  };
  const same = (p, q) => points[p][0] === points[q][0] && points[p][1] === points[q][1];
  while (left > 3 && stall < left) {
    const a = prev[i], b = i, c = next[i];
    const [ax, ay] = points[a], [bx, by] = points[b], [cx, cy] = points[c];
    let ear = cross(ax, ay, bx, by, cx, cy) > 0;
    for (let p = next[c]; ear && p !== a; p = next[p]) {
      if (same(p, a) || same(p, b) || same(p, c)) continue;
      if (inside(a, b, c, p)) ear = false;
    }
    if (ear) {
      triangles.push(a, b, c);
      next[a] = c; prev[c] = a; left--; stall = 0; i = c;
    } else { i = next[i]; stall++; }
  }
  if (left === 3) triangles.push(prev[i], i, next[i]);
  else if (left > 3) {   // degenerate input (self-touching rings): fan what is left
    const rest = []; let p = i;
    for (let k = 0; k < left; k++, p = next[p]) rest.push(p);
    for (let k = 1; k + 1 < rest.length; k++) triangles.push(rest[0], rest[k], rest[k + 1]);
  }
  return { points, triangles };
}

/** Total area of triangles (a check against the rings' own area). */
export function trianglesArea({ points, triangles }) {
  let s = 0;
  for (let k = 0; k < triangles.length; k += 3) {
    const [ax, ay] = points[triangles[k]], [bx, by] = points[triangles[k + 1]], [cx, cy] = points[triangles[k + 2]];
    s += Math.abs(cross(ax, ay, bx, by, cx, cy)) / 2;
  }
  return s;
}

/**
 * Every building as triangles for WebGL: interleaved x, y, z, nx, ny, nz, shade per vertex.
 * `roofsOnly` for the map; with walls for the 3D view. Shade is 0..1 by height.
 */
export function buildingMesh(buildings, { roofsOnly = false, maxHeight = 60 } = {}) {
  const out = [];
  const push = (x, y, z, nx, ny, nz, s) => out.push(x, y, z, nx, ny, nz, s);
  for (const b of buildings) {
    const h = b.height, shade = Math.min(1, h / maxHeight);
    const { points, triangles } = triangulate(b.rings);
    for (const t of triangles) push(points[t][0], points[t][1], roofsOnly ? 0 : h, 0, 0, 1, shade);
    if (roofsOnly) continue;
    for (const [k, ring] of b.rings.entries()) {
      const r = oriented(ring, k === 0);
      for (let i = 0; i < r.length; i++) {
        const [ax, ay] = r[i], [bx, by] = r[(i + 1) % r.length];
        const len = Math.hypot(bx - ax, by - ay) || 1, nx = (by - ay) / len, ny = -(bx - ax) / len;
        push(ax, ay, 0, nx, ny, 0, shade); push(bx, by, 0, nx, ny, 0, shade); push(bx, by, h, nx, ny, 0, shade);
        push(ax, ay, 0, nx, ny, 0, shade); push(bx, by, h, nx, ny, 0, shade); push(ax, ay, h, nx, ny, 0, shade);
      }
    }
  }
  return new Float32Array(out);
}
