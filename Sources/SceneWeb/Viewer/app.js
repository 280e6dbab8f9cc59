// The twinscene viewer: connects to /ws, speaks the protocol (wire.js), draws the scene
// (render.js) and its panels (panels.js), follows the view with the subscription's area,
// and reconnects by itself when the server goes away.
import { FrameReader, decode, encode, SceneState, heightsOf, VERSION } from './wire.js';
import { inflateRaw } from './inflate.js';
import { Renderer, PALETTE } from './render.js';
import { Panels } from './panels.js';
import { JoinControl } from './join.js';

const $ = (id) => document.getElementById(id);
const canvas = $('map');
const renderer = new Renderer(canvas);
const panels = new Panels({ panel: $('panel'), legend: $('legend'), consoleBox: $('console'), send: (m) => send(m) });
const join = new JoinControl({ root: $('joinbox'), send: (m) => send(m), follow: (id) => { s.following = id; }, status: (t, bad) => status(t, bad) });

const s = {
  ws: null, connected: false, scenes: [], scene: new URLSearchParams(location.search).get('scene'),
  sub: 0, info: null, state: null, tick: null, tickTime: 0, prevTick: null,
  positions: new Map(), previous: new Map(), identities: new Map(), attributes: new Map(),
  camera: { mode: '2d', cx: 0, cy: 0, scale: 1, yaw: 0.5, pitch: 0.7, distance: 600 },
  area: null, areaTimer: null, request: 0, following: null,
  bytes: [], frames: 0, lastError: null, backoff: 500, reconnects: 0, pingNonce: 0, latencyMs: null,
  drawn: 0, frameTimeMs: 0, decodeMs: 0, entitiesInView: 0,
  counts: new Map(),   // tick -> entities in view, the last 400 ticks (for tests)
};

// ---- connection ---------------------------------------------------------------------------

function send(m) { if (s.ws && s.ws.readyState === 1) s.ws.send(encode(m)); }

async function loadScenes() {
  const r = await fetch('/api/scenes', { cache: 'no-store' });
  s.scenes = await r.json();
  const pick = $('scene');
  pick.replaceChildren(...s.scenes.map((sc) => new Option(`${sc.name} (${sc.scenario}, ${sc.entities})`, sc.name)));
  if (!s.scene || !s.scenes.some((sc) => sc.name === s.scene)) s.scene = s.scenes[0]?.name;
  pick.value = s.scene;
  join.setScene(s.scene, s.scenes.find((sc) => sc.name === s.scene));
}

function connect() {
  status(`connecting to ${location.host}…`);
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.binaryType = 'arraybuffer';
  s.ws = ws;
  ws.onopen = () => send({ type: 'hello', minVersion: 1, maxVersion: VERSION, client: 'twinscene viewer' });
  ws.onmessage = (e) => receive(new Uint8Array(e.data));
  ws.onclose = (e) => {
    if (s.ws !== ws) return;
    s.connected = false;
    const wait = s.backoff;
    s.backoff = Math.min(8000, s.backoff * 2);
    const why = s.lastError ? ` (${s.lastError})` : e.code >= 4000 ? ` (close ${e.code})` : '';
    status(`the server went away${why}; reconnecting in ${(wait / 1000).toFixed(1)} s`, true);
    setTimeout(async () => { try { await loadScenes(); } catch { /* not up yet */ } connect(); }, wait);
  };
}

function subscribe() {
  s.sub += 1;
  s.info = null; s.state = null; s.tick = null; s.positions.clear(); s.previous.clear();
  s.identities.clear(); s.attributes.clear(); s.following = null; s.area = null;
  panels.reset();
  send({ type: 'subscribe', subscription: s.sub, scene: s.scene, area: null });
}

function receive(bytes) {
  const t0 = performance.now();
  s.bytes.push([t0, bytes.length]);
  let frames;
  try { frames = new FrameReader(1 << 24).push(bytes); } catch (e) { s.lastError = `${e.message}`; return; }
  for (const f of frames) {
    let m;
    try { m = decode(f.type, f.payload, { inflateRaw }); } catch (e) { s.lastError = `decode: ${e.message}`; status(s.lastError, true); continue; }
    handle(m);
  }
  s.decodeMs = performance.now() - t0;
}

function handle(m) {
  switch (m.type) {
    case 'welcome':
      s.connected = true; s.backoff = 500; s.lastError = null; s.version = m.version;
      if (s.everConnected) s.reconnects += 1;
      s.everConnected = true;
      subscribe();
      join.connected(m.version);
      break;
    case 'sceneInfo':
      if (m.subscription !== s.sub) return;
      s.info = m;
      s.state = new SceneState({ heights: heightsOf(m), inflateRaw });
      if (!s.placed) { fitCamera(); s.placed = true; }
      panels.setScene(m, s.scenes.find((sc) => sc.name === m.scene));
      break;
    case 'staticGeometry':
      if (m.subscription !== s.sub || !s.info) return;
      renderer.setScene(s.info.bounds, m.buildings.map((b) => ({
        height: b.heightDecimetres / 10, rings: b.rings.map((r) => r.map(([x, y]) => [x * s.info.quantum, y * s.info.quantum])) })));
      break;
    case 'stateFrame': {
      if (m.subscription !== s.sub || !s.state) return;
      s.state.apply(m);
      const q = s.info.quantum;
      s.previous = s.positions;
      s.positions = new Map();
      s.state.forEachEntity((id, kind, qx, qy, qz) => s.positions.set(id, [qx * q, qy * q, Number.isNaN(qz) ? 0.3 : qz * q, kind]));
      s.prevTick = s.tick; s.tick = s.state.tick; s.tickTime = performance.now(); s.frames += 1;
      s.entitiesInView = countInView();
      s.counts.set(s.tick, s.entitiesInView);
      // The camera follows at every tick too, however slowly frames are drawn.
      const followed = s.following !== null ? s.positions.get(s.following) : undefined;
      if (followed) { s.camera.cx = followed[0]; s.camera.cy = followed[1]; viewChanged(); }
      if (s.counts.size > 400) s.counts.delete(s.counts.keys().next().value);
      panels.frame(s);
      break;
    }
    case 'attributes': {
      if (m.subscription !== s.sub) return;
      if (m.snapshot) s.attributes.clear();
      for (const v of m.values) {
        let a = s.attributes.get(v.entity);
        if (!a) { a = new Map(); s.attributes.set(v.entity, a); }
        a.set(v.attribute, v.bits);
      }
      panels.attributes(s, m);
      break;
    }
    case 'entityInfo':
      if (m.subscription !== s.sub) return;
      for (const e of m.entities) s.identities.set(e.entity, e);
      break;
    case 'events':
      if (m.subscription === s.sub) panels.events(s, m);
      break;
    case 'controlResult': panels.controlResult(m); break;
    case 'pong': s.latencyMs = (performance.now() * 1000 - m.echoedMicros) / 1000; break;
    case 'error': s.lastError = `Error ${m.code}: ${m.message}`; status(s.lastError, true); panels.controlResult({ ok: false, message: s.lastError }); break;
    case 'goodbye': s.lastError = `goodbye: ${m.reason}`; break;
    default: join.handle(m); break;
  }
}

/** Entities inside the subscription's area (all of them for the whole scene). */
function countInView() {
  if (!s.area) return s.positions.size;
  let n = 0;
  for (const [x, y] of s.positions.values()) if (x >= s.area.minX && x < s.area.maxX && y >= s.area.minY && y < s.area.maxY) n++;
  return n;
}

setInterval(() => send({ type: 'ping', nonce: ++s.pingNonce, timeMicros: Math.round(performance.now() * 1000) }), 2000);

// ---- camera and area ----------------------------------------------------------------------

function fitCamera() {
  const b = s.info.bounds, r = canvas.getBoundingClientRect();
  s.camera.cx = (b.minX + b.maxX) / 2; s.camera.cy = (b.minY + b.maxY) / 2;
  s.camera.scale = 0.95 * Math.min(r.width / (b.maxX - b.minX), r.height / (b.maxY - b.minY));
  s.camera.distance = 1.2 * Math.max(b.maxX - b.minX, b.maxY - b.minY);
}

/** The part of the scene the map shows, in metres. */
function visibleRect() {
  const r = canvas.getBoundingClientRect(), c = s.camera;
  const hw = r.width / 2 / c.scale, hh = r.height / 2 / c.scale;
  return { minX: c.cx - hw, minY: c.cy - hh, maxX: c.cx + hw, maxY: c.cy + hh };
}

/** A quarter of a second after the view changes, the subscription's area becomes what is on
 * screen (at most four moves a second, while panning or following someone). */
function viewChanged() {
  if (s.areaTimer) return;
  s.areaTimer = setTimeout(() => {
    s.areaTimer = null;
    if (!s.info) return;
    const b = s.info.bounds;
    let area = null;
    if (s.camera.mode === '2d') {
      const v = visibleRect(), m = 0.1 * (v.maxX - v.minX);
      const a = { minX: Math.max(b.minX, v.minX - m), minY: Math.max(b.minY, v.minY - m), maxX: Math.min(b.maxX, v.maxX + m), maxY: Math.min(b.maxY, v.maxY + m) };
      const whole = a.minX <= b.minX && a.minY <= b.minY && a.maxX >= b.maxX && a.maxY >= b.maxY;
      area = whole ? null : a;
    }
    if (JSON.stringify(area) === JSON.stringify(s.area)) return;
    s.area = area;
    if (s.version >= 2) send({ type: 'moveAreaRequest', subscription: s.sub, request: ++s.request, area });
    else send({ type: 'moveArea', subscription: s.sub, area });
  }, 250);
}

let drag = null;
canvas.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY, moved: false }; canvas.setPointerCapture(e.pointerId); });
canvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
  if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
  drag.x = e.clientX; drag.y = e.clientY;
  if (s.camera.mode === '3d') { s.camera.yaw -= dx * 0.005; s.camera.pitch = Math.min(1.5, Math.max(0.1, s.camera.pitch + dy * 0.005)); }
  else { s.camera.cx -= dx / s.camera.scale; s.camera.cy += dy / s.camera.scale; s.following = null; }
  viewChanged();
});
canvas.addEventListener('pointerup', (e) => {
  if (drag && !drag.moved) pick(e.clientX, e.clientY);
  drag = null;
});
canvas.addEventListener('wheel', (e) => {
  e.preventDefault();
  const f = Math.exp(-e.deltaY * 0.0015);
  if (s.camera.mode === '3d') { s.camera.distance /= f; return; }
  const r = canvas.getBoundingClientRect();
  const mx = s.camera.cx + (e.clientX - r.left - r.width / 2) / s.camera.scale, my = s.camera.cy - (e.clientY - r.top - r.height / 2) / s.camera.scale;
  zoomAround(mx, my, s.camera.scale * f);
}, { passive: false });
let pinch = null;
canvas.addEventListener('touchmove', (e) => {
  if (e.touches.length !== 2) { pinch = null; return; }
  e.preventDefault();
  const d = Math.hypot(e.touches[0].clientX - e.touches[1].clientX, e.touches[0].clientY - e.touches[1].clientY);
  if (pinch) zoomAround(s.camera.cx, s.camera.cy, s.camera.scale * d / pinch);
  pinch = d;
}, { passive: false });

function zoomAround(mx, my, scale) {
  const c = s.camera, k = scale / c.scale;
  c.cx = mx + (c.cx - mx) / k; c.cy = my + (c.cy - my) / k; c.scale = Math.min(200, Math.max(0.02, scale));
  viewChanged();
}

/** A click picks the entity nearest the pointer (within 12 px): the camera follows it. */
function pick(clientX, clientY) {
  const r = canvas.getBoundingClientRect();
  let best = null, bestD = 12;
  for (const [id, [x, y, z]] of s.positions) {
    const [px, py] = renderer.project(s.camera, x, y, s.camera.mode === '3d' ? z : 0);
    const d = Math.hypot(px - (clientX - r.left), py - (clientY - r.top));
    if (d < bestD) { bestD = d; best = id; }
  }
  s.following = best;
  panels.select(s, best);
}

document.addEventListener('keydown', (e) => { if (e.key === 'v' && e.target.tagName !== 'INPUT') toggleView(); });
$('view').addEventListener('click', toggleView);
function toggleView() {
  s.camera.mode = s.camera.mode === '2d' ? '3d' : '2d';
  $('view').textContent = s.camera.mode === '2d' ? '3D view (v)' : 'map view (v)';
  viewChanged();
}
$('scene').addEventListener('change', (e) => {
  if (s.sub) send({ type: 'unsubscribe', subscription: s.sub });
  join.leave();
  s.scene = e.target.value; s.placed = false;
  join.setScene(s.scene, s.scenes.find((sc) => sc.name === s.scene));
  history.replaceState(null, '', `?scene=${encodeURIComponent(s.scene)}`);
  subscribe();
});

// ---- drawing ------------------------------------------------------------------------------

let instances = new Float32Array(0), builtTick = null, builtAt = 0;
/** Previous and current positions and colours of every entity, for the GPU: rebuilt when a
 * tick arrives (the motion between ticks is the shader's `alpha`), or twice a second for
 * colours that change without one. */
function buildInstances(now) {
  if (builtTick === s.tick && now - builtAt < 500) return;
  builtTick = s.tick; builtAt = now;
  const n = s.positions.size;
  if (instances.length < n * 9) instances = new Float32Array(Math.max(n * 9, instances.length * 2));
  let k = 0;
  for (const [id, cur] of s.positions) {
    const prev = s.previous.get(id) ?? cur;
    const color = panels.colorOf(s, id, cur[3]) ?? PALETTE[cur[3] % PALETTE.length];
    instances[k] = prev[0]; instances[k + 1] = prev[1]; instances[k + 2] = prev[2];
    instances[k + 3] = cur[0]; instances[k + 4] = cur[1]; instances[k + 5] = cur[2];
    instances[k + 6] = color[0]; instances[k + 7] = color[1]; instances[k + 8] = color[2];
    k += 9;
  }
  renderer.setEntities(instances, n);
}

function frame() {
  const t0 = performance.now();
  if (s.info) {
    const interval = 1000 / s.info.tickRate;
    const alpha = Math.min(1, (t0 - s.tickTime) / interval);
    buildInstances(t0);
    if (s.following !== null && s.positions.has(s.following)) {
      const cur = s.positions.get(s.following), prev = s.previous.get(s.following) ?? cur;
      s.camera.cx = prev[0] + (cur[0] - prev[0]) * alpha; s.camera.cy = prev[1] + (cur[1] - prev[1]) * alpha;
      viewChanged();
    }
    renderer.draw(s.camera, alpha);
  }
  s.frameTimeMs = performance.now() - t0;
  requestAnimationFrame(frame);
}

function status(text, bad = false) { $('status').textContent = text; $('status').classList.toggle('bad', bad); }

setInterval(() => {
  const now = performance.now();
  s.bytes = s.bytes.filter(([t]) => now - t < 2000);
  const bytes = s.bytes.reduce((a, [, n]) => a + n, 0);
  s.bytesPerSecond = bytes / 2;
  if (!s.connected || s.tick === null) return;
  const ticks = Math.max(1, 2 * (s.info?.tickRate ?? 20));
  const bpet = s.entitiesInView ? bytes / ticks / s.entitiesInView : 0;
  status(`${s.scene}  tick ${s.tick}  ${s.entitiesInView} in view  ${(s.bytesPerSecond / 1000).toFixed(1)} kB/s  ` +
    `${bpet.toFixed(2)} B/entity/tick  latency ${s.latencyMs === null ? '?' : s.latencyMs.toFixed(0)} ms` +
    (s.following !== null ? `  following ${s.identities.get(s.following)?.label || '#' + s.following}` : ''));
}, 500);

// For tests and the curious: what the page sees, read-only.
window.twinscene = {
  get tick() { return s.tick; }, get entitiesInView() { return s.entitiesInView; }, get entities() { return s.positions.size; },
  get bytesPerSecond() { return s.bytesPerSecond; }, get following() { return s.following; }, get connected() { return s.connected; },
  get reconnects() { return s.reconnects; }, get lastError() { return s.lastError; }, get frames() { return s.frames; },
  get camera() { return { ...s.camera }; }, get area() { return s.area; }, get drawCalls() { return renderer.drawCalls; },
  get frameTimeMs() { return s.frameTimeMs; }, get decodeMs() { return s.decodeMs; }, get scene() { return s.scene; },
  get tickRate() { return s.info?.tickRate ?? null; },
  kindCode(name) { return s.info?.kinds.find((k) => k.name === name)?.code ?? null; },
  countAt(tick) { return s.counts.get(tick) ?? null; },
  position(id) { return s.positions.get(id) ?? null; },
  screenOf(id) { const p = s.positions.get(id); if (!p) return null; const r = canvas.getBoundingClientRect(); const [x, y] = renderer.project(s.camera, p[0], p[1]); return [x + r.left, y + r.top]; },
  screenOfPoint(x, y) { const r = canvas.getBoundingClientRect(); const [px, py] = renderer.project(s.camera, x, y); return [px + r.left, py + r.top]; },
  ids() { return [...s.positions.keys()]; },
  get participant() { return join.participant; }, get lastAck() { return join.lastAck; },
  get lastRefusal() { return join.lastRefusal; }, get speed() { return join.speed; }, get joinMode() { return join.mode; },
  zoomTo(x, y, scale) { s.following = null; s.camera.cx = x; s.camera.cy = y; s.camera.scale = scale; viewChanged(); },
};

await loadScenes().catch(() => status('cannot reach /api/scenes', true));
connect();
requestAnimationFrame(frame);
