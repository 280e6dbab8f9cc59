// Raw DEFLATE (RFC 1951) decoding, synchronous, for the page: the browser's own
// DecompressionStream is asynchronous and cannot sit inside a frame decoder. Written after
// Mark Adler's puff.c (canonical Huffman decoding by counts). Tested against node's zlib
// in Tests/ViewerJS/inflate.test.mjs.

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
  6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

export class InflateError extends Error {}

/** A canonical Huffman code from code lengths: symbol counts per length, symbols by code. */
function huffman(lengths, n) {
  const counts = new Uint16Array(16);
  for (let s = 0; s < n; s++) counts[lengths[s]]++;
  counts[0] = 0;
  let left = 1;
  for (let len = 1; len < 16; len++) {
    left <<= 1;
    left -= counts[len];
    if (left < 0) throw new InflateError('over-subscribed Huffman code');
  }
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len] + counts[len];
  const symbols = new Uint16Array(n);
  for (let s = 0; s < n; s++) if (lengths[s] !== 0) symbols[offs[lengths[s]]++] = s;
  return { counts, symbols };
}

let FIXED = null;
function fixedCodes() {
  if (FIXED) return FIXED;
  const l = new Uint8Array(288);
  l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
  const d = new Uint8Array(30).fill(5);
  FIXED = { lit: huffman(l, 288), dist: huffman(d, 30) };
  return FIXED;
}

/**
 * Inflates raw DEFLATE data. Throws InflateError on malformed input, on input that ends
 * early, and on output over `maxLength` bytes (a bound against compression bombs).
 */
export function inflateRaw(input, maxLength = 64 << 20) {
  let pos = 0, bitBuf = 0, bitCount = 0;
  let out = new Uint8Array(Math.min(maxLength, Math.max(1024, input.length * 4)));
  let outLen = 0;

  const bits = (need) => {
    let val = bitBuf;
    while (bitCount < need) {
      if (pos >= input.length) throw new InflateError('compressed data ended early');
      val |= input[pos++] << bitCount;
      bitCount += 8;
    }
    bitBuf = val >>> need;
    bitCount -= need;
    return val & ((1 << need) - 1);
  };
  const room = (n) => {
    if (outLen + n <= out.length) return;
    if (outLen + n > maxLength) throw new InflateError(`inflated data over ${maxLength} bytes`);
    let size = out.length * 2;
    while (size < outLen + n) size *= 2;
    const next = new Uint8Array(Math.min(size, maxLength));
    next.set(out.subarray(0, outLen));
    out = next;
  };
  const decode = (h) => {
    let code = 0, first = 0, index = 0;
    for (let len = 1; len < 16; len++) {
      code |= bits(1);
      const count = h.counts[len];
      if (code - count < first) return h.symbols[index + (code - first)];
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    throw new InflateError('invalid Huffman code');
  };
  const codes = (lit, dist) => {
    for (;;) {
      let sym = decode(lit);
      if (sym < 256) { room(1); out[outLen++] = sym; continue; }
      if (sym === 256) return;
      sym -= 257;
      if (sym >= 29) throw new InflateError('invalid length symbol');
      const len = LEN_BASE[sym] + bits(LEN_EXTRA[sym]);
      const ds = decode(dist);
      if (ds >= 30) throw new InflateError('invalid distance symbol');
      const d = DIST_BASE[ds] + bits(DIST_EXTRA[ds]);
      if (d > outLen) throw new InflateError('distance before the start of the data');
      room(len);
      for (let i = 0; i < len; i++) { out[outLen] = out[outLen - d]; outLen++; }
    }
  };
  const stored = () => {
    bitBuf = 0; bitCount = 0;   // to the byte boundary
    if (pos + 4 > input.length) throw new InflateError('compressed data ended early');
    const len = input[pos] | (input[pos + 1] << 8), nlen = input[pos + 2] | (input[pos + 3] << 8);
    pos += 4;
    if (len !== (~nlen & 0xffff)) throw new InflateError('stored block length does not match its complement');
    if (pos + len > input.length) throw new InflateError('compressed data ended early');
    room(len);
    out.set(input.subarray(pos, pos + len), outLen);
    outLen += len; pos += len;
  };
  const dynamic = () => {
    const nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw new InflateError('bad code counts');
    const lengths = new Uint8Array(320);
    for (let i = 0; i < ncode; i++) lengths[ORDER[i]] = bits(3);
    const lencode = huffman(lengths, 19);
    lengths.fill(0);
    let i = 0;
    while (i < nlen + ndist) {
      let sym = decode(lencode);
      if (sym < 16) { lengths[i++] = sym; continue; }
      let len = 0, repeat;
      if (sym === 16) {
        if (i === 0) throw new InflateError('repeat with no first length');
        len = lengths[i - 1]; repeat = 3 + bits(2);
      } else if (sym === 17) repeat = 3 + bits(3);
      else repeat = 11 + bits(7);
      if (i + repeat > nlen + ndist) throw new InflateError('too many code lengths');
      while (repeat--) lengths[i++] = len;
    }
    if (lengths[256] === 0) throw new InflateError('no end-of-block code');
    codes(huffman(lengths, nlen), huffman(lengths.subarray(nlen), ndist));
  };

  let last = 0;
  do {
    last = bits(1);
    const type = bits(2);
    if (type === 0) stored();
    else if (type === 1) { const f = fixedCodes(); codes(f.lit, f.dist); }
    else if (type === 2) dynamic();
    else throw new InflateError('invalid block type 3');
  } while (!last);
  return out.slice(0, outLen);
}
