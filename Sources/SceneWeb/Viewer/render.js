// WebGL2 drawing of a scene: the ground, buildings (filled footprints on the map, extruded
// and lit in 3D) and every entity as a disc, all entities in one instanced draw call, moved
// smoothly between ticks on the GPU (`alpha` between the previous and the current tick).
import { buildingMesh } from './geometry.js';

const MESH_VS = `#version 300 es
in vec3 pos; in vec3 normal; in float shade;
uniform mat4 viewProj;
out vec3 vNormal; out float vShade;
void main() { vNormal = normal; vShade = shade; gl_Position = viewProj * vec4(pos, 1.0); }`;
const MESH_FS = `#version 300 es
precision mediump float;
in vec3 vNormal; in float vShade;
uniform vec3 light; uniform int lit;
out vec4 color;
void main() {
  vec3 c = vShade < 0.0 ? vec3(0.93, 0.92, 0.88) : mix(vec3(0.62, 0.66, 0.74), vec3(0.16, 0.22, 0.38), vShade);
  if (lit == 1) c *= 0.5 + 0.5 * max(dot(normalize(vNormal), light), 0.0);
  color = vec4(c, 1.0);
}`;
const DOT_VS = `#version 300 es
in vec2 corner; in vec3 prevPos; in vec3 curPos; in vec3 tint;
uniform mat4 viewProj; uniform float alpha; uniform float pxRadius; uniform vec2 viewport;
out vec2 uv; out vec3 vTint;
void main() {
  vec4 c = viewProj * vec4(mix(prevPos, curPos, alpha), 1.0);
  c.xy += corner * pxRadius * 2.0 / viewport * c.w;
  gl_Position = c; uv = corner; vTint = tint;
}`;
const DOT_FS = `#version 300 es
precision mediump float;
in vec2 uv; in vec3 vTint;
out vec4 color;
void main() { float d = dot(uv, uv); if (d > 1.0) discard; color = vec4(vTint * (d > 0.55 ? 0.6 : 1.0), 1.0); }`;

function compile(gl, vs, fs) {
  const p = gl.createProgram();
  for (const [type, src] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
    const s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    gl.attachShader(p, s);
  }
  gl.linkProgram(p);
  if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
  return p;
}

// Column-major 4x4 matrices.
const multiply = (a, b) => {
  const o = new Float32Array(16);
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k];
    o[c * 4 + r] = s;
  }
  return o;
};
function perspective(fovy, aspect, near, far) {
  const f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
  return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0]);
}
function lookAt(eye, target, up) {
  const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
  const norm = (v) => { const l = Math.hypot(...v) || 1; return v.map((x) => x / l); };
  const crossV = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const z = norm(sub(eye, target)), x = norm(crossV(up, z)), y = crossV(z, x);
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return new Float32Array([x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0, -dot(x, eye), -dot(y, eye), -dot(z, eye), 1]);
}

export const PALETTE = [[0.85, 0.2, 0.2], [0.15, 0.45, 0.9], [0.95, 0.6, 0.1], [0.2, 0.65, 0.3], [0.6, 0.3, 0.8],
  [0.1, 0.7, 0.75], [0.9, 0.35, 0.6], [0.45, 0.45, 0.45]];

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    const gl = canvas.getContext('webgl2', { antialias: true, preserveDrawingBuffer: true });
    if (!gl) throw new Error('this browser has no WebGL2');
    this.gl = gl;
    this.mesh = compile(gl, MESH_VS, MESH_FS);
    this.dots = compile(gl, DOT_VS, DOT_FS);
    this.meshBuffers = { map: null, world: null, ground: null };
    this.count = 0;
    this.instances = gl.createBuffer();
    this.capacity = 0;
    this.corner = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.corner);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.instances);
    gl.bufferData(gl.ARRAY_BUFFER, 36, gl.DYNAMIC_DRAW);
    this.capacity = 36;
    this.dotsVAO = this.dotsArray();
    this.drawCalls = 0;
  }

  /** A mesh's buffer and its vertex array (position, normal, shade: 7 floats a vertex). */
  upload(data) {
    const gl = this.gl, b = gl.createBuffer(), vao = gl.createVertexArray();
    gl.bindVertexArray(vao);
    gl.bindBuffer(gl.ARRAY_BUFFER, b);
    gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
    for (const [name, size, offset] of [['pos', 3, 0], ['normal', 3, 12], ['shade', 1, 24]]) {
      const loc = gl.getAttribLocation(this.mesh, name);
      if (loc < 0) continue;
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, size, gl.FLOAT, false, 28, offset);
    }
    gl.bindVertexArray(null);
    return { buffer: b, vao, vertices: data.length / 7 };
  }

  dotsArray() {
    const gl = this.gl, vao = gl.createVertexArray();
    gl.bindVertexArray(vao);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.corner);
    const corner = gl.getAttribLocation(this.dots, 'corner');
    gl.enableVertexAttribArray(corner);
    gl.vertexAttribPointer(corner, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.instances);
    for (const [name, offset] of [['prevPos', 0], ['curPos', 12], ['tint', 24]]) {
      const loc = gl.getAttribLocation(this.dots, name);
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 3, gl.FLOAT, false, 36, offset);
      gl.vertexAttribDivisor(loc, 1);
    }
    gl.bindVertexArray(null);
    return vao;
  }

  /** Buildings in metres ({height, rings}) and the scene's bounds. */
  setScene(bounds, buildings) {
    this.bounds = bounds;
    const maxHeight = Math.max(10, ...buildings.map((b) => b.height));
    this.meshBuffers.map = this.upload(buildingMesh(buildings, { roofsOnly: true, maxHeight }));
    this.meshBuffers.world = this.upload(buildingMesh(buildings, { maxHeight }));
    const { minX: x0, minY: y0, maxX: x1, maxY: y1 } = bounds;
    const g = [x0, y0, x1, y0, x1, y1, x0, y0, x1, y1, x0, y1];
    const ground = [];
    for (let i = 0; i < 12; i += 2) ground.push(g[i], g[i + 1], -0.05, 0, 0, 1, -1);
    this.meshBuffers.ground = this.upload(new Float32Array(ground));
  }

  /** Per entity: previous x, y, z, current x, y, z, colour r, g, b (9 floats). */
  setEntities(data, count) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.instances);
    if (data.byteLength > this.capacity) { gl.bufferData(gl.ARRAY_BUFFER, data, gl.DYNAMIC_DRAW); this.capacity = data.byteLength; }
    else gl.bufferSubData(gl.ARRAY_BUFFER, 0, data, 0, count * 9);
    this.count = count;
  }

  /** The matrix from scene metres to clip space for a camera. */
  viewProj(camera) {
    const w = this.canvas.width, h = this.canvas.height;
    if (camera.mode === '3d') {
      const d = camera.distance, eye = [camera.cx + d * Math.cos(camera.pitch) * Math.sin(camera.yaw),
        camera.cy - d * Math.cos(camera.pitch) * Math.cos(camera.yaw), d * Math.sin(camera.pitch)];
      return multiply(perspective(Math.PI / 4, w / h, 1, 20 * d + 5000), lookAt(eye, [camera.cx, camera.cy, 0], [0, 0, 1]));
    }
    const sx = 2 * camera.scale / w, sy = 2 * camera.scale / h;
    return new Float32Array([sx, 0, 0, 0, 0, sy, 0, 0, 0, 0, -0.001, 0, -camera.cx * sx, -camera.cy * sy, 0, 1]);
  }

  /** Where a scene point lands on the canvas, in CSS pixels from the top left. */
  project(camera, x, y, z = 0) {
    const m = this.viewProj(camera);
    const cx = m[0] * x + m[4] * y + m[8] * z + m[12], cy = m[1] * x + m[5] * y + m[9] * z + m[13], cw = m[3] * x + m[7] * y + m[11] * z + m[15];
    const r = this.canvas.getBoundingClientRect();
    return [(cx / cw + 1) / 2 * r.width, (1 - cy / cw) / 2 * r.height];
  }

  drawMesh(part, viewProj, lit) {
    const gl = this.gl, m = this.meshBuffers[part];
    if (!m || m.vertices === 0) return;
    gl.useProgram(this.mesh);
    gl.bindVertexArray(m.vao);
    gl.uniformMatrix4fv(gl.getUniformLocation(this.mesh, 'viewProj'), false, viewProj);
    gl.uniform3f(gl.getUniformLocation(this.mesh, 'light'), 0.4, -0.5, 0.77);
    gl.uniform1i(gl.getUniformLocation(this.mesh, 'lit'), lit ? 1 : 0);
    gl.drawArrays(gl.TRIANGLES, 0, m.vertices);
    gl.bindVertexArray(null);
    this.drawCalls++;
  }

  draw(camera, alpha) {
    const gl = this.gl, c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(c.clientWidth * dpr), h = Math.round(c.clientHeight * dpr);
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    gl.viewport(0, 0, w, h);
    gl.clearColor(0.78, 0.8, 0.78, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    this.drawCalls = 0;
    const vp = this.viewProj(camera), three = camera.mode === '3d';
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LEQUAL);
    this.drawMesh('ground', vp, false);
    this.drawMesh(three ? 'world' : 'map', vp, three);
    if (this.count > 0) {
      gl.useProgram(this.dots);
      gl.bindVertexArray(this.dotsVAO);
      gl.uniformMatrix4fv(gl.getUniformLocation(this.dots, 'viewProj'), false, vp);
      gl.uniform1f(gl.getUniformLocation(this.dots, 'alpha'), alpha);
      const px = three ? 4 : Math.min(9, Math.max(2.5, 0.9 * camera.scale));
      gl.uniform1f(gl.getUniformLocation(this.dots, 'pxRadius'), px * dpr);
      gl.uniform2f(gl.getUniformLocation(this.dots, 'viewport'), w, h);
      gl.disable(gl.DEPTH_TEST);
      gl.drawArraysInstanced(gl.TRIANGLE_STRIP, 0, 4, this.count);
      gl.bindVertexArray(null);
      this.drawCalls++;
    }
  }
}
