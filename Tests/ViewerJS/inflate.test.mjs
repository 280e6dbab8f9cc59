// The page's DEFLATE decoder against node's zlib (an independent implementation): seeded
// random and repetitive data at every level and strategy, and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, constants } from 'node:zlib';
import { inflateRaw, InflateError } from '../../Sources/SceneWeb/Viewer/inflate.js';

function rng(seed) {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}

function sample(random, n) {
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n) {
    const mode = random();
    if (mode < 0.3) { out[i++] = Math.floor(random() * 256); }
    else if (mode < 0.6 && i > 0) {   // a run copied from earlier: matches at every distance
      const d = 1 + Math.floor(random() * Math.min(i, 40000)), len = 3 + Math.floor(random() * 300);
      for (let k = 0; k < len && i < n; k++, i++) out[i] = out[i - d];
    } else { const v = Math.floor(random() * 4); for (let k = 0; k < 20 && i < n; k++) out[i++] = v; }
  }
  return out;
}

test('inflates what zlib deflates, at every level and strategy (seed 20261202)', () => {
  const random = rng(20261202);
  const strategies = [constants.Z_DEFAULT_STRATEGY, constants.Z_FILTERED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FIXED];
  let cases = 0;
  for (const size of [0, 1, 17, 1000, 70000, 300000]) {
    const data = sample(random, size);
    for (const level of [0, 1, 6, 9]) {
      for (const strategy of strategies) {
        const packed = new Uint8Array(deflateRawSync(data, { level, strategy }));
        assert.deepEqual(inflateRaw(packed), data, `size ${size} level ${level} strategy ${strategy}`);
        cases++;
      }
    }
  }
  assert.equal(cases, 120);
});

test('refuses bad and truncated input, and output over its bound (seed 7)', () => {
  const random = rng(7);
  const data = sample(random, 20000);
  const packed = new Uint8Array(deflateRawSync(data));
  assert.throws(() => inflateRaw(packed.slice(0, packed.length >> 1)), InflateError);
  assert.throws(() => inflateRaw(new Uint8Array([0x07])), InflateError);             // block type 3
  assert.throws(() => inflateRaw(new Uint8Array([0x01, 0x05, 0x00, 0x00, 0x00])), InflateError);   // stored, length != ~nlen
  assert.throws(() => inflateRaw(packed, 1000), InflateError);                        // over maxLength
  // Random corruption: an InflateError or some output, never a hang or another exception.
  for (let k = 0; k < 300; k++) {
    const bad = packed.slice();
    for (let j = 0; j < 4; j++) bad[Math.floor(random() * bad.length)] ^= 1 << Math.floor(random() * 8);
    try { inflateRaw(bad, 1 << 20); } catch (e) { assert.ok(e instanceof InflateError, `${e}`); }
  }
});
