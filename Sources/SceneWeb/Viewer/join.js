// Taking part (protocol version 3): a "Join" button for scenes that let people join, a name
// (and the scene's join token where it needs one), then a pace slider and the arrow keys.
// The server stays the authority: this page only says what the runner wants. The resume
// token is kept for the tab (sessionStorage), so a reconnect takes the same runner back.

const ARROW_SPEED = 0.25;           // m/s per key press
const ARROW_TURN = Math.PI / 12;    // radians per key press

export class JoinControl {
  /** `send(message)` writes to the server; `follow(id)` points the camera at the participant. */
  constructor({ root, send, follow, status }) {
    this.root = root; this.send = send; this.follow = follow; this.status = status;
    this.scene = null; this.policy = 'closed'; this.request = 0; this.sequence = 0;
    this.participant = null; this.limits = null; this.lastAck = null; this.lastRefusal = null;
    this.mode = 'treadmill'; this.speed = 0; this.heading = 0; this.pending = false;
    root.addEventListener('submit', (e) => { e.preventDefault(); this.join(); });
    window.addEventListener('keydown', (e) => this.key(e));
  }

  /** The scene shown changed (or its policy became known): rebuild the control. */
  setScene(scene, summary) {
    this.scene = scene;
    this.policy = summary?.join ?? 'closed';
    // The marathon runs on a treadmill along the course; elsewhere people walk where they steer.
    this.treadmill = summary?.scenario === 'marathon';
    this.mode = this.treadmill ? 'treadmill' : 'free';
    if (this.participant === null) this.draw();
  }

  tokenKey() { return `twinscene.resume.${this.scene}`; }

  /** After Welcome: a participant of this tab's earlier connection is taken back. */
  connected(version) {
    this.version = version;
    this.participant = null;
    const token = sessionStorage.getItem(this.tokenKey());
    if (token && version >= 3) this.sendJoin({ name: '', resumeToken: token });
    else this.draw();
  }

  sendJoin({ name, joinToken = '', resumeToken = '', wave = 0 }) {
    this.pending = true;
    this.send({ type: 'join', request: ++this.request, scene: this.scene, name, wave, joinToken, resumeToken });
  }

  join() {
    const name = this.root.querySelector('[name=name]')?.value.trim() ?? '';
    const token = this.root.querySelector('[name=token]')?.value ?? '';
    const wave = Number(this.root.querySelector('[name=wave]')?.value ?? 0);
    if (!name) { this.status('a name, please', true); return; }
    this.sendJoin({ name, joinToken: token, wave });
  }

  leave() {
    if (this.participant === null) return;
    this.send({ type: 'leave', participant: this.participant });
    sessionStorage.removeItem(this.tokenKey());
    this.participant = null; this.follow(null);
    this.draw();
  }

  handle(m) {
    switch (m.type) {
      case 'joined':
        this.pending = false;
        this.participant = m.participant; this.limits = { maxSpeed: m.maxSpeed, maxAcceleration: m.maxAcceleration };
        sessionStorage.setItem(this.tokenKey(), m.resumeToken);
        this.follow(m.participant);
        this.draw();
        return true;
      case 'refused':
        this.lastRefusal = m;
        if (this.pending) {
          this.pending = false;
          // A stale resume token: forget it and offer a fresh join.
          if (m.code === 22 || m.code === 23) sessionStorage.removeItem(this.tokenKey());
          this.draw();
        }
        if (m.code === 24 && this.participant !== null) { this.participant = null; this.draw(); }
        this.status(`refused (${m.code}): ${m.message}${m.count > 1 ? ` ×${m.count}` : ''}`, true);
        return true;
      case 'inputAck': this.lastAck = m; return true;
      default: return false;
    }
  }

  input() {
    if (this.participant === null) return;
    const m = { type: 'input', participant: this.participant, sequence: ++this.sequence };
    if (this.mode === 'treadmill') Object.assign(m, { mode: 'treadmill', speed: this.speed });
    else Object.assign(m, { mode: 'heading', heading: this.heading, speed: this.speed });
    this.send(m);
  }

  setSpeed(v) {
    const max = this.limits?.maxSpeed ?? 12.5;
    this.speed = Math.min(max, Math.max(0, Math.round(v * 100) / 100));
    const slider = this.root.querySelector('[name=speed]');
    if (slider) slider.value = String(this.speed);
    const out = this.root.querySelector('output');
    if (out) out.textContent = pace(this.speed);
    this.input();
  }

  key(e) {
    // Keys typed into a field (the name, the slider's own arrows) are the field's.
    if (this.participant === null || e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === 'ArrowUp') this.setSpeed(this.speed + ARROW_SPEED);
    else if (e.key === 'ArrowDown') this.setSpeed(this.speed - ARROW_SPEED);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      // Turning leaves the course: free mode, heading counter-clockwise from east.
      this.mode = 'free';
      this.heading = wrap(this.heading + (e.key === 'ArrowLeft' ? ARROW_TURN : -ARROW_TURN));
      const box = this.root.querySelector('[name=free]');
      if (box) box.checked = true;
      this.input();
    } else return;
    e.preventDefault();
  }

  draw() {
    const r = this.root;
    r.replaceChildren();
    if (this.policy === 'closed' || this.version < 3) return;
    if (this.participant === null) {
      r.append(el('input', { name: 'name', placeholder: 'your name', maxLength: 32, 'aria-label': 'your name' }));
      if (this.policy === 'token') r.append(el('input', { name: 'token', placeholder: 'join token', 'aria-label': 'join token' }));
      if (this.treadmill) {
        const wave = el('select', { name: 'wave', 'aria-label': 'start' });
        wave.append(new Option('start line', '0'), ...[1, 2, 3, 4].map((w) => new Option(`wave ${w}`, String(w))));
        r.append(wave);
      }
      r.append(el('button', { type: 'submit', id: 'join' }, this.pending ? 'joining…' : 'Join'));
      return;
    }
    const slider = el('input', { type: 'range', name: 'speed', min: '0', max: String(this.limits?.maxSpeed ?? 12.5), step: '0.05',
                                 value: String(this.speed), 'aria-label': 'speed in m/s' });
    slider.addEventListener('input', () => { this.setSpeed(Number(slider.value)); });
    const free = el('input', { type: 'checkbox', name: 'free', 'aria-label': 'free mode (arrow keys steer)' });
    free.checked = this.mode === 'free';
    free.addEventListener('change', () => { this.mode = free.checked ? 'free' : 'treadmill'; this.input(); });
    const leave = el('button', { type: 'button', id: 'leave' }, 'Leave');
    leave.addEventListener('click', () => this.leave());
    r.append(el('span', {}, `#${this.participant}`), slider, el('output', {}, pace(this.speed)));
    if (this.treadmill) r.append(el('label', {}, free, ' free'));
    r.append(leave);
  }
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k in e && typeof e[k] !== 'function' && !k.includes('-')) e[k] = v; else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function wrap(a) { return a > Math.PI ? a - 2 * Math.PI : a < -Math.PI ? a + 2 * Math.PI : a; }

/** Minutes per km for a speed in m/s ("—" standing). */
export function pace(v) {
  if (v < 0.05) return '—';
  const s = Math.round(1000 / v);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} /km`;
}
