// The side panel: legend, the scene's own panel (marathon leaderboard and a followed
// runner's splits; football teams, score, clock and the ball's height; factory machine
// states, alarms and a telemetry sparkline) and the operator console.
import { PALETTE } from './render.js';

const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
};
const f32 = (bits) => new Float32Array(new Uint32Array([bits]).buffer)[0];
const i32 = (bits) => bits | 0;
const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;
const TEAM = [[0.85, 0.15, 0.15], [0.15, 0.35, 0.95]];
const STATE_COLOR = { 0: [0.6, 0.6, 0.6], 1: [0.2, 0.7, 0.3], 2: [0.9, 0.1, 0.1], alarm: [1.0, 0.6, 0.0] };

export class Panels {
  constructor({ panel, legend, consoleBox, send }) {
    this.panel = panel; this.legend = legend; this.consoleBox = consoleBox; this.send = send;
    this.token = null;   // in memory only: never the URL, a cookie or storage
    this.buildConsole();
    this.reset();
  }

  reset() {
    this.info = null; this.scenario = null; this.leaders = []; this.splits = new Map(); this.score = [0, 0]; this.sourceClock = null; this.period = null;
    this.alarms = []; this.alarmed = new Set(); this.history = new Map(); this.selected = null;
    this.panel.replaceChildren();
  }

  setScene(info, summary) {
    this.info = info;
    this.scenario = summary?.scenario ?? '';
    this.legend.replaceChildren(el('h3', {}, 'Kinds'), ...info.kinds.map((k) => {
      const c = PALETTE[k.code % PALETTE.length].map((v) => Math.round(v * 255));
      return el('div', { class: 'kind' }, el('span', { class: 'swatch', style: `background: rgb(${c.join(',')})` }), `${k.name}${k.zRange ? ' (with height)' : ''}`);
    }));
    this.render(null);
  }

  attr(s, id, name) {
    const kind = s.positions.get(id)?.[3] ?? s.identities.get(id)?.kind;
    const k = this.info?.kinds.find((x) => x.code === kind);
    const index = k?.attributes.findIndex((a) => a.name === name) ?? -1;
    const bits = index >= 0 ? s.attributes.get(id)?.get(index) : undefined;
    if (bits === undefined) return undefined;
    return k.attributes[index].type === 0 ? f32(bits) : i32(bits);
  }

  /** A colour that says more than the kind: team, machine state; null for the kind's. */
  colorOf(s, id, kind) {
    if (this.scenario.startsWith('football')) {
      const i = s.identities.get(id);
      if (i && i.group !== 'ball') { const t = this.teams(s).get(i.group); return t === undefined ? [0.35, 0.35, 0.35] : TEAM[t]; }
    }
    if (this.scenario === 'factory') {
      if (this.alarmed.has(id)) return STATE_COLOR.alarm;
      const st = this.attr(s, id, 'state');
      if (st !== undefined) return STATE_COLOR[st] ?? null;
    }
    if (id === s.following) return [1, 0.85, 0];
    return null;
  }

  /** The two teams: the first two groups (sorted) of at least five entities (referees and
   * the ball are fewer). */
  teams(s) {
    if (this.teamsAt === s.identities.size && this.teamIndex) return this.teamIndex;
    const counts = new Map();
    for (const i of s.identities.values()) if (i.group) counts.set(i.group, (counts.get(i.group) ?? 0) + 1);
    const groups = [...counts].filter(([, n]) => n >= 5).map(([g]) => g).sort();
    this.teamIndex = new Map(groups.slice(0, 2).map((g, k) => [g, k]));
    this.teamsAt = s.identities.size;
    return this.teamIndex;
  }

  frame(s) {
    // Telemetry of every machine, a sample a second for the last 60 s: a click shows it at once.
    const rate = this.info?.tickRate ?? 20;
    if (this.scenario === 'factory' && s.tick % rate === 0) {
      for (const id of s.attributes.keys()) {
        const t = this.attr(s, id, 'temperature');
        if (t === undefined) continue;
        const h = this.history.get(id) ?? [];
        h.push([s.tick, t]);
        if (h.length > 60) h.shift();
        this.history.set(id, h);
      }
    }
    if (s.tick % 5 === 0) this.render(s);
  }

  attributes(s) { /* values live in the view; drawn with the next frame */ }

  events(s, m) {
    for (const e of m.events) {
      if (e.kind === 103) {
        if (e.value === 1) this.leaders = [];
        this.leaders[e.value - 1] = e.entity;
      } else if (e.kind === 101) {
        const list = this.splits.get(e.entity) ?? [];
        list.push(e.value);
        this.splits.set(e.entity, list);
      } else if (e.kind === 110) {
        this.score[e.value] = (this.score[e.value] ?? 0) + 1;
      } else if (e.kind === 113) {
        // A replay's source clock (seconds of match time), once a second: the panel runs it on by ticks.
        this.sourceClock = { seconds: e.value, tick: m.tick };
      } else if (e.kind === 114) {
        this.period = e.value;
      } else if (e.kind === 120 || e.kind === 122) {
        this.alarmed.add(e.entity);
        this.alarms.unshift({ tick: m.tick, entity: e.entity, what: e.kind === 120 ? `temperature ${e.value.toFixed(1)} °C` : `vibration ${e.value.toFixed(1)} mm/s` });
        this.alarms.length = Math.min(this.alarms.length, 20);
      } else if (e.kind === 121 || e.kind === 123) {
        this.alarmed.delete(e.entity);
      }
    }
  }

  select(s, id) { this.selected = id; this.render(s); }

  name(s, id) {
    const i = s.identities.get(id);
    return i ? (i.label || i.key) + (i.number ? ` #${i.number}` : '') : `entity ${id}`;
  }

  render(s) {
    if (!s || !this.info) return;
    const parts = [el('h3', {}, this.info.scene)];
    const time = s.tick !== null ? s.tick / this.info.tickRate : 0;
    if (this.scenario === 'marathon') {
      parts.push(el('h4', {}, 'Leaders'), el('ol', { id: 'leaders' }, ...this.leaders.filter((x) => x !== undefined).map((id) =>
        el('li', { onclick: () => { s.following = id; this.select(s, id); } }, this.name(s, id)))));
      if (s.following !== null) {
        const pace = this.attr(s, s.following, 'pace'), splits = this.splits.get(s.following) ?? [];
        parts.push(el('h4', {}, `Following ${this.name(s, s.following)}`),
          el('div', {}, pace !== undefined ? `pace ${clock(pace)} /km` : ''),
          el('div', {}, splits.length ? `splits: ${splits.map((v, k) => `${k + 1} km ${clock(v)}`).join(', ')}` : 'no split yet'));
      }
    } else if (this.scenario.startsWith('football')) {
      if (this.sourceClock && s.tick !== null) {
        const seconds = this.sourceClock.seconds + Math.max(0, s.tick - this.sourceClock.tick) / this.info.tickRate;
        const period = ['', '1st half', '2nd half', 'extra time 1', 'extra time 2'][this.period ?? 1] ?? `period ${this.period}`;
        parts.push(el('div', { id: 'source-clock' }, `${period} ${clock(seconds)}`));
      } else {
        parts.push(el('div', { class: 'score' }, `${this.score[0]} : ${this.score[1]}`), el('div', {}, `clock ${clock(time)}`));
      }
      const ball = [...s.positions.entries()].find(([, p]) => this.info.kinds.find((k) => k.code === p[3])?.zRange);
      if (ball) parts.push(el('div', {}, `ball height ${ball[1][2].toFixed(2)} m`));
      if (s.following !== null) parts.push(el('div', {}, `following ${this.name(s, s.following)} (${s.identities.get(s.following)?.group ?? ''})`));
      // The teams as the scene names them: shirt numbers and names, a click follows.
      const teams = new Map();
      for (const [id, i] of s.identities) if (this.teams(s).has(i.group)) (teams.get(i.group) ?? teams.set(i.group, []).get(i.group)).push([id, i]);
      for (const [team, players] of [...teams].sort()) {
        const c = (TEAM[this.teams(s).get(team)] ?? [0.35, 0.35, 0.35]).map((v) => Math.round(v * 255)).join(',');
        parts.push(el('h4', { style: `color: rgb(${c})` }, team), el('div', { class: 'roster' }, ...players.sort((a, b) => a[1].number - b[1].number).map(([id, i]) =>
          el('span', { class: 'player', onclick: () => { s.following = id; this.select(s, id); } }, i.number ? `${i.number} ${i.label}` : i.label))));
      }
    } else if (this.scenario === 'factory') {
      parts.push(el('h4', {}, 'Alarms'), el('ul', { id: 'alarms' }, ...this.alarms.map((a) =>
        el('li', {}, `${clock(a.tick / this.info.tickRate)} ${this.name(s, a.entity)}: ${a.what}`))));
      if (this.selected !== null && this.history.has(this.selected)) {
        parts.push(el('h4', {}, `${this.name(s, this.selected)}: temperature, last 60 s`), this.sparkline(this.history.get(this.selected)));
      }
    } else if (s.following !== null) {
      parts.push(el('div', {}, `following ${this.name(s, s.following)}`));
    }
    this.panel.replaceChildren(...parts);
  }

  sparkline(points) {
    const c = el('canvas', { width: 240, height: 60, class: 'spark' });
    const g = c.getContext('2d');
    if (points.length > 1) {
      const vs = points.map((p) => p[1]), lo = Math.min(...vs), hi = Math.max(...vs, lo + 1);
      g.strokeStyle = '#c33'; g.beginPath();
      points.forEach(([, v], i) => { const x = i / (points.length - 1) * 238 + 1, y = 58 - (v - lo) / (hi - lo) * 56; if (i) g.lineTo(x, y); else g.moveTo(x, y); });
      g.stroke();
      g.fillStyle = '#333'; g.fillText(`${vs[vs.length - 1].toFixed(1)} °C`, 4, 12);
    }
    return c;
  }

  buildConsole() {
    const token = el('input', { type: 'password', id: 'token', placeholder: 'admin token', autocomplete: 'off' });
    const unlock = el('button', { id: 'unlock', onclick: () => { this.token = token.value; token.value = ''; controls.hidden = false; } }, 'unlock console');
    const arg = el('input', { id: 'argument', placeholder: 'argument (ticks, speed, seed, tile, machine)', size: 30 });
    const results = el('ul', { id: 'results' });
    this.results = results;
    const command = (name, parse) => el('button', { id: `cmd-${name}`, onclick: () => {
      const scene = this.info?.scene ?? '';
      const m = { type: 'control', token: this.token ?? '', scene, command: name };
      if (parse) m.argument = parse(arg.value);
      this.send(m);
    } }, name);
    const controls = el('div', { id: 'controls' },
      command('pause'), command('resume'), command('step', (v) => Number(v) || 1), command('speed', (v) => Number(v) || 1),
      command('reset', (v) => BigInt(v || 0)), command('loadTile', (v) => v), command('fault', (v) => Number(v) || 0), arg, results);
    controls.hidden = true;
    this.consoleBox.replaceChildren(el('h3', {}, 'Operator console'), token, unlock, controls);
  }

  controlResult(m) {
    this.results.prepend(el('li', { class: m.ok ? 'ok' : 'bad' }, `${m.ok ? 'ok' : 'refused'}: ${m.message}`));
    while (this.results.children.length > 10) this.results.lastChild.remove();
  }
}
