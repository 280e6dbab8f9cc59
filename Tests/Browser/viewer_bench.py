#!/usr/bin/env python3
"""Figures of the page in headless Chromium for `twinscene bench viewer` (prints one JSON
object): the JavaScript decoder on recorded frames (decode_ms per delta tick, keyframe not
timed), and the viewer's frame time and draw calls against a real `twinscene serve` of a big
marathon with every runner in view."""
import argparse, http.server, json, os, shutil, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from viewer_test import browser, free_port, js, wait_for, ROOT  # noqa: E402

HARNESS = """<!doctype html><meta charset="utf-8"><script type="module">
import { FrameReader, decode, SceneState } from './wire.js';
import { inflateRaw } from './inflate.js';
const bytes = new Uint8Array(await (await fetch('frames.bin')).arrayBuffer());
const frames = new FrameReader(1 << 26).push(bytes);
const times = [];
for (let round = 0; round < 3; round++) {
  const state = new SceneState({ inflateRaw });
  frames.forEach((f, k) => {
    const t0 = performance.now();
    state.apply(decode(f.type, f.payload, { inflateRaw }));
    if (k > 0) times.push(performance.now() - t0);
  });
}
window.result = { decode_ms: times };
</script>"""


def serve_folder(folder):
    port = free_port()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=folder, **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", required=True)
    ap.add_argument("--viewer", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--runners", type=int, required=True)
    a = ap.parse_args()
    folder = tempfile.mkdtemp()
    for name in ("wire.js", "inflate.js"):
        shutil.copy(os.path.join(a.viewer, name), folder)
    shutil.copy(a.frames, os.path.join(folder, "frames.bin"))
    with open(os.path.join(folder, "bench.html"), "w") as f:
        f.write(HARNESS)
    httpd, port = serve_folder(folder)
    d = browser()
    out = {}
    try:
        d.get(f"http://127.0.0.1:{port}/bench.html")
        result = wait_for(lambda: js(d, "window.result"), 120, 0.5)
        out["decode_ms"] = result["decode_ms"] if result else []
        # The viewer on a real server with every runner in view.
        with open(a.manifest) as f:
            m = json.load(f)
        m["parameters"]["runners"] = a.runners
        m["parameters"]["waves"] = 1
        path = os.path.join(folder, "big.scene.json")
        with open(path, "w") as f:
            json.dump(m, f)
        tcp, http_port = free_port(), free_port()
        serve = subprocess.Popen([a.binary, "serve", "--scene", path, "--catalog", os.path.join(folder, "c.sqlite"),
                                  "--port", str(tcp), "--http-port", str(http_port), "--log-level", "warning"],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            serve.stdout.readline()
            d.get(f"http://127.0.0.1:{http_port}/")
            wait_for(lambda: js(d, "window.twinscene && window.twinscene.entities > 0 && window.twinscene.frames > 20"), 120, 0.5)
            samples = []
            for _ in range(40):
                samples.append(js(d, "window.twinscene.frameTimeMs"))
                time.sleep(0.1)
            out["frame_ms"] = samples
            out["draw_calls"] = js(d, "window.twinscene.drawCalls")
            out["entities"] = js(d, "window.twinscene.entities")
        finally:
            serve.terminate()
            serve.wait(20)
    finally:
        d.quit()
        httpd.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
