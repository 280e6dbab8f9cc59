// The twinscene wire protocol (docs/PROTOCOL.md, versions 1 to 3) in plain JavaScript:
// framing, every message, and the cell-state decoder. No dependencies; DEFLATE is passed in
// (`inflateRaw(bytes) -> Uint8Array`: node's zlib.inflateRawSync, or the page's own).

export const VERSION = 3;
export const MIN_VERSION = 1;
export const MAGIC = [0x54, 0x57, 0x53, 0x4e]; // "TWSN"

export const Type = Object.freeze({
  hello: 0x01, welcome: 0x02, listScenes: 0x03, sceneList: 0x04, subscribe: 0x05,
  unsubscribe: 0x06, moveArea: 0x07, sceneInfo: 0x08, staticGeometry: 0x09, stateFrame: 0x0a,
  events: 0x0b, control: 0x0c, controlResult: 0x0d, ping: 0x0e, pong: 0x0f, error: 0x10,
  goodbye: 0x11, attributes: 0x12, entityInfo: 0x13, moveAreaRequest: 0x14, areaMoved: 0x15,
  join: 0x16, joined: 0x17, input: 0x18, inputAck: 0x19, leave: 0x1a, refused: 0x1b,
});

/** Version 3's input modes (Input's `mode`). */
export const InputMode = Object.freeze({ heading: 1, treadmill: 2, fix: 3 });
const typeName = Object.fromEntries(Object.entries(Type).map(([k, v]) => [v, k]));

export class WireError extends Error {}

/** Reads big-endian integers, varints and strings from a payload, refusing to read past it. */
export class Reader {
  constructor(bytes) { this.b = bytes; this.at = 0; this.dv = null; }
  /** Made on the first fixed-width read: most readers (cell blocks) only read bytes and varints. */
  get view() { return this.dv ?? (this.dv = new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength)); }
  get remaining() { return this.b.length - this.at; }
  need(n, what) { if (this.remaining < n) throw new WireError(`truncated ${what}`); }
  u8(what = 'u8') { this.need(1, what); return this.b[this.at++]; }
  u16(what = 'u16') { this.need(2, what); const v = this.view.getUint16(this.at); this.at += 2; return v; }
  u32(what = 'u32') { this.need(4, what); const v = this.view.getUint32(this.at); this.at += 4; return v; }
  u64(what = 'u64') { this.need(8, what); const v = this.view.getBigUint64(this.at); this.at += 8; return Number(v); }
  f32(what = 'f32') { this.need(4, what); const v = this.view.getFloat32(this.at); this.at += 4; return v; }
  f64(what = 'f64') { this.need(8, what); const v = this.view.getFloat64(this.at); this.at += 8; return v; }
  bytes(n, what) { this.need(n, what); const v = this.b.subarray(this.at, this.at + n); this.at += n; return v; }
  /** Unsigned LEB128, at most 10 bytes; exact below 2^53. */
  varint(what = 'varint') {
    let result = 0, scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8(what);
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new WireError(`${what}: varint longer than 10 bytes`);
  }
  zigzag(what) { const u = this.varint(what); return u % 2 === 0 ? u / 2 : -(u + 1) / 2; }
  count(limit, what) { const n = this.varint(what); if (n > limit) throw new WireError(`malformed ${what}: ${n} exceeds ${limit}`); return n; }
  text(decoder, n, what) {
    try { return decoder.decode(this.bytes(n, what)); } catch { throw new WireError(`malformed ${what}: not UTF-8`); }
  }
  string(what) { return this.text(utf8, this.u16(`${what} length`), what); }
  shortText(what) {
    const n = this.u8(`${what} length`);
    if (n > 64) throw new WireError(`malformed ${what}: ${n} bytes, over the limit of 64`);
    return this.text(utf8, n, what);
  }
  area() {
    const present = this.u8('area flag');
    if (present === 0) return null;
    if (present !== 1) throw new WireError(`malformed area flag ${present}`);
    const a = { minX: this.f64('area'), minY: this.f64('area'), maxX: this.f64('area'), maxY: this.f64('area') };
    if (![a.minX, a.minY, a.maxX, a.maxY].every(Number.isFinite) || a.minX > a.maxX || a.minY > a.maxY) throw new WireError('malformed area');
    return a;
  }
}
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Out = new TextEncoder();

/** Builds payloads: big-endian integers, varints, strings. */
export class Writer {
  constructor() { this.parts = []; }
  u8(v) { this.parts.push(v & 0xff); return this; }
  u16(v) { return this.u8(v >> 8).u8(v); }
  u32(v) { return this.u8(v >>> 24).u8(v >>> 16).u8(v >>> 8).u8(v); }
  u64(v) { const b = BigInt(v); for (let s = 56n; s >= 0n; s -= 8n) this.u8(Number((b >> s) & 0xffn)); return this; }
  f32(v) { const d = new DataView(new ArrayBuffer(4)); d.setFloat32(0, v); for (let i = 0; i < 4; i++) this.u8(d.getUint8(i)); return this; }
  f64(v) { const d = new DataView(new ArrayBuffer(8)); d.setFloat64(0, v); for (let i = 0; i < 8; i++) this.u8(d.getUint8(i)); return this; }
  bytes(a) { for (const x of a) this.u8(x); return this; }
  varint(v) { let n = v; while (n >= 128) { this.u8((n % 128) | 0x80); n = Math.floor(n / 128); } return this.u8(n); }
  string(s) { const b = utf8Out.encode(s); return this.u16(b.length).bytes(b); }
  area(a) { if (!a) return this.u8(0); return this.u8(1).f64(a.minX).f64(a.minY).f64(a.maxX).f64(a.maxY); }
  toBytes() { return Uint8Array.from(this.parts); }
}

/** A whole frame: varint length, type byte, payload. */
export function frame(type, payload) {
  const w = new Writer().varint(payload.length + 1).u8(type);
  const head = w.toBytes(), out = new Uint8Array(head.length + payload.length);
  out.set(head); out.set(payload, head.length);
  return out;
}

/** Cuts a byte stream into frames (type, payload), refusing lengths over `maxFrameBytes`. */
export class FrameReader {
  constructor(maxFrameBytes = 16 << 20) { this.max = maxFrameBytes; this.buf = new Uint8Array(0); }
  push(bytes) {
    const next = new Uint8Array(this.buf.length + bytes.length);
    next.set(this.buf); next.set(bytes, this.buf.length);
    this.buf = next;
    const frames = [];
    for (;;) {
      let length = 0, scale = 1, i = 0;
      for (; i < 4 && i < this.buf.length; i++) {
        length += (this.buf[i] & 0x7f) * scale; scale *= 128;
        if ((this.buf[i] & 0x80) === 0) break;
      }
      if (i === 4) throw new WireError('frame length prefix longer than 4 bytes');
      if (i >= this.buf.length) return frames;   // the prefix is not complete yet
      if (length === 0) throw new WireError('frame of length 0');
      if (length > this.max) throw new WireError(`frame of ${length} bytes exceeds the limit of ${this.max}`);
      const start = i + 1;
      if (this.buf.length < start + length) return frames;
      frames.push({ type: this.buf[start], payload: this.buf.slice(start + 1, start + length) });
      this.buf = this.buf.slice(start + length);
    }
  }
}

/** Encodes the messages a client sends. */
export function encode(m) {
  const w = new Writer();
  switch (m.type) {
    case 'hello': w.bytes(MAGIC).u16(m.minVersion).u16(m.maxVersion).string(m.client); break;
    case 'listScenes': break;
    case 'subscribe': w.u32(m.subscription).string(m.scene).area(m.area); break;
    case 'unsubscribe': w.u32(m.subscription); break;
    case 'moveArea': w.u32(m.subscription).area(m.area); break;
    case 'moveAreaRequest': w.u32(m.subscription).u32(m.request).area(m.area); break;
    case 'control': {
      const ops = { pause: 1, resume: 2, step: 3, speed: 4, reset: 5, loadTile: 6, listClients: 7, fault: 8 };
      w.string(m.token).string(m.scene).u8(ops[m.command]);
      if (m.command === 'step' || m.command === 'fault') w.u32(m.argument);
      if (m.command === 'speed') w.f32(m.argument);
      if (m.command === 'reset') w.u64(m.argument);
      if (m.command === 'loadTile') w.string(m.argument);
      break;
    }
    case 'ping': w.u64(m.nonce).u64(m.timeMicros); break;
    case 'join':
      w.u32(m.request).string(m.scene).string(m.name).u8(m.wave ?? 0).string(m.joinToken ?? '').string(m.resumeToken ?? '');
      break;
    case 'input': {
      w.u32(m.participant).u32(m.sequence).u8(InputMode[m.mode]);
      if (m.mode === 'heading') w.f32(m.heading).f32(m.speed);
      else if (m.mode === 'treadmill') w.f32(m.speed);
      else if (m.mode === 'fix') w.f32(m.x).f32(m.y).u64(m.timeMicros);
      else throw new WireError(`unknown input mode ${m.mode}`);
      break;
    }
    case 'leave': w.u32(m.participant); break;
    default: throw new WireError(`a client does not send ${m.type}`);
  }
  return frame(Type[m.type], w.toBytes());
}

/** Decodes one frame's payload into a plain object; throws WireError on anything malformed. */
export function decode(type, payload, { inflateRaw } = {}) {
  const r = new Reader(payload);
  const name = typeName[type];
  if (!name) throw new WireError(`unknown message type 0x${type.toString(16)}`);
  let m;
  switch (name) {
    case 'hello': {
      const magic = r.bytes(4, 'hello magic');
      if (!MAGIC.every((b, i) => magic[i] === b)) throw new WireError('malformed hello: wrong magic');
      m = { minVersion: r.u16(), maxVersion: r.u16(), client: r.string('client name') }; break;
    }
    case 'welcome': m = { version: r.u16(), maxFrameBytes: r.u32(), serverTimeMicros: r.u64(), server: r.string('server name') }; break;
    case 'listScenes': m = {}; break;
    case 'sceneList': {
      const n = r.u16(); const scenes = [];
      for (let i = 0; i < n; i++) scenes.push({ name: r.string('scene'), scenario: r.string('scenario'), entities: r.u32(), tickRate: r.u16() });
      m = { scenes }; break;
    }
    case 'subscribe': m = { subscription: r.u32(), scene: r.string('scene'), area: r.area() }; break;
    case 'unsubscribe': m = { subscription: r.u32() }; break;
    case 'moveArea': m = { subscription: r.u32(), area: r.area() }; break;
    case 'moveAreaRequest': m = { subscription: r.u32(), request: r.u32(), area: r.area() }; break;
    case 'areaMoved': m = { subscription: r.u32(), request: r.u32(), tick: r.u64() }; break;
    case 'sceneInfo': m = sceneInfo(r); break;
    case 'staticGeometry': m = staticGeometry(r, inflateRaw); break;
    case 'stateFrame': {
      const flags = r.u8('flags');
      if (flags > 15) throw new WireError(`malformed state frame flags ${flags}`);
      m = { subscription: r.varint(), resync: (flags & 1) !== 0 };
      m.tick = flags & 2 ? r.varint() : null;
      m.serverTimeMicros = flags & 4 ? r.varint() : null;
      if (m.resync && m.tick === null) throw new WireError('malformed: a resync frame must carry its tick');
      m.cells = [];
      if (flags & 8) { while (r.remaining > 0) m.cells.push(sliceBlock(r)); }
      else { const n = r.count(payload.length, 'cell count'); for (let i = 0; i < n; i++) m.cells.push(sliceBlock(r)); }
      break;
    }
    case 'events': {
      m = { subscription: r.u32(), tick: r.u64(), events: [] };
      const n = r.count(payload.length, 'event count');
      for (let i = 0; i < n; i++) m.events.push({ entity: r.varint(), kind: r.u16(), value: r.f32() });
      break;
    }
    case 'attributes': {
      m = { subscription: r.varint(), tick: r.varint(), snapshot: r.u8() === 1, values: [] };
      const n = r.count(payload.length / 6, 'attribute count'); let id = 0;
      for (let i = 0; i < n; i++) { id += r.varint(); m.values.push({ entity: id, attribute: r.u8(), bits: r.u32() }); }
      break;
    }
    case 'entityInfo': {
      m = { subscription: r.varint(), entities: [] };
      const n = r.count(payload.length / 6, 'entity info count'); let id = 0;
      for (let i = 0; i < n; i++) {
        id += r.varint();
        m.entities.push({ entity: id, kind: r.u8(), key: r.shortText('entity key'), label: r.shortText('entity label'),
                          group: r.shortText('entity group'), number: r.varint() });
      }
      break;
    }
    case 'control': {
      m = { token: r.string('token'), scene: r.string('scene') };
      const op = r.u8();
      const names = [null, 'pause', 'resume', 'step', 'speed', 'reset', 'loadTile', 'listClients', 'fault'];
      if (!names[op]) throw new WireError(`malformed control opcode ${op}`);
      m.command = names[op];
      if (op === 3 || op === 8) m.argument = r.u32();
      if (op === 4) m.argument = r.f32();
      if (op === 5) m.argument = r.u64();
      if (op === 6) m.argument = r.string('tile');
      break;
    }
    case 'controlResult': m = { ok: r.u8() === 1, message: r.string('message') }; break;
    case 'ping': m = { nonce: r.u64(), timeMicros: r.u64() }; break;
    case 'pong': m = { nonce: r.u64(), echoedMicros: r.u64(), serverTimeMicros: r.u64() }; break;
    case 'error': m = { code: r.u16(), message: r.string('error message') }; break;
    case 'goodbye': m = { reason: r.string('reason') }; break;
    case 'join':
      m = { request: r.u32(), scene: r.string('scene'), name: r.string('name'), wave: r.u8(),
            joinToken: r.string('join token'), resumeToken: r.string('resume token') };
      break;
    case 'joined':
      m = { request: r.u32(), participant: r.u32(), tick: r.u64(), x: r.f32(), y: r.f32(), maxSpeed: r.f32(), maxAcceleration: r.f32(),
            resumeToken: r.string('resume token') };
      break;
    case 'input': {
      m = { participant: r.u32(), sequence: r.u32() };
      const mode = r.u8();
      if (mode === 1) Object.assign(m, { mode: 'heading', heading: r.f32(), speed: r.f32() });
      else if (mode === 2) Object.assign(m, { mode: 'treadmill', speed: r.f32() });
      else if (mode === 3) Object.assign(m, { mode: 'fix', x: r.f32(), y: r.f32(), timeMicros: r.u64() });
      else throw new WireError(`malformed input mode ${mode}`);
      break;
    }
    case 'inputAck': m = { participant: r.u32(), sequence: r.u32(), tick: r.u64(), x: r.f32(), y: r.f32() }; break;
    case 'leave': m = { participant: r.u32() }; break;
    case 'refused': m = { request: r.u32(), code: r.u16(), count: r.u32(), message: r.string('refusal message') }; break;
  }
  if (r.remaining !== 0) throw new WireError(`malformed: ${r.remaining} unexpected bytes after a ${name} message`);
  return { type: name, ...m };
}

function sceneInfo(r) {
  const m = { subscription: r.u32(), scene: r.string('scene'), epsg: r.u32(), originX: r.f64(), originY: r.f64(), quantum: r.f64(),
              tickRate: r.u16() };
  m.bounds = r.area();
  if (!m.bounds) throw new WireError('malformed scene info: bounds missing');
  m.cellSize = r.f64(); m.cellColumns = r.u16(); m.cellRows = r.u16();
  const nk = r.u8(); m.kinds = [];
  for (let k = 0; k < nk; k++) {
    const kind = { code: r.u8(), name: r.string('kind name'), attributes: [], zRange: null };
    const na = r.u8();
    for (let a = 0; a < na; a++) {
      const name = r.string('attribute name'), type = r.u8();
      if (type > 1) throw new WireError(`malformed attribute type ${type}`);
      kind.attributes.push({ name, type });
    }
    m.kinds.push(kind);
  }
  m.version = 1;
  if (r.remaining > 0) {   // version 2: each kind's dimensions
    m.version = 2;
    for (const kind of m.kinds) {
      const d = r.u8('dimensions');
      if (d === 3) {
        const lo = r.f32(), hi = r.f32();
        if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) throw new WireError('malformed z range');
        kind.zRange = [lo, hi];
      } else if (d !== 2) throw new WireError(`malformed: ${d} dimensions`);
    }
  }
  if (!(m.quantum > 0 && m.cellSize > 0)) throw new WireError('malformed scene info: quantum and cell size must be positive');
  return m;
}

function staticGeometry(r, inflateRaw) {
  const subscription = r.u32(), rawLength = r.u32(), packedLength = r.u32();
  const raw = new Reader(inflateExactly(inflateRaw, r.bytes(packedLength, 'static geometry'), rawLength));
  const n = raw.count(rawLength, 'building count'); const buildings = [];
  for (let i = 0; i < n; i++) {
    const heightDecimetres = raw.u16(); const rings = [];
    const nr = raw.count(raw.remaining, 'ring count');
    for (let k = 0; k < nr; k++) {
      const np = raw.count(raw.remaining, 'point count'); const ring = []; let x = 0, y = 0;
      for (let p = 0; p < np; p++) { x += raw.zigzag(); y += raw.zigzag(); ring.push([x, y]); }
      rings.push(ring);
    }
    buildings.push({ heightDecimetres, rings });
  }
  if (raw.remaining !== 0) throw new WireError('malformed static geometry: bytes after the buildings');
  return { subscription, buildings };
}

function inflateExactly(inflateRaw, packed, rawLength) {
  if (!inflateRaw) throw new WireError('no inflateRaw given for a DEFLATE payload');
  let out;
  try { out = inflateRaw(packed); } catch (e) { throw new WireError(`bad compressed block: ${e.message}`); }
  if (out.length !== rawLength) throw new WireError(`bad compressed block: ${out.length} bytes, announced ${rawLength}`);
  return out;
}

/** The next whole cell block (header checked only). */
function sliceBlock(r) {
  const start = r.at;
  r.varint('cell'); const kc = r.u8('cell kind');
  if ((kc >> 4) < 2) r.varint('raw length');
  const n = r.count(r.remaining, 'cell block length');
  r.bytes(n, 'cell block');
  return r.b.subarray(start, r.at);
}

/**
 * Golomb-Rice codes, most significant bit first; q >= 16 escapes to 16 ones and 40 bits.
 * Bits are taken from a 32-bit window refilled a byte at a time: the unary part of a short
 * code is one count of leading ones (Math.clz32), its remainder one shift.
 */
class RiceReader {
  constructor(bytes, from, k) {
    this.b = bytes; this.pos = from; this.k = k; this.scale = 2 ** k;
    this.acc = 0;    // valid bits at the top, the rest zero
    this.avail = 0;  // how many of acc's bits are valid
  }
  refill() {
    while (this.avail <= 24 && this.pos < this.b.length) {
      this.acc = (this.acc | (this.b[this.pos++] << (24 - this.avail))) >>> 0;
      this.avail += 8;
    }
  }
  /** Drops n (< 32) bits from the window. */
  skip(n) { this.acc = (this.acc << n) >>> 0; this.avail -= n; }
  readBit() {
    if (this.avail === 0) { this.refill(); if (this.avail === 0) throw new WireError('truncated Rice code'); }
    const v = this.acc >>> 31; this.skip(1); return v;
  }
  /** n bits at once (n <= 40), most significant first. */
  bits(n) {
    let v = 0, left = n;
    while (left > 0) {
      this.refill();
      const take = Math.min(left, 16, this.avail);
      if (take === 0) throw new WireError('truncated Rice code');
      v = v * (1 << take) + (this.acc >>> (32 - take));
      this.skip(take); left -= take;
    }
    return v;
  }
  next() {
    this.refill();
    const ones = Math.clz32(~this.acc);
    // The common case: the zero ending the unary part and the k remainder bits are in the window.
    if (ones < 16 && ones + 1 + this.k <= this.avail) {
      this.skip(ones + 1);
      if (this.k === 0) return ones;
      const rest = this.acc >>> (32 - this.k);
      this.skip(this.k);
      return (ones << this.k) | rest;   // under 2^28: integer arithmetic
    }
    // Long codes, escapes and the end of the block: bit by bit.
    let q = 0;
    while (q < 16 && this.readBit() === 1) q++;
    if (q === 16) return this.bits(40);
    return q * this.scale + (this.k ? this.bits(this.k) : 0);
  }
  /** The block bytes read so far, up to the last bit used (counted from the block's start). */
  get bytesUsed() { return this.pos - (this.avail >> 3); }
}
/** Scratch for a block's residuals (grown as needed, reused: one decoder runs at a time). */
let scratch = new Float64Array(4096);

/**
 * Decodes `count` Rice codes (parameter k) from bit 0 of `bytes[from]` into `scratch`, zigzag
 * undone, in one loop on local variables; returns how many bytes they took (the last partly).
 * A code whose unary part reaches 16 ones escapes to a 40-bit value, as `RiceReader.next`.
 */
function riceBlock(bytes, from, k, count) {
  if (scratch.length < count) scratch = new Float64Array(Math.max(count, 2 * scratch.length));
  const out = scratch, end = bytes.length;
  let pos = from, acc = 0, avail = 0;
  for (let c = 0; c < count; c++) {
    while (avail <= 24 && pos < end) { acc = (acc | (bytes[pos++] << (24 - avail))) >>> 0; avail += 8; }
    const ones = Math.clz32(~acc);
    if (ones < 16 && ones + 1 + k <= avail) {
      acc = (acc << (ones + 1)) >>> 0; avail -= ones + 1;
      let u = ones;
      if (k !== 0) { u = (ones << k) | (acc >>> (32 - k)); acc = (acc << k) >>> 0; avail -= k; }
      out[c] = (u >>> 1) ^ -(u & 1);
      continue;
    }
    // Long codes, escapes and the block's end: through the general reader, then back.
    const slow = new RiceReader(bytes, pos, k);
    slow.acc = acc; slow.avail = avail;
    out[c] = unzig(slow.next());
    pos = slow.pos; acc = slow.acc; avail = slow.avail;
  }
  return pos - (avail >> 3);
}

/** Zigzag back to a signed value; integer arithmetic below 2^31 (nearly always), exact above. */
const unzig = (u) => (u <= 0x7fffffff ? (u >>> 1) ^ -(u & 1) : (u % 2 === 0 ? u / 2 : -(u + 1) / 2));
const INT32 = [-(2 ** 31), 2 ** 31 - 1];

/** Residuals as varints (blocks not Rice-coded), zigzagged like Rice codes, behind the same call as `RiceReader`. */
class VarintResiduals {
  constructor(r) { this.r = r; }
  next() { return this.r.varint(); }
}

/**
 * One cell's entities, sorted by id, as columns: ids, kinds, quantised positions and the
 * step since the previous tick (the velocity a delta predicts from). `qz`/`vz` exist where
 * the scene has height kinds; an entity of another kind has qz NaN. The columns may be
 * longer than `n` (room to grow): a delta updates a cell in place.
 */
class Cell {
  constructor(capacity, withHeights) {
    this.n = 0;
    this.id = new Uint32Array(capacity); this.kind = new Uint8Array(capacity);
    this.qx = new Float64Array(capacity); this.qy = new Float64Array(capacity);
    this.vx = new Float64Array(capacity); this.vy = new Float64Array(capacity);
    this.qz = withHeights ? new Float64Array(capacity).fill(NaN) : null;
    this.vz = withHeights ? new Float64Array(capacity) : null;
  }
  get capacity() { return this.id.length; }
  /** Copies entity i of `from` to slot j. */
  copy(j, from, i) {
    this.id[j] = from.id[i]; this.kind[j] = from.kind[i];
    this.qx[j] = from.qx[i]; this.qy[j] = from.qy[i]; this.vx[j] = from.vx[i]; this.vy[j] = from.vy[i];
    if (this.qz) { this.qz[j] = from.qz[i]; this.vz[j] = from.vz[i]; }
  }
  entity(i) {
    return { id: this.id[i], kind: this.kind[i], qx: this.qx[i], qy: this.qy[i], vx: this.vx[i], vy: this.vy[i],
      qz: this.qz && !Number.isNaN(this.qz[i]) ? this.qz[i] : null, vz: this.qz && !Number.isNaN(this.qz[i]) ? this.vz[i] : 0 };
  }
}
/** A delta's enterers when there are none: read only, never stored in a state. */
const NO_ENTRIES = new Cell(0, false);

/**
 * A subscriber's copy of the scene's entities, cell by cell, rebuilt from StateFrames
 * exactly as docs/PROTOCOL.md section 4 says. `heights`: kind code -> [qzMin, qzMax] for
 * version 2's height kinds (see `heightsOf`).
 */
export class SceneState {
  constructor({ heights = null, inflateRaw } = {}) { this.cells = new Map(); this.tick = null; this.heights = heights; this.inflateRaw = inflateRaw; }

  apply(m) {
    const tick = m.tick ?? (this.tick === null ? null : this.tick + 1);
    if (tick === null) throw new WireError('out of order: the first state frame must carry its tick');
    const blocks = m.cells.map((b) => this.open(b));
    if (m.resync) this.cells.clear();
    else {
      if (this.tick === null) throw new WireError('out of order: the first state frame must be a resync');
      if (tick !== this.tick + 1) throw new WireError(`out of order: tick ${tick} after ${this.tick}`);
      const present = new Set(blocks.map((b) => b.cell));
      for (const [c, s] of this.cells) if (s.n && !present.has(c)) throw new WireError(`out of order: no delta for cell ${c}`);
    }
    const seen = new Set();
    for (const b of blocks) {
      if (seen.has(b.cell)) throw new WireError(`malformed: cell ${b.cell} twice in one frame`);
      seen.add(b.cell);
      if (b.kind === 0) this.cells.set(b.cell, this.keyframe(new Reader(b.payload)));
      else if (b.kind === 1) {
        if (m.resync) throw new WireError('out of order: a delta in a resync frame');
        const next = this.delta(this.cells.get(b.cell) ?? new Cell(0, this.heights !== null), b);
        // A cell that empties is dropped; its columns go with it.
        if (next.n) this.cells.set(b.cell, next); else this.cells.delete(b.cell);
      } else this.cells.delete(b.cell);
    }
    this.tick = tick;
  }

  open(block) {
    const r = new Reader(block);
    const cell = r.varint('cell'), kc = r.u8('cell kind'), kind = kc & 15, codec = kc >> 4;
    if (kind > 2) throw new WireError(`malformed cell kind ${kind}`);
    if (codec >= 2) {
      if (kind !== 1 || codec > 14) throw new WireError(`malformed cell codec ${codec}`);
      const n = r.count(r.remaining, 'cell block length');
      return { cell, kind, payload: r.bytes(n, 'cell block'), riceK: codec - 2 };
    }
    const raw = r.count(8 << 20, 'cell payload length'), n = r.count(r.remaining, 'cell block length');
    const packed = r.bytes(n, 'cell block');
    if (codec === 0) { if (raw !== n) throw new WireError('malformed stored cell block'); return { cell, kind, payload: packed, riceK: null }; }
    return { cell, kind, payload: inflateExactly(this.inflateRaw, packed, raw), riceK: null };
  }

  /** n entries (a keyframe's, or a delta's enterers) as a cell. */
  entries(r, n) {
    if (n === 0) return NO_ENTRIES;
    const out = new Cell(n, this.heights !== null);
    out.n = n;
    let id = 0, lx = 0, ly = 0, lz = 0;
    for (let k = 0; k < n; k++) {
      const gap = r.varint();
      if (k > 0 && gap === 0) throw new WireError('malformed: entity ids must increase');
      id += gap;
      const kind = r.u8();
      lx += r.zigzag(); ly += r.zigzag();
      if (id > 0xffffffff) throw new WireError('malformed: entity id beyond 32 bits');
      out.id[k] = id; out.kind[k] = kind; out.qx[k] = lx; out.qy[k] = ly; out.vx[k] = r.zigzag(); out.vy[k] = r.zigzag();
      const range = this.heights?.[kind];
      if (range) {
        lz += r.zigzag();
        if (lz < range[0] || lz > range[1]) throw new WireError(`malformed: height ${lz} of entity ${id} outside its kind's range`);
        out.qz[k] = lz; out.vz[k] = r.zigzag();
      }
      if (lx < INT32[0] || lx > INT32[1] || ly < INT32[0] || ly > INT32[1]) throw new WireError('malformed: position beyond 32 bits');
    }
    return out;
  }

  keyframe(r) {
    const n = r.varint();
    if (n > r.remaining / 6) throw new WireError('malformed keyframe count');
    // Every cell a state holds is its own (deltas update cells in place): an empty
    // keyframe gets a new empty cell, not the shared NO_ENTRIES.
    const cell = n === 0 ? new Cell(0, this.heights !== null) : this.entries(r, n);
    if (r.remaining !== 0) throw new WireError('malformed: bytes after a keyframe');
    return cell;
  }

  delta(previous, b) {
    const r = new Reader(b.payload);
    const nLeft = r.varint();
    if (nLeft > previous.n) throw new WireError('malformed delta: too many leave');
    const left = new Array(nLeft); let id = 0;
    for (let k = 0; k < nLeft; k++) { const g = r.varint(); if (k > 0 && g === 0) throw new WireError('malformed: left ids must increase'); id += g; left[k] = id; }
    const nEnter = r.varint();
    if (nEnter > r.remaining / 6) throw new WireError('malformed delta enter count');
    const entered = this.entries(r, nEnter);
    // Without height kinds a delta holds two residuals per kept entity: a Rice block is
    // decoded whole into the scratch array first (the loop below then only reads it).
    const whole = b.riceK !== null && this.heights === null;
    const used = whole ? riceBlock(b.payload, r.at, b.riceK, 2 * (previous.n - nLeft)) : 0;
    const residuals = whole ? null : b.riceK === null ? new VarintResiduals(r) : new RiceReader(b.payload, r.at, b.riceK);
    // Kept entities in id order, updated in place: the k-th kept entity moves to slot k,
    // which is never after where it was, so nothing is overwritten before it is read.
    const n = previous.n - nLeft;
    const kept = previous;
    const heights = this.heights;
    let li = 0, j = 0;
    for (let i = 0; i < previous.n; i++) {
      const eid = previous.id[i];
      if (li < nLeft && left[li] <= eid) {
        if (left[li] < eid) break;   // a leaver the cell does not hold: reported below
        li++; continue;
      }
      const ox = kept.qx[i], oy = kept.qy[i];
      const nx = ox + kept.vx[i] + (whole ? scratch[2 * j] : unzig(residuals.next()));
      const ny = oy + kept.vy[i] + (whole ? scratch[2 * j + 1] : unzig(residuals.next()));
      if (nx < INT32[0] || nx > INT32[1] || ny < INT32[0] || ny > INT32[1]) throw new WireError('malformed: position beyond 32 bits');
      const kind = kept.kind[i];
      if (heights !== null) {
        const range = heights[kind];
        let nz = NaN, vz = 0;
        if (range) {
          const oz = kept.qz[i];
          nz = oz + kept.vz[i] + unzig(residuals.next());
          if (nz < range[0] || nz > range[1]) throw new WireError(`malformed: height ${nz} of entity ${eid} outside its kind's range`);
          vz = nz - oz;
        }
        kept.qz[j] = nz; kept.vz[j] = vz;
      }
      if (j !== i) { kept.id[j] = eid; kept.kind[j] = kind; }
      kept.qx[j] = nx; kept.qy[j] = ny; kept.vx[j] = nx - ox; kept.vy[j] = ny - oy;
      j++;
    }
    if (li < nLeft || j !== n) throw new WireError('malformed: delta removes an entity the cell does not hold');
    if (b.riceK !== null) { if ((whole ? used : residuals.bytesUsed) !== b.payload.length) throw new WireError('malformed: bytes after the Rice-coded residuals'); }
    else if (r.remaining !== 0) throw new WireError('malformed: bytes after a delta');
    kept.n = n;
    if (nEnter === 0) return kept;   // still sorted by id, as `previous` was
    // Merge the enterers (sorted by id) in from the back, into room to spare or a larger cell.
    const total = n + nEnter;
    let out = kept;
    if (total > kept.capacity) {
      out = new Cell(Math.max(total, 2 * kept.capacity), this.heights !== null);
      for (let k = 0; k < n; k++) out.copy(k, kept, k);
    }
    let a = n - 1, e = nEnter - 1;
    for (let k = total - 1; e >= 0; k--) {
      if (a >= 0 && out.id[a] === entered.id[e]) throw new WireError(`malformed: delta enters entity ${entered.id[e]} that the cell already holds`);
      if (a >= 0 && out.id[a] > entered.id[e]) out.copy(k, out, a--);
      else out.copy(k, entered, e--);
    }
    out.n = total;
    return out;
  }

  /** Calls `fn(id, kind, qx, qy, qz)` for every entity held, cell by cell (no sort, no object: for drawing); qz is NaN without a height. */
  forEachEntity(fn) {
    for (const c of this.cells.values()) {
      for (let i = 0; i < c.n; i++) fn(c.id[i], c.kind[i], c.qx[i], c.qy[i], c.qz ? c.qz[i] : NaN);
    }
  }

  /** How many entities are held. */
  get count() { let n = 0; for (const c of this.cells.values()) n += c.n; return n; }

  /** Every entity held, sorted by id. */
  entities() {
    const out = [];
    for (const c of this.cells.values()) for (let i = 0; i < c.n; i++) out.push(c.entity(i));
    return out.sort((a, b) => a.id - b.id);
  }
}

/** Height kinds of a decoded SceneInfo, in position units: kind code -> [qzMin, qzMax]. */
export function heightsOf(info) {
  if (info.version < 2) return null;
  const out = {};
  for (const k of info.kinds) {
    if (k.zRange) out[k.code] = [Math.floor(k.zRange[0] / info.quantum), Math.ceil(k.zRange[1] / info.quantum)];
  }
  return Object.keys(out).length ? out : null;
}
