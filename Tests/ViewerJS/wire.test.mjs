// PROTOCOL.md's worked examples, byte for byte, through the JavaScript decoder (and the
// encoder for what clients send). Run: node --test viewer/test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { FrameReader, decode, encode, SceneState, Writer, heightsOf, WireError } from '../../Sources/SceneWeb/Viewer/wire.js';

const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
const examples = {};
for (const part of doc.split('<!-- example: ').slice(1)) {
  const name = part.slice(0, part.indexOf(' -->'));
  const hex = part.slice(part.indexOf('```hex\n') + 7, part.indexOf('\n```', part.indexOf('```hex\n')));
  examples[name] = Uint8Array.from(hex.split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16)));
}
const inflateRaw = (b) => new Uint8Array(inflateRawSync(b));
function one(name) {
  const frames = new FrameReader().push(examples[name]);
  assert.equal(frames.length, 1, `${name}: one whole frame`);
  return decode(frames[0].type, frames[0].payload, { inflateRaw });
}

test('every example is one whole frame that decodes', () => {
  assert.ok(Object.keys(examples).length >= 26, `examples found: ${Object.keys(examples).length}`);
  for (const name of Object.keys(examples)) assert.doesNotThrow(() => one(name), name);
});

test('client messages encode to the documented bytes', () => {
  const cases = {
    hello: { type: 'hello', minVersion: 1, maxVersion: 1, client: 'py' },
    helloV2: { type: 'hello', minVersion: 1, maxVersion: 2, client: 'web' },
    listScenes: { type: 'listScenes' },
    subscribe: { type: 'subscribe', subscription: 1, scene: 'district', area: { minX: 0, minY: 0, maxX: 200, maxY: 150 } },
    subscribeWhole: { type: 'subscribe', subscription: 2, scene: 'district', area: null },
    unsubscribe: { type: 'unsubscribe', subscription: 1 },
    moveArea: { type: 'moveArea', subscription: 1, area: { minX: 100, minY: 0, maxX: 300, maxY: 150 } },
    moveAreaRequest: { type: 'moveAreaRequest', subscription: 1, request: 7, area: { minX: 100, minY: 0, maxX: 300, maxY: 150 } },
    control: { type: 'control', token: 's3cret', scene: 'district', command: 'step', argument: 10 },
    ping: { type: 'ping', nonce: 1, timeMicros: 1000 },
    join: { type: 'join', request: 1, scene: 'marathon', name: 'Zoë', wave: 2, joinToken: '', resumeToken: '' },
    inputTreadmill: { type: 'input', participant: 10301, sequence: 1, mode: 'treadmill', speed: 3.5 },
    inputHeading: { type: 'input', participant: 10301, sequence: 2, mode: 'heading', heading: Math.fround(Math.PI / 2), speed: 2 },
    inputFix: { type: 'input', participant: 10301, sequence: 3, mode: 'fix', x: 120.5, y: 8.25, timeMicros: 1733000000000000 },
    leave: { type: 'leave', participant: 10301 },
  };
  for (const [name, m] of Object.entries(cases)) {
    assert.deepEqual([...encode(m)], [...examples[name]], name);
    assert.deepEqual(one(name), m, `${name} decodes back`);
  }
});

test('version 3 answers decode to the documented values', () => {
  assert.deepEqual(one('joined'), { type: 'joined', request: 1, participant: 10301, tick: 1200, x: 12.5, y: 330.25, maxSpeed: 12.5, maxAcceleration: 5,
                                    resumeToken: '5f0c2a9e71d34b68a0e1c4f29b7d3e51' });
  assert.deepEqual(one('inputAck'), { type: 'inputAck', participant: 10301, sequence: 3, tick: 1205, x: 14.25, y: 330.25 });
  assert.deepEqual(one('refused'), { type: 'refused', request: 4, code: 29, count: 1, message: 'too fast' });
});

test('server messages decode to the documented values', () => {
  assert.deepEqual(one('welcome'), { type: 'welcome', version: 1, maxFrameBytes: 16777216, serverTimeMicros: 1700000000000000, server: 'twinscene' });
  assert.deepEqual(one('sceneList').scenes, [{ name: 'district', scenario: 'walkers', entities: 2000, tickRate: 20 }]);
  const info = one('sceneInfo');
  assert.equal(info.epsg, 7415); assert.equal(info.originX, 85000); assert.equal(info.quantum, 0.01);
  assert.deepEqual(info.bounds, { minX: 0, minY: 0, maxX: 576, maxY: 336 });
  assert.equal(info.cellColumns, 9); assert.equal(info.cellRows, 6); assert.equal(info.version, 1);
  assert.deepEqual(info.kinds, [{ code: 1, name: 'runner', attributes: [{ name: 'bib', type: 1 }], zRange: null }]);
  const info2 = one('sceneInfoV2');
  assert.equal(info2.version, 2);
  assert.deepEqual(info2.kinds.map((k) => k.zRange), [null, [-1, 60]]);
  assert.deepEqual(heightsOf(info2), { 2: [-100, 6000] });
  const geometry = one('staticGeometry');
  assert.deepEqual(geometry.buildings, [{ heightDecimetres: 125, rings: [[[1000, 1000], [3000, 1000], [3000, 2500], [1000, 2500]]] }]);
  const attributes = one('attributes');
  assert.equal(attributes.snapshot, false);
  assert.deepEqual(attributes.values.map((v) => [v.entity, v.attribute]), [[3, 0], [7, 2]]);
  assert.equal(attributes.values[0].bits, 1234);
  assert.equal(new DataView(Uint32Array.of(attributes.values[1].bits).buffer).getFloat32(0, true), 312.5);
  assert.deepEqual(one('events').events, [{ entity: 7, kind: 100, value: 1 }]);
  assert.deepEqual(one('controlResult'), { type: 'controlResult', ok: true, message: 'ok' });
  assert.deepEqual(one('pong'), { type: 'pong', nonce: 1, echoedMicros: 1000, serverTimeMicros: 2000 });
  assert.deepEqual(one('error'), { type: 'error', code: 6, message: 'no scene' });
  assert.deepEqual(one('goodbye'), { type: 'goodbye', reason: 'bye' });
  assert.deepEqual(one('entityInfo').entities, [
    { entity: 3, kind: 1, key: 'bib-17', label: 'Zoë de Vries', group: 'wave 1', number: 17 },
    { entity: 9, kind: 2, key: 'ball', label: 'ball', group: 'ball', number: 0 },
  ]);
  assert.deepEqual(one('areaMoved'), { type: 'areaMoved', subscription: 1, request: 7, tick: 42 });
});

test('the example frames decode to the documented positions', () => {
  const state = new SceneState({ inflateRaw });
  const key = one('stateFrameKeyframe');
  assert.equal(key.tick, 41); assert.equal(key.resync, true);
  state.apply(key);
  assert.deepEqual(state.entities().map((e) => [e.id, e.qx, e.qy, e.vx, e.vy]), [[3, 100, 200, 1, 0], [7, 150, 200, 1, 0]]);
  const delta = one('stateFrameDelta');
  assert.equal(delta.tick, null);
  state.apply(delta);
  assert.equal(state.tick, 42);
  assert.deepEqual(state.entities().map((e) => [e.id, e.kind, e.qx, e.qy, e.vx, e.vy]),
    [[3, 1, 101, 200, 1, 0], [7, 1, 150, 200, 0, 0], [9, 2, 300, 50, 0, 0]]);
  const three = new SceneState({ heights: heightsOf(one('sceneInfoV2')), inflateRaw });
  three.apply(one('stateFrameKeyframe3D'));
  assert.deepEqual(three.entities().map((e) => [e.id, e.qz, e.vz]), [[3, null, 0], [4, 120, 3]]);
});

test('bad input is a WireError, never a crash (seeded)', () => {
  let seed = Number(process.env.TWINSCENE_FUZZ_SEED ?? 20261201);
  console.log(`fuzz seed ${seed}`);
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
    const type = 1 + Math.floor(rand() * 0x16);
    try { decode(type, bytes, { inflateRaw }); } catch (e) { if (!(e instanceof WireError)) throw e; errors++; }
    try { new SceneState({ inflateRaw, heights: { 2: [-100, 6000] } }).apply({ resync: true, tick: 1, cells: [bytes] }); } catch (e) { if (!(e instanceof WireError)) throw e; }
  }
  assert.ok(errors > 2500);
  // Texts over 64 bytes and broken UTF-8 in EntityInfo are refused.
  const info = (key) => Uint8Array.from([1, 1, 5, 1, key.length, ...key, 0, 0, 0]);
  assert.throws(() => decode(0x13, info(new Array(65).fill(0x61))), /over the limit of 64/);
  assert.throws(() => decode(0x13, info([0x61, 0xc3, 0x28])), /not UTF-8/);
  assert.throws(() => new FrameReader(100).push(Uint8Array.from([0xff, 0x01])), /exceeds the limit/);
});

test('empty cells take enterers on their own: a delta updates no cell another holds', () => {
  // Stored (codec 0) blocks, built from PROTOCOL.md section 4: cell, kind | codec << 4, raw
  // length, length, payload.
  const block = (cell, kind, payload) => new Writer().varint(cell).u8(kind).varint(payload.length).varint(payload.length).bytes(payload).toBytes();
  const zig = (v) => (v >= 0 ? 2 * v : -2 * v - 1);
  const empty = new Writer().varint(0).toBytes();
  // A delta: nobody leaves, one enters (id, kind, x, y, vx, vy, and z, vz for a height kind).
  const enter = (id, kind, x, y, z) => {
    const w = new Writer().varint(0).varint(1).varint(id).u8(kind).varint(zig(x)).varint(zig(y)).varint(0).varint(0);
    if (z !== undefined) w.varint(zig(z)).varint(0);
    return w.toBytes();
  };
  const state = new SceneState({ inflateRaw, heights: { 2: [-100, 6000] } });
  state.apply({ resync: true, tick: 1, cells: [block(0, 0, empty), block(1, 0, empty), block(2, 0, empty)] });
  assert.equal(state.count, 0);
  state.apply({ resync: false, tick: 2, cells: [block(0, 1, enter(5, 2, 10, 20, 150)), block(1, 1, enter(9, 1, 30, 40)), block(2, 1, new Writer().varint(0).varint(0).toBytes())] });
  assert.deepEqual(state.entities().map((e) => [e.id, e.kind, e.qx, e.qy, e.qz]), [[5, 2, 10, 20, 150], [9, 1, 30, 40, null]]);
  // The next empty keyframe starts from nothing, whatever the deltas did before.
  state.apply({ resync: true, tick: 3, cells: [block(0, 0, empty)] });
  state.apply({ resync: false, tick: 4, cells: [block(0, 1, enter(7, 1, 1, 2))] });
  assert.deepEqual(state.entities().map((e) => [e.id, e.qx, e.qy]), [[7, 1, 2]]);
});
