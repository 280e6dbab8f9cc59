// Decodes a recorded stream (whole frames as the server sent them, one connection) with the
// JavaScript decoder and prints, per StateFrame of subscription 1, one JSON line:
// {"tick": T, "entities": [[id, kind, qx, qy, qz or null], ...]} sorted by id.
// Used by the Swift test suite to cross-check this decoder against the Swift client.
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { FrameReader, decode, SceneState, heightsOf } from '../../Sources/SceneWeb/Viewer/wire.js';

const inflateRaw = (b) => new Uint8Array(inflateRawSync(b));
const frames = new FrameReader().push(new Uint8Array(readFileSync(process.argv[2])));
let state = null;
const lines = [];
for (const f of frames) {
  const m = decode(f.type, f.payload, { inflateRaw });
  if (m.type === 'sceneInfo' && m.subscription === 1) state = new SceneState({ heights: heightsOf(m), inflateRaw });
  if (m.type === 'stateFrame' && m.subscription === 1) {
    state.apply(m);
    lines.push(JSON.stringify({ tick: state.tick, entities: state.entities().map((e) => [e.id, e.kind, e.qx, e.qy, e.qz]) }));
  }
}
process.stdout.write(lines.join('\n') + '\n');
