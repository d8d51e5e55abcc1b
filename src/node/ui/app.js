/* nepnetd's status page: reads the control API of this origin (docs/API.md) with the bearer
 * token, which arrives as the URL fragment #token=HEX and is kept in sessionStorage only.
 * Plain ES2020, no framework, no build step. Served with a CSP that allows only this origin's
 * scripts and styles: no inline code, no style attributes, no innerHTML with markup.
 * Later layers add a panel with addPanel({id, title, route, render}) without touching the rest. */
'use strict';
(function () {
const TOKEN_KEY = 'nepnet.token';
const DASH = '\u2014';
const POLL = { // ms between polls of each route (events ask for more at once)
  '/v1/status': 2000, '/v1/peers': 2000, '/v1/node': 5000, '/v1/own-txs': 5000,
  '/v1/history': 10000, '/v1/nat': 10000, '/v1/mixnet': 10000,
};
const TX_ROWS = 20;       // rows shown before "show all"
const EVENTS_KEPT = 50;
const HOUR = 3600e3;

let token = null;
let skew = 0;             // server clock - our clock, ms (from the Date header, when it matters)
let ready = false;
let started = false;
let verified = false;     // the token worked once: then poll everything and open the stream
let streamCtl = null;
const src = {};           // path -> source state
const panels = [];        // the registry

/* == small helpers == */
const $ = (id) => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) { if (text.nodeType) e.append(text); else e.textContent = String(text); }
  return e;
}
function add(parent, ...kids) {
  for (const k of kids) if (k != null && k !== false) parent.append(k.nodeType ? k : String(k));
  return parent;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
const now = () => Date.now() + skew;
const isNum = (v) => typeof v === 'number' && isFinite(v);
const get = (o, ...path) => { for (const k of path) { if (o == null || typeof o !== 'object') return undefined; o = o[k]; } return o; };
const pick = (o, ...names) => { for (const n of names) { const v = get(o, n); if (v !== undefined) return v; } return undefined; };
function num(v) {
  if (!isNum(v)) return DASH;
  return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}
function bytes(v) {
  if (!isNum(v)) return DASH;
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 1 : 0)) + '\u00a0' + u[i];
}
const rate = (v) => isNum(v) ? bytes(v) + '/s' : DASH;
function dur(s) {
  if (!isNum(s)) return DASH;
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + '\u00a0s';
  if (s < 3600) return Math.floor(s / 60) + '\u00a0min ' + (s % 60) + '\u00a0s';
  if (s < 86400) return Math.floor(s / 3600) + '\u00a0h ' + Math.floor((s % 3600) / 60) + '\u00a0min';
  return Math.floor(s / 86400) + '\u00a0d ' + Math.floor((s % 86400) / 3600) + '\u00a0h';
}
function mmss(s) {
  s = Math.max(0, Math.ceil(s));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}
const pad2 = (n) => String(n).padStart(2, '0');
function clock(ms) {
  if (!isNum(ms)) return DASH;
  const d = new Date(ms - skew);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
}
function delta(ms) {
  if (!isNum(ms)) return '';
  ms = Math.max(0, ms);
  if (ms < 1000) return '+' + Math.round(ms) + '\u00a0ms';
  if (ms < 60000) return '+' + (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + '\u00a0s';
  return '+' + dur(ms / 1000);
}
function ago(ms) {
  const s = (now() - ms) / 1000;
  return s < 5 ? 'just now' : dur(s) + ' ago';
}
const short = (id) => typeof id === 'string' && id ? id.slice(0, 8) : 'anonymous';
const yesno = (v) => v === true ? 'yes' : v === false ? 'no' : DASH;
const str = (v) => v == null || v === '' ? DASH : String(v);
function idSpan(id) {
  const s = el('span', 'mono id', short(id));
  if (id) s.title = id;
  return s;
}
function badge(text, kind) { return el('span', 'badge ' + (kind || 'neutral'), text); }
/* A two-column list of [label, value or node] pairs. */
function kv(pairs) {
  const dl = el('dl', 'kv');
  for (const [k, v, cls] of pairs) {
    add(dl, el('dt', null, k));
    const dd = el('dd', cls || null);
    add(dd, v == null ? DASH : v);
    add(dl, dd);
  }
  return dl;
}
const note = (text) => el('p', 'note', text);

/* == the token == */
function takeToken() {
  let msg = null;
  if (location.hash.length > 1) {
    const p = new URLSearchParams(location.hash.slice(1));
    const t = p.get('token');
    if (t != null) {
      if (/^[0-9a-fA-F]{64}$/.test(t)) sessionStorage.setItem(TOKEN_KEY, t.toLowerCase());
      else msg = 'The link\u2019s token is not 64 hex digits: paste the token instead.';
      history.replaceState(null, '', location.pathname + location.search);
    }
  }
  token = sessionStorage.getItem(TOKEN_KEY);
  return msg;
}
function showLogin(msg) {
  $('login').hidden = false;
  const m = $('login-msg');
  m.hidden = !msg;
  m.textContent = msg || '';
  setConn('idle', 'no token');
  $('token-input').focus();
}
function saveToken() {
  const v = $('token-input').value.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(v)) { showLogin('That is not 64 hex digits.'); return; }
  sessionStorage.setItem(TOKEN_KEY, v.toLowerCase());
  token = v.toLowerCase();
  $('token-input').value = '';
  $('login').hidden = true;
  start();
}
function authFailed() {
  sessionStorage.removeItem(TOKEN_KEY);
  token = null;
  started = false;
  if (streamCtl) { streamCtl.abort(); streamCtl = null; }
  showLogin('The node refused the token (401). Paste the current one from DATADIR/api.token, or open the link that nepnet ui prints.');
}

/* == talking to the node == */
function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}
function message(text) {
  const m = $('message');
  m.hidden = !text;
  m.textContent = text || '';
}
function learnSkew(r) {
  const d = Date.parse(r.headers.get('Date') || '');
  if (!isNum(d)) return;
  const s = d + 500 - Date.now(); // the header has whole seconds
  skew = Math.abs(s) > 2000 ? s : 0;
}
async function api(path, signal) {
  const r = await fetch(path, {
    headers: { Authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'omit',
    redirect: 'error', signal,
  });
  return r;
}
function source(path) {
  if (!src[path]) src[path] = { path, every: POLL[path] || 10000, next: 0, busy: false, again: false, data: undefined, code: 0, err: null, ok: false };
  return src[path];
}
async function load(s) {
  if (!token) return;
  s.busy = true;
  s.next = Date.now() + s.every;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 15000);
  const tok = token;
  try {
    const r = await api(s.path, ctl.signal);
    if (tok !== token) return;
    s.code = r.status;
    if (r.status === 401) { authFailed(); return; }
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.ok && body && typeof body === 'object') {
      learnSkew(r);
      s.data = body; s.err = null; s.ok = true;
      if (!verified) { verified = true; setTimeout(tick, 0); streamLoop(); }
    } else {
      s.err = (body && body.error) || ('HTTP ' + r.status);
    }
    message(null);
    if (stream.live) setConn('live', 'live');
    else if ($('conn').dataset.state === 'down') setConn('warn', 'polling');
  } catch (e) {
    s.err = e && e.name === 'AbortError' ? 'timed out' : 'cannot reach the node';
    s.code = 0;
    message('Cannot reach the node at ' + location.host + ' (' + s.err + '): is nepnetd running? Retrying.');
    setConn('down', 'offline');
  } finally {
    clearTimeout(timer);
    s.busy = false;
  }
  if (tok !== token) return;
  renderFor(s.path);
  if (s.again) { s.again = false; load(s); }
}
/* Ask for a route now (coalesced); while the tab is hidden, at the next visible tick. */
function want(path) {
  const s = source(path);
  if (!verified || !gateOpen(s)) return;
  if (document.hidden) { s.next = 0; return; }
  if (s.busy) { s.again = true; return; }
  if (s.soon) return;
  s.soon = setTimeout(() => { s.soon = null; if (s.busy) s.again = true; else load(s); }, 40);
}
/* A route some panel only wants in some states (e.g. /v1/mixnet only while the mixnet is on:
 * a 404 would be a console error in the browser). Closing it forgets its answer. */
function gateOpen(s) {
  if (!s.gate || s.gate()) return true;
  if (s.data !== undefined || s.err) { s.data = undefined; s.ok = false; s.err = null; s.code = 0; renderFor(s.path); }
  return false;
}
function tick() {
  if (document.hidden) return;
  countdowns();
  if (!token || !started) return;
  const t = Date.now();
  for (const p in src) {
    const s = src[p];
    if (!verified && p !== '/v1/status') continue; // one request tells whether the token works
    if (s.used && !s.busy && !s.soon && t >= s.next && gateOpen(s)) load(s);
  }
}

/* == the events stream (NDJSON over fetch: EventSource cannot send the header) == */
const stream = { since: 0, live: false };
async function streamLoop() {
  const ctl = new AbortController();
  streamCtl = ctl;
  while (token && streamCtl === ctl) {
    let wait = 2000;
    try {
      const r = await api('/v1/events?since=' + stream.since, ctl.signal);
      if (r.status === 401) { authFailed(); return; }
      if (!r.ok || !r.body) {
        eventsNote(r.status === 404 ? 'This node has no event stream: the page polls only.' : 'Event stream: HTTP ' + r.status + '; retrying.');
        wait = r.status === 404 ? 30000 : 5000;
      } else {
        stream.live = true;
        setConn('live', 'live');
        eventsNote(null);
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line) streamLine(line);
          }
          if (buf.length > 1 << 20) buf = ''; // never a line that long
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    stream.live = false;
    if (streamCtl !== ctl) return;
    if ($('conn').dataset.state !== 'down') setConn('warn', 'reconnecting');
    await new Promise((res) => setTimeout(res, wait));
  }
}
/* The node restarted (its uptime went back): its event numbers start again at 1. */
function nodeRestarted() {
  stream.since = 0;
  if (evPanel.list) clear(evPanel.list);
  if (streamCtl) streamCtl.abort();
  if (verified) streamLoop();
}
function streamLine(line) {
  let ev;
  try { ev = JSON.parse(line); } catch (e) { return; }
  if (!ev || typeof ev !== 'object') return;
  if (ev.error !== undefined) {
    if (isNum(ev.next)) stream.since = ev.next;
    eventsNote('Event stream: ' + ev.error);
    return;
  }
  if (!isNum(ev.seq) || ev.seq < stream.since) return;
  stream.since = ev.seq + 1;
  onEvent(ev);
}
function onEvent(ev) {
  eventRow(ev);
  switch (ev.type) {
    case 'own-tx': ownTxEvent(ev); want('/v1/own-txs'); want('/v1/status'); break;
    case 'peer-up': case 'peer-down': want('/v1/peers'); want('/v1/status'); break;
    case 'epoch': epochEvent(ev); want('/v1/status'); want('/v1/peers'); want('/v1/node'); break;
    case 'dht': want('/v1/node'); want('/v1/status'); break;
    case 'start': if (Math.abs(now() - ev.unix_ms) < 10000) for (const p in src) if (src[p].used) want(p); break;
    default: break;
  }
}
/* Apply an own-tx event to the list at once; the refetch that follows has the final word. */
function ownTxEvent(ev) {
  const s = source('/v1/own-txs');
  const list = get(s.data, 'own_txs');
  if (!Array.isArray(list) || typeof ev.id !== 'string') return;
  let e = list.find((x) => x && x.id === ev.id);
  if (!e) {
    if (ev.what !== 'submitted') return;
    e = { id: ev.id, len: ev.len, route: get(source('/v1/status').data, 'route'), state: ev.state || 'submitted', submitted_unix_ms: ev.unix_ms, embargo_unix_ms: 0, steps: [], steps_lost: 0 };
    list.unshift(e);
  }
  if (!Array.isArray(e.steps)) e.steps = [];
  if (!e.steps.some((st) => st.what === ev.what && st.unix_ms === ev.unix_ms)) {
    if (e.steps.length && e.steps[e.steps.length - 1].unix_ms > ev.unix_ms) return; // older than what we hold
    e.steps.push({ unix_ms: ev.unix_ms, what: ev.what, peer: ev.peer == null ? null : ev.peer, detail: ev.detail == null ? null : ev.detail });
    if (ev.state) e.state = ev.state;
    if (isNum(ev.embargo_unix_ms) && ev.embargo_unix_ms > 0) e.embargo_unix_ms = ev.embargo_unix_ms;
    renderFor(s.path);
  }
}
function epochEvent(ev) {
  const st = source('/v1/status').data;
  if (!st || !ev.role || !isNum(ev.ends_in_s) || now() - ev.unix_ms > 5000) return; // a live one only
  st.epoch = { role: ev.role, ends_in_s: ev.ends_in_s, relays: Array.isArray(ev.relays) ? ev.relays : [] };
  epochEnd = ev.unix_ms + ev.ends_in_s * 1000;
  renderFor('/v1/status');
}

/* == the panel registry == */
/* addPanel({id, title, route, also, optional, span, card, init(body), render(data, all)}):
 * route: the route whose answer render() gets (its card waits for it); also: routes whose
 * answers re-render it too (read them with all(path)); optional: the card shows only while the
 * route answers 200 (404 = feature off); span: 'wide' (whole row) or 'double'; card: false for
 * views of the header (render into existing elements). */
function addPanel(p) { panels.push(p); if (started) mountPanel(p); return p; }
const all = (path) => src[path] ? src[path].data : undefined;
function mountPanel(p) {
  for (const r of [p.route].concat(p.also || [])) if (r) source(r).used = true;
  if (p.when) source(p.route).gate = () => p.when(all);
  if (p.card === false) { if (p.init) p.init(); p.mounted = true; return; }
  const card = el('section', 'card' + (p.span ? ' ' + p.span : ''));
  card.id = 'card-' + p.id;
  const h = el('h2', null, p.title);
  p.sub = el('span', 'sub');
  add(h, p.sub);
  p.body = el('div', 'body');
  p.errEl = el('p', 'card-err');
  p.errEl.hidden = true;
  p.body.append(el('p', 'muted loading', 'loading\u2026'));
  add(card, h, p.errEl, p.body);
  if (p.optional) card.hidden = true;
  p.card = card;
  $('grid').append(card);
  p.mounted = true;
  if (!p.route) { clear(p.body); if (p.init) p.init(p.body); p.inited = true; }
}
function renderFor(path) {
  for (const p of panels) {
    if (!p.mounted || (p.route !== path && !(p.also || []).includes(path))) continue;
    renderPanel(p);
  }
  checkReady();
}
function renderPanel(p) {
  const s = p.route ? src[p.route] : null;
  if (p.card && p.card.nodeType) {
    if (p.optional) p.card.hidden = !(s && s.ok && s.code === 200);
    const bad = s && s.err && s.code > 0; // an answer with an error (no answer: the top message says it)
    p.errEl.hidden = !bad;
    if (bad) p.errEl.textContent = 'GET ' + p.route + ': ' + s.err;
  }
  if (s && s.data === undefined) return;
  try {
    if (p.body && !p.inited) { clear(p.body); if (p.init) p.init(p.body); p.inited = true; }
    p.render(s ? s.data : undefined, all);
  } catch (e) {
    if (p.errEl) { p.errEl.hidden = false; p.errEl.textContent = 'This panel could not show the answer: ' + (e && e.message); }
  }
}
function checkReady() {
  if (ready) return;
  const a = src['/v1/status'], b = src['/v1/own-txs'];
  if (a && a.ok && b && b.ok) { ready = true; document.body.dataset.ready = '1'; }
}

/* == countdowns, ticking locally between polls == */
let epochEnd = 0, upSince = 0;
function countdowns() {
  const t = now();
  for (const e of document.querySelectorAll('[data-until]')) {
    const left = (+e.dataset.until - t) / 1000;
    e.textContent = e.dataset.fmt === 'mmss' ? mmss(left) : Math.max(0, Math.ceil(left)) + '\u00a0s';
  }
  if (upSince) $('uptime').textContent = dur((t - upSince) / 1000);
  // stem-phase timelines move: redraw them, and fetch the outcome once the embargo is due
  const txp = panels.find((p) => p.id === 'txs');
  if (txp && txp.pending && txp.pending.size && !document.hidden) {
    let due = false;
    for (const id of txp.pending) {
      const e = txp.byId.get(id);
      if (e && e.embargo_unix_ms && t > e.embargo_unix_ms + 500 && t < e.embargo_unix_ms + 4000) due = true;
    }
    txp.redrawPending();
    if (due && !(src['/v1/own-txs'] || {}).busy && (Date.now() - (txp.lastDueFetch || 0)) > 1000) { txp.lastDueFetch = Date.now(); want('/v1/own-txs'); }
  }
}

/* == header and alarms == */
const ROUTE_KIND = { direct: 'bad', dandelion: 'stem', mixnet: 'mix', 'dandelion+mixnet': 'mix', 'tx-proxy': 'stem' };
addPanel({
  id: 'header', card: false, route: '/v1/status', also: ['/v1/node'],
  init() {
    $('copy-id').addEventListener('click', () => copy(this.nodeId, $('copy-id')));
  },
  render(st, all) {
    const id = st.node_id;
    this.nodeId = id;
    $('top').dataset.loaded = '1';
    const n = $('node-id');
    n.textContent = typeof id === 'string' ? id.slice(0, 16) + '\u2026' : DASH;
    n.title = typeof id === 'string' ? id : '';
    $('network').textContent = str(st.network);
    $('network').className = 'badge ' + (st.network === 'mainnet' ? 'ok' : 'neutral');
    $('preset').textContent = 'preset ' + str(st.preset || 'default');
    const rb = $('route-badge');
    const route = st.route;
    rb.className = 'badge ' + (ROUTE_KIND[route] || 'neutral');
    rb.textContent = route === 'direct' ? 'direct: no origin hiding' : route === 'dandelion' ? 'Dandelion++' : str(route);
    rb.dataset.route = route || '';
    const commit = pick(st, 'commit');
    $('version').textContent = str(pick(st, 'version') || get(all('/v1/node'), 'version')) + (commit ? ' (' + commit + ')' : '');
    if (isNum(st.uptime_s)) {
      const since = now() - st.uptime_s * 1000;
      if (upSince && since - upSince > 20000) nodeRestarted();
      upSince = since;
    }
    $('uptime').textContent = dur(st.uptime_s);
    const l = $('listen');
    if (typeof st.peer === 'string' && st.peer.includes('@')) {
      l.textContent = 'reachable at ' + st.peer.slice(st.peer.indexOf('@') + 1);
      l.title = 'Other nodes can use --peer ' + st.peer;
    } else {
      l.textContent = 'hidden: no address advertised';
      l.title = '';
    }
    document.title = 'nepnet ' + short(id) + (st.network ? ' (' + st.network + ')' : '');
    if (isNum(get(st, 'epoch', 'ends_in_s'))) epochEnd = now() + st.epoch.ends_in_s * 1000;
  },
});
async function copy(text, btn) {
  if (!text) return;
  let ok = true;
  try { await navigator.clipboard.writeText(text); } catch (e) {
    const t = el('textarea', 'sr', text); // no clipboard API (permission): the old way
    document.body.append(t);
    t.select();
    try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
    t.remove();
  }
  btn.textContent = ok ? 'copied' : 'copy failed';
  setTimeout(() => { btn.textContent = 'copy'; }, 1200);
}

addPanel({
  id: 'alarms', card: false, route: '/v1/status', also: ['/v1/own-txs'],
  render(st, all) {
    const list = [];
    if (st.bootstrapped === false) list.push(['not-bootstrapped', 'Not bootstrapped: the DHT has not found the network yet (' + num(st.dht_size) + ' contacts).']);
    if (st.peers_out === 0) list.push(['no-outbound', 'No outbound peer: this node reaches the network only through peers that dialled it.']);
    const ep = st.epoch || {};
    if (ep.role === 'stem' && Array.isArray(ep.relays) && ep.relays.length === 0 && st.route !== 'direct')
      list.push(['no-stem-relay', 'No stem relay this epoch: a transaction submitted now waits for its embargo and is then broadcast by this node.']);
    const txs = get(all('/v1/own-txs'), 'own_txs');
    if (Array.isArray(txs)) {
      const t = now();
      const emb = txs.filter((e) => e && e.state === 'embargoed' && t - lastStepMs(e) < HOUR);
      if (emb.length) list.push(['embargoed', (emb.length === 1 ? 'A transaction of yours was' : emb.length + ' transactions of yours were') + ' not seen back in time within the last hour: the embargo fired and your node broadcast it itself.']);
    }
    const box = $('alarms');
    const sig = list.map((a) => a[1]).join('\n');
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    clear(box);
    for (const [key, text] of list) {
      const a = el('div', 'alarm', text);
      a.dataset.alarm = key;
      box.append(a);
    }
  },
});
function lastStepMs(e) {
  const st = Array.isArray(e.steps) && e.steps.length ? e.steps[e.steps.length - 1].unix_ms : null;
  return isNum(st) ? st : e.submitted_unix_ms;
}

/* == My transactions == */
const STATE_KIND = { propagated: 'ok', stem: 'stem', submitted: 'stem', embargoed: 'warn', direct: 'bad', mixnet: 'mix', dropped: 'grey' };
function via(detail) {
  if (typeof detail !== 'string' || !detail) return '';
  const m = /^via ([^:]+)/.exec(detail);
  if (m) return ' via ' + m[1];
  return detail.length <= 16 ? ' via ' + detail : '';
}
const STEP_TEXT = {
  stem: 'stem \u2192 relay ', 'tx-proxy': 'to Tor/I2P peer ', 'stem-dropped': 'stem dropped', 'private-broadcast': 'private broadcast',
  waiting: 'waiting for a peer', 'embargo-fired': 'embargo fired', direct: 'broadcast directly', mixnet: 'to the mixnet',
};
function stepText(s) {
  if (s.what === 'seen-back') return 'seen back from ' + short(s.peer) + via(s.detail);
  const t = STEP_TEXT[s.what] || String(s.what || '?');
  return t.endsWith(' ') ? t + short(s.peer) : t;
}
const STEP_KIND = { 'seen-back': 'ok', 'embargo-fired': 'warn', direct: 'bad', 'stem-dropped': 'warn', refused: 'grey', dropped: 'grey', stem: 'stem', 'tx-proxy': 'stem', mixnet: 'mix' };
const PLAIN = {
  propagated: '\u2713 The network has it; another node announced it: origin hidden.',
  embargoed: 'Not seen back in time: your node broadcast it itself.',
  direct: 'Broadcast directly: no origin hiding.',
  stem: 'In the stem phase.',
  submitted: 'Nothing has left yet: waiting for a stem relay or a Tor/I2P peer.',
  mixnet: 'Handed to the mixnet: its exit broadcasts it.',
};
function plain(e, t) {
  const last = Array.isArray(e.steps) && e.steps.length ? e.steps[e.steps.length - 1] : null;
  const p = el('p', 'plain ' + (STATE_KIND[e.state] || 'neutral'), PLAIN[e.state] || 'State: ' + str(e.state) + '.');
  if (e.state === 'dropped') p.textContent = 'Dropped: ' + ((last && last.detail) || 'refused, or given up') + '.';
  if (e.state === 'stem' && isNum(e.embargo_unix_ms) && e.embargo_unix_ms > 0) {
    const c = el('span', 'count', Math.max(0, Math.ceil((e.embargo_unix_ms - t) / 1000)) + '\u00a0s');
    c.dataset.until = e.embargo_unix_ms;
    add(clear(p), 'In the stem phase; embargo in ', c, '.');
  }
  return p;
}
let measureCtx = null;
function textWidth(s) {
  if (!measureCtx) { measureCtx = document.createElement('canvas').getContext('2d'); }
  if (!measureCtx) return s.length * 6.5;
  measureCtx.font = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
  return measureCtx.measureText(s).width + 4;
}
/* The timeline: markers positioned by time on a square-root axis (so +1 ms and +9 s both read),
 * labels in lanes under the track so they never overlap. */
function timeline(e, width, t) {
  const t0 = e.submitted_unix_ms;
  const steps = (Array.isArray(e.steps) ? e.steps : []).filter((s) => s && isNum(s.unix_ms));
  const pending = e.state === 'stem' || e.state === 'submitted';
  const emb = isNum(e.embargo_unix_ms) && e.embargo_unix_ms > 0 ? e.embargo_unix_ms : 0;
  let span = 1;
  for (const s of steps) span = Math.max(span, s.unix_ms - t0);
  if (pending) { span = Math.max(span, t - t0); if (emb) span = Math.max(span, emb - t0); }
  const x = (ms) => Math.sqrt(Math.max(0, Math.min(span, ms - t0)) / span) * 100;
  const tl = el('div', 'tl');
  const inner = el('div', 'tl-in');
  tl.append(inner);
  add(inner, el('div', 'tl-track'));
  const stem = steps.find((s) => s.what === 'stem' || s.what === 'tx-proxy');
  const end = steps.find((s) => s.what === 'seen-back' || s.what === 'embargo-fired');
  const seg = (a, b, cls) => { const d = el('div', 'tl-seg ' + cls); d.style.left = x(a) + '%'; d.style.width = Math.max(0.5, x(b) - x(a)) + '%'; inner.append(d); return d; };
  if (stem && end) seg(stem.unix_ms, end.unix_ms, end.what === 'seen-back' ? 'ok' : 'warn');
  if (pending && emb) {
    const w = seg(stem ? stem.unix_ms : t0, emb, 'window');
    w.title = 'embargo window: if nobody sends it back by ' + clock(emb) + ', this node broadcasts it itself';
    seg(stem ? stem.unix_ms : t0, Math.min(t, emb), 'stem');
  }
  // labels: one per step, plus the embargo deadline while pending
  const items = steps.map((s) => ({ ms: s.unix_ms, text: stepText(s) + (s.what === 'submitted' ? '' : ' ' + delta(s.unix_ms - t0)), kind: STEP_KIND[s.what] || 'neutral', s }));
  if (pending && emb) items.push({ ms: emb, text: 'embargo ' + delta(emb - t0), kind: 'deadline', deadline: true });
  if (pending) items.push({ ms: t, text: 'now', kind: 'now', now: true });
  const W = Math.max(200, width - 12);
  const lanes = [];
  let maxLane = 0;
  for (const it of items) {
    const px = x(it.ms) / 100 * W;
    const w = textWidth(it.text);
    const right = px + w > W;
    const a = right ? px - w : px, b = right ? px : px + w;
    let lane = lanes.findIndex((endPx) => endPx + 6 < a);
    if (lane < 0) { lane = lanes.length; lanes.push(b); } else lanes[lane] = b;
    maxLane = Math.max(maxLane, lane);
    const dot = el('div', 'tl-dot ' + it.kind);
    dot.style.left = x(it.ms) + '%';
    const lab = el('div', 'tl-label ' + it.kind + (right ? ' end' : ''), it.text);
    lab.style.left = x(it.ms) + '%';
    lab.style.top = (20 + lane * 16) + 'px';
    if (it.s) {
      dot.title = lab.title = clock(it.ms) + ' ' + it.s.what + (it.s.peer ? ' ' + it.s.peer : '') + (it.s.detail ? ': ' + it.s.detail : '');
    }
    inner.append(dot);
    inner.append(lab);
  }
  tl.style.height = (20 + (maxLane + 1) * 16 + 4) + 'px';
  return tl;
}
function stepsTable(e) {
  const d = el('details', 'steps');
  add(d, el('summary', null, 'steps' + (e.steps_lost ? ' (' + e.steps_lost + ' more not kept)' : '')));
  const tb = el('table', 'small');
  const t0 = e.submitted_unix_ms;
  for (const s of Array.isArray(e.steps) ? e.steps : []) {
    const tr = el('tr');
    add(tr, el('td', 'mono', clock(s.unix_ms)), el('td', 'num', delta(s.unix_ms - t0)), el('td', null, s.what));
    const peer = el('td', 'mono', s.peer ? s.peer.slice(0, 16) + '\u2026' : '');
    if (s.peer) peer.title = s.peer;
    add(tr, peer, el('td', null, s.detail || ''));
    tb.append(tr);
  }
  d.append(tb);
  return d;
}
function txRow(e, width, t) {
  const row = el('div', 'tx ' + (STATE_KIND[e.state] || 'grey'));
  row.dataset.id = e.id;
  row.dataset.state = e.state || '';
  const head = el('div', 'tx-head');
  add(head, badge(str(e.state), STATE_KIND[e.state]), idSpan(e.id));
  const meta = el('span', 'muted', bytes(e.len) + ' \u00b7 ' + str(e.route) + ' \u00b7 ' + clock(e.submitted_unix_ms) + ' (' + ago(e.submitted_unix_ms) + ')');
  add(head, meta);
  add(row, head, timeline(e, width, t), plain(e, t));
  if (e.state !== 'stem' && e.state !== 'submitted') add(row, stepsTable(e));
  return row;
}
addPanel({
  id: 'txs', title: 'My transactions', route: '/v1/own-txs', span: 'wide',
  init(body) {
    this.byId = new Map();
    this.rows = new Map();
    this.pending = new Set();
    this.showAll = false;
    add(body, note('One row per transaction submitted at this node. The first hop is shown; hops after the first are hidden by design.'));
    this.list = el('div', 'txs');
    this.list.id = 'txs';
    this.more = el('button', 'small link', '');
    this.more.type = 'button';
    this.more.hidden = true;
    this.more.addEventListener('click', () => { this.showAll = !this.showAll; this.draw(true); });
    add(body, this.list, this.more);
    let rt = null;
    window.addEventListener('resize', () => { clearTimeout(rt); rt = setTimeout(() => this.draw(true), 200); });
  },
  render(data) { this.data = Array.isArray(data.own_txs) ? data.own_txs : []; this.draw(false); },
  draw(force) {
    const list = (this.data || []).filter((e) => e && typeof e.id === 'string');
    const t = now();
    const width = this.list.clientWidth || 800;
    const shown = this.showAll ? list : list.slice(0, TX_ROWS);
    this.sub.textContent = list.length ? list.length + (list.length === 1 ? ' transaction' : ' transactions') : '';
    this.more.hidden = list.length <= TX_ROWS;
    this.more.textContent = this.showAll ? 'show the newest ' + TX_ROWS : 'show all ' + list.length;
    if (!list.length) {
      clear(this.list).append(el('p', 'empty', 'No transactions submitted at this node (kept in memory for 24 h).'));
      this.rows.clear(); this.byId.clear(); this.pending.clear();
      return;
    }
    const empty = this.list.querySelector('.empty');
    if (empty) empty.remove();
    const keep = new Set();
    let prev = null;
    this.byId.clear();
    this.pending.clear();
    for (const e of shown) {
      this.byId.set(e.id, e);
      const isPending = e.state === 'stem' || e.state === 'submitted';
      if (isPending) this.pending.add(e.id);
      const sig = [e.state, (e.steps || []).length, lastStepMs(e), e.embargo_unix_ms, e.steps_lost, width, isPending ? t : Math.floor(t / 30000)].join('|');
      let r = this.rows.get(e.id);
      if (!r || r.sig !== sig || force) {
        const open = r && r.node.querySelector('details[open]');
        const node = txRow(e, width, t);
        if (open) { const d = node.querySelector('details'); if (d) d.open = true; }
        if (r) r.node.replaceWith(node);
        r = { node, sig };
        this.rows.set(e.id, r);
      }
      keep.add(e.id);
      // keep DOM order = list order
      const want = prev ? prev.nextSibling : this.list.firstChild;
      if (want !== r.node) this.list.insertBefore(r.node, want);
      prev = r.node;
    }
    for (const [id, r] of this.rows) if (!keep.has(id)) { r.node.remove(); this.rows.delete(id); }
  },
  redrawPending() {
    const t = now();
    const width = this.list.clientWidth || 800;
    for (const id of this.pending) {
      const e = this.byId.get(id), r = this.rows.get(id);
      if (!e || !r) continue;
      const old = r.node.querySelector('.tl');
      if (old) old.replaceWith(timeline(e, width, t));
    }
  },
});

/* == Dandelion++ == */
addPanel({
  id: 'dandelion', title: 'Dandelion++', route: '/v1/status', also: ['/v1/node'],
  init(body) { this.box = body; },
  render(st, all) {
    const ep = st.epoch || {};
    const dl = get(all('/v1/node'), 'dandelion') || {};
    const b = clear(this.box);
    const role = el('div', 'epoch');
    add(role, badge(ep.role === 'fluff' ? 'fluff epoch' : ep.role === 'stem' ? 'stem epoch' : 'epoch ' + str(ep.role), ep.role === 'fluff' ? 'ok' : 'stem'));
    const c = el('span', 'big mono');
    if (epochEnd) { c.dataset.until = epochEnd; c.dataset.fmt = 'mmss'; c.textContent = mmss((epochEnd - now()) / 1000); } else c.textContent = DASH;
    add(role, el('span', 'muted', 'ends in'), c);
    b.append(role);
    b.append(note(ep.role === 'fluff'
      ? 'Fluff epoch: transactions that reach this node in their stem are broadcast from here.'
      : 'Stem epoch: transactions that reach this node in their stem go on to one relay.'));
    const relays = Array.isArray(ep.relays) ? ep.relays : [];
    const rl = el('div', 'relays');
    if (relays.length) for (const r of relays) add(rl, idSpan(r)); else add(rl, el('span', 'muted', ep.role === 'stem' ? 'none' : 'none (fluff epoch)'));
    const soon = pick(dl, 'embargo_soonest_s');
    b.append(kv([
      ['stem relays', rl],
      ['stempool', num(get(st, 'stempool', 'count')) + ' tx \u00b7 ' + bytes(get(st, 'stempool', 'bytes'))],
      ['mempool', num(get(st, 'mempool', 'count')) + ' tx \u00b7 ' + bytes(get(st, 'mempool', 'bytes'))],
      ['embargo timers', num(pick(dl, 'embargo_pending')) + (isNum(soon) ? ' (soonest in ' + dur(Math.ceil(soon)) + ')' : '')],
      ['stems in / out', num(pick(dl, 'stems_in')) + ' / ' + num(pick(dl, 'stems_out'))],
      ['fluffed here', num(pick(dl, 'fluffed'))],
      ['embargoes fired', num(pick(dl, 'embargo_fired', 'embargoes_fired'))],
      ['stems dropped', num(pick(dl, 'stems_dropped'))],
      ['epochs (fluff)', num(pick(dl, 'epochs')) + ' (' + num(pick(dl, 'fluff_epochs')) + ')'],
      ['txs received / submitted', num(st.tx_received) + ' / ' + num(st.tx_submitted)],
    ]));
  },
});

/* == DHT == */
addPanel({
  id: 'dht', title: 'Discovery (DHT)', route: '/v1/node', also: ['/v1/status'],
  init(body) {
    this.info = el('div');
    const sw = el('div', 'strip-wrap');
    this.strip = el('div', 'strip');
    this.strip.id = 'dht-strip';
    this.cells = [];
    for (let i = 0; i < 256; i++) { const c = el('div', 'cell f0'); this.cells.push(c); this.strip.append(c); }
    const axis = el('div', 'strip-axis');
    add(axis, el('span', null, 'bucket 0 (far half of the id space)'), el('span', null, '255 (nearest)'));
    const legend = el('div', 'strip-legend');
    add(legend, el('span', 'muted', 'fill'));
    for (let i = 0; i <= 5; i++) add(legend, el('span', 'cell f' + i));
    this.kText = el('span', 'muted', 'k');
    add(legend, this.kText);
    add(sw, this.strip, axis, legend);
    add(body, this.info, sw);
  },
  render(node, all) {
    const d = get(node, 'dht') || {};
    const st = all('/v1/status') || {};
    const k = isNum(d.k) && d.k > 0 ? d.k : 20;
    const contacts = pick(d, 'contacts', 'size');
    const boot = d.bootstrapped !== undefined ? d.bootstrapped : st.bootstrapped;
    const done = pick(d, 'lookups_done', 'lookups'), found = pick(d, 'lookups_found');
    clear(this.info).append(kv([
      ['contacts', num(isNum(contacts) ? contacts : st.dht_size)],
      ['bootstrapped', yesno(boot), boot === false ? 'warn-text' : null],
      ['k', num(d.k)],
      ['records held', num(pick(d, 'records'))],
      ['lookups (found)', num(done) + (isNum(found) ? ' (' + num(found) + ')' : '')],
    ]));
    const buckets = Array.isArray(d.buckets) ? d.buckets : [];
    this.kText.textContent = 'k = ' + k;
    for (let i = 0; i < 256; i++) {
      const n = isNum(buckets[i]) ? buckets[i] : 0;
      const lvl = n <= 0 ? 0 : Math.min(5, 1 + Math.floor((n / k) * 4.999));
      const cls = 'cell f' + lvl;
      if (this.cells[i].className !== cls) this.cells[i].className = cls;
      this.cells[i].title = 'bucket ' + i + ': ' + (isNum(buckets[i]) ? n : DASH) + ' / ' + k;
    }
  },
});

/* == Channels == */
addPanel({
  id: 'channels', title: 'Channels', route: '/v1/node', also: ['/v1/status'],
  render(node, all) {
    const c = get(node, 'channels') || {};
    const st = all('/v1/status') || {};
    const open = pick(c, 'open');
    const out = pick(c, 'outbound');
    clear(this.body).append(kv([
      ['open', num(isNum(open) ? open : st.channels) + (isNum(open) && isNum(out) ? ' (' + num(out) + ' out, ' + num(open - out) + ' in)' : '')],
      ['dialling', num(st.dialing)],
      ['handshakes ok', num(pick(c, 'handshakes_ok', 'handshakes'))],
      ['handshakes failed', num(pick(c, 'handshakes_failed')), pick(c, 'handshakes_failed') > 0 ? 'warn-text' : null],
      ['closed, by reason', c.closed && typeof c.closed === 'object' ? Object.entries(c.closed).map(([k, v]) => k + ' ' + num(v)).join(', ') || 'none' : DASH],
      ['anonymous inbound', num(pick(c, 'anonymous_in'))],
      ['suite', str(pick(c, 'suite')), 'mono wrap'],
      ['traffic in / out', bytes(st.bytes_in) + ' / ' + bytes(st.bytes_out)],
    ]));
  },
});

/* == Plots (Dygraph, Debian's libjs-dygraphs) == */
const COLORS = { in: '#1f6feb', out: '#d4731b', dht: '#8250df' };
const hist = { samples: [], local: [] };
const COLS = ['unix_ms', 'bytes_in', 'bytes_out', 'peers_in', 'peers_out', 'dht_size', 'mempool', 'stempool'];
let dygraphReady = false;
function prepareDygraph() {
  if (dygraphReady || typeof window.Dygraph !== 'function') return dygraphReady;
  // Dygraph's legend plugin writes style="" attributes, which the page's CSP refuses: the
  // page draws its own legend (below each chart) instead.
  try {
    const L = window.Dygraph.Plugins && window.Dygraph.Plugins.Legend;
    if (Array.isArray(window.Dygraph.PLUGINS) && L) window.Dygraph.PLUGINS = window.Dygraph.PLUGINS.filter((p) => p !== L);
  } catch (e) { /* keep the defaults */ }
  dygraphReady = true;
  return true;
}
function series() {
  const last = hist.samples.length ? hist.samples[hist.samples.length - 1][0] : 0;
  return hist.samples.concat(hist.local.filter((s) => s[0] > last + 1000));
}
function chartPanel(def) {
  return addPanel({
    id: def.id, title: def.title, route: '/v1/history', also: ['/v1/status'],
    init(body) {
      this.div = el('div', 'chart');
      this.div.id = 'chart-' + def.id.replace(/^plot-/, '');
      this.legend = el('div', 'legend');
      this.items = def.labels.map((l, i) => {
        const it = el('span', 'legend-item');
        const sw = el('span', 'swatch');
        sw.style.background = def.colors[i];
        const v = el('span', 'mono');
        add(it, sw, l + ' ', v);
        this.legend.append(it);
        return v;
      });
      this.hover = el('span', 'muted legend-time');
      this.legend.append(this.hover);
      add(body, this.div, this.legend);
    },
    render() {
      const rows = def.rows(series());
      const lastRow = rows[rows.length - 1];
      const show = (row) => {
        if (!row) return;
        this.items.forEach((v, i) => { v.textContent = def.fmt(row[i + 1]); });
      };
      this.showLatest = () => { show(lastRow); this.hover.textContent = lastRow ? 'now' : ''; };
      if (!this.hovering) this.showLatest();
      if (rows.length < 2 || !prepareDygraph()) {
        if (!this.g) { clear(this.div).append(el('p', 'muted', typeof window.Dygraph === 'function' ? 'collecting data\u2026' : 'the chart library did not load')); }
        return;
      }
      const sig = rows.length + '|' + lastRow[0].getTime();
      if (this.g && this.sig === sig) return;
      this.sig = sig;
      if (this.g) { this.g.updateOptions({ file: rows }); return; }
      clear(this.div);
      this.g = new window.Dygraph(this.div, rows, Object.assign({
        labels: ['time'].concat(def.labels), colors: def.colors, legend: 'never',
        strokeWidth: 1.5, axisLabelFontSize: 11, axisLabelWidth: 56, xAxisHeight: 18, rightGap: 6,
        gridLineColor: '#e6e8eb', axisLineColor: '#c5cad1', highlightCircleSize: 3, includeZero: true,
        axes: { y: { axisLabelFormatter: def.axis, valueFormatter: def.fmt } },
        highlightCallback: (ev, x, pts) => {
          this.hovering = true;
          this.hover.textContent = clock(x + skew);
          const row = [x];
          for (const l of def.labels) { const p = pts.find((q) => q.name === l); row.push(p ? p.yval : null); }
          show(row);
        },
        unhighlightCallback: () => { this.hovering = false; this.showLatest(); },
      }, def.options || {}));
    },
  });
}
function rates(s, a, b) {
  const out = [];
  for (let i = 1; i < s.length; i++) {
    const dt = (s[i][0] - s[i - 1][0]) / 1000;
    const r = (k) => { const d = s[i][k] - s[i - 1][k]; return dt > 0 && d >= 0 ? d / dt : null; };
    if (dt > 0) out.push([new Date(s[i][0] - skew), r(a), r(b)]);
  }
  return out;
}
const shortRate = (v) => !isNum(v) ? '' : v >= 1048576 ? +(v / 1048576).toFixed(1) + 'M' : v >= 1024 ? +(v / 1024).toFixed(1) + 'K' : String(+v.toFixed(v < 10 ? 1 : 0));
const intAxis = (v) => Number.isInteger(v) ? String(v) : '';
const intFmt = (v) => isNum(v) ? num(v) : DASH;
chartPanel({
  id: 'plot-bandwidth', title: 'Bandwidth (bytes/s, last hour)', labels: ['in', 'out'], colors: [COLORS.in, COLORS.out],
  rows: (s) => rates(s, 1, 2), fmt: rate, axis: shortRate, options: { fillGraph: true, fillAlpha: 0.12 },
});
chartPanel({
  id: 'plot-peers', title: 'Peers over time', labels: ['out', 'in'], colors: [COLORS.out, COLORS.in],
  rows: (s) => s.map((r) => [new Date(r[0] - skew), r[4], r[3]]), fmt: intFmt, axis: intAxis,
  options: { stepPlot: true, stackedGraph: true, fillGraph: true, fillAlpha: 0.25 },
});
chartPanel({
  id: 'plot-dht', title: 'DHT size over time', labels: ['contacts'], colors: [COLORS.dht],
  rows: (s) => s.map((r) => [new Date(r[0] - skew), r[5]]), fmt: intFmt, axis: intAxis, options: { stepPlot: true },
});
/* The history route's answer, and samples of our own from /v1/status between its polls. */
addPanel({
  id: 'history-feed', card: false, route: '/v1/history', also: ['/v1/status'],
  render(h, all) {
    const st = all('/v1/status');
    if (this.h !== h) {
      this.h = h;
      const cols = Array.isArray(h.columns) ? h.columns : COLS;
      const idx = COLS.map((c) => cols.indexOf(c));
      hist.samples = (Array.isArray(h.samples) ? h.samples : []).filter(Array.isArray).map((r) => idx.map((i) => (i >= 0 && isNum(r[i]) ? r[i] : null))).filter((r) => isNum(r[0]));
    }
    const prev = hist.local.length ? hist.local[hist.local.length - 1][0] : 0;
    if (st && st !== this.st && now() - prev >= 1500) { // rates over shorter spans are noise
      this.st = st;
      hist.local.push([now(), st.bytes_in, st.bytes_out, st.peers_in, st.peers_out, st.dht_size, get(st, 'mempool', 'count'), get(st, 'stempool', 'count')]);
      const first = now() - HOUR;
      while (hist.local.length && hist.local[0][0] < first) hist.local.shift();
      const last = hist.samples.length ? hist.samples[hist.samples.length - 1][0] : 0;
      while (hist.local.length > 1 && hist.local[0][0] <= last) hist.local.shift();
    }
  },
});
// the feed renders before the charts (panels render in registry order): move it first
panels.unshift(panels.pop());

/* == Events == */
const evPanel = addPanel({
  id: 'events', title: 'Events', span: 'double',
  init(body) {
    this.note = el('p', 'note');
    this.note.hidden = true;
    this.list = el('ol', 'events');
    this.list.id = 'events';
    add(body, this.note, this.list);
  },
  render() { /* fed by the stream */ },
});
function eventsNote(text) {
  if (!evPanel.note) return;
  evPanel.note.hidden = !text;
  evPanel.note.textContent = text || '';
}
function eventText(ev) {
  const p = (id) => id ? short(id) : 'an anonymous peer';
  switch (ev.type) {
    case 'start': return 'node started: ' + str(ev.network) + ', route ' + str(ev.route);
    case 'peer-up': return p(ev.peer) + ' connected (' + str(ev.direction) + ', ' + str(ev.path) + ', ' + str(ev.addr) + ')';
    case 'peer-down': return p(ev.peer) + ' disconnected (' + str(ev.direction) + ', ' + str(ev.path) + ')' + (ev.reason ? ': ' + ev.reason : '');
    case 'epoch': return (ev.new ? 'new ' : '') + str(ev.role) + ' epoch, ' + (Array.isArray(ev.relays) && ev.relays.length ? 'relays ' + ev.relays.map(short).join(', ') : 'no relay') + (isNum(ev.ends_in_s) ? ', ends in ' + dur(ev.ends_in_s) : '');
    case 'dht': return (ev.bootstrapped ? 'DHT bootstrapped' : 'DHT not bootstrapped') + ', ' + num(ev.contacts) + ' contacts';
    case 'own-tx': return 'my tx ' + short(ev.id) + ': ' + stepText(ev) + (ev.state ? ' (' + ev.state + ')' : '');
    default: return JSON.stringify(Object.assign({}, ev, { seq: undefined, unix_ms: undefined, type: undefined })).slice(0, 160);
  }
}
const EV_KIND = { 'peer-up': 'ok', 'peer-down': 'grey', epoch: 'stem', 'own-tx': 'mix', dht: 'neutral', start: 'neutral' };
function eventRow(ev) {
  const list = evPanel.list;
  if (!list) return;
  const li = el('li');
  li.dataset.type = String(ev.type || '');
  add(li, el('span', 'mono muted', clock(ev.unix_ms)), badge(str(ev.type), EV_KIND[ev.type] || 'neutral'), el('span', 'ev-text', eventText(ev)));
  list.insertBefore(li, list.firstChild);
  while (list.children.length > EVENTS_KEPT) list.lastChild.remove();
  evPanel.sub.textContent = 'newest first';
}

/* == Peers == */
const PATHS = ['tcp', 'relay', 'punched', 'turn', 'tor', 'i2p'];
addPanel({
  id: 'peers', title: 'Peers', route: '/v1/peers', span: 'wide',
  init(body) {
    this.matrix = el('div', 'matrix-wrap');
    const wrap = el('div', 'table-wrap');
    this.table = el('table', 'peers');
    this.table.id = 'peers';
    const thead = el('thead');
    const hr = el('tr');
    for (const [h, cls] of [['peer'], ['address'], ['transport'], ['dir'], ['age', 'num'], ['in', 'num'], ['out', 'num'], ['stems in/out', 'num'], ['stem relay']]) add(hr, el('th', cls, h));
    thead.append(hr);
    this.tbody = el('tbody');
    add(this.table, thead, this.tbody);
    wrap.append(this.table);
    add(body, this.matrix, wrap);
  },
  render(data) {
    const peers = (Array.isArray(data.peers) ? data.peers : []).filter((p) => p && typeof p === 'object');
    peers.sort((a, b) => (b.stem_relay === true) - (a.stem_relay === true) || (a.direction === 'out' ? 0 : 1) - (b.direction === 'out' ? 0 : 1) || (b.since_s || 0) - (a.since_s || 0));
    const nin = peers.filter((p) => p.direction === 'in').length;
    this.sub.textContent = peers.length + ' (' + (peers.length - nin) + ' out, ' + nin + ' in)';
    // direction x transport
    const paths = PATHS.concat([...new Set(peers.map((p) => p.path).filter((p) => p && !PATHS.includes(p)))]);
    const m = el('table', 'matrix');
    const hr = el('tr');
    add(hr, el('th'));
    for (const p of paths) add(hr, el('th', 'num', p));
    add(hr, el('th', 'num', 'total'));
    m.append(hr);
    for (const dir of ['out', 'in']) {
      const tr = el('tr');
      add(tr, el('th', null, dir === 'out' ? 'outbound' : 'inbound'));
      const mine = peers.filter((p) => p.direction === dir);
      for (const p of paths) { const n = mine.filter((q) => q.path === p).length; add(tr, el('td', 'num' + (n ? '' : ' zero'), n)); }
      add(tr, el('td', 'num total', mine.length));
      m.append(tr);
    }
    clear(this.matrix).append(m);
    const tb = clear(this.tbody);
    if (!peers.length) {
      const tr = el('tr');
      const td = el('td', 'empty', 'No peers connected.');
      td.colSpan = 9;
      tr.append(td);
      tb.append(tr);
      return;
    }
    for (const p of peers) {
      const tr = el('tr');
      if (p.stem_relay) tr.className = 'relay';
      const addr = el('td', 'mono addr', str(p.addr));
      addr.title = str(p.addr);
      add(tr, el('td', null, idSpan(p.node_id)), addr, el('td', null, badge(str(p.path), 'path')),
        el('td', null, p.direction === 'out' ? 'out' : p.direction === 'in' ? 'in' : str(p.direction)),
        el('td', 'num', dur(p.since_s)), el('td', 'num', bytes(p.bytes_in)), el('td', 'num', bytes(p.bytes_out)),
        el('td', 'num', num(p.stems_in) + ' / ' + num(p.stems_out)));
      const rel = el('td');
      if (p.stem_relay) add(rel, badge('relay', 'stem'));
      tr.append(rel);
      tb.append(tr);
    }
  },
});

/* == NAT and mixnet: shown only when the node answers == */
addPanel({
  id: 'nat', title: 'NAT traversal', route: '/v1/nat', optional: true,
  render(n) {
    const r = n.reachability || {}, m = n.tcp_mapping || {}, pu = n.punch || {}, c = n.client || {};
    const pairs = [
      ['reachability', str(r.state), r.state === 'private' ? 'warn-text' : null],
      ['address', str(r.addr), 'mono'],
      ['why', str(r.why)],
      ['TCP mapping', str(m.mapping)],
      ['relay reservations', num(c.reservations) + (isNum(c.streams) ? ' \u00b7 ' + num(c.streams) + ' relayed streams' : '')],
      ['hole punches', num(pu.punched) + ' ok / ' + num(pu.failed) + ' failed' + (isNum(pu.last_ms) ? ' (last ' + num(pu.last_ms) + ' ms)' : '')],
    ];
    if (n.turn) pairs.push(['TURN', str(n.turn.state) + (n.turn.relayed ? ' ' + n.turn.relayed : '')]);
    if (n.tor) pairs.push(['Tor', (n.tor.control_up ? 'up' : 'down') + (n.tor.onion ? ' \u00b7 ' + n.tor.onion : ''), 'wrap']);
    if (n.i2p) pairs.push(['I2P', (n.i2p.session_up ? 'up' : 'down') + (n.i2p.addr ? ' \u00b7 ' + n.i2p.addr : ''), 'wrap']);
    if (n.stun && n.stun.discovery) pairs.push(['STUN', str(n.stun.discovery.mapping) + ' / ' + str(n.stun.discovery.filtering)]);
    clear(this.body).append(kv(pairs));
  },
});
addPanel({
  id: 'mixnet', title: 'Mixnet', route: '/v1/mixnet', optional: true,
  when: (all) => { const r = get(all('/v1/status'), 'mixnet', 'role'); return r === 'mix' || r === 'client'; },
  render(mx) {
    const p = mx.packets || {}, cv = mx.cover || {}, cl = mx.client || {}, d = mx.directory || {};
    clear(this.body).append(kv([
      ['role', str(mx.role)],
      ['key epoch', num(mx.epoch) + (isNum(mx.epoch_s) ? ' (' + dur(mx.epoch_s) + ' each)' : '')],
      ['mixes in view', num(d.mixes)],
      ['cover traffic', cv.on === false ? 'off' : rate(cv.bytes_per_s)],
      ['packets in / out', num(p.in) + ' / ' + num(p.out)],
      ['loops back / sent', num(cl.loops_back) + ' / ' + num(cl.loops_sent) + (isNum(cl.loss) ? ' (loss ' + (cl.loss * 100).toFixed(1) + '%)' : '')],
    ]));
  },
});

/* == start == */
function start() {
  if (!token || started) return;
  started = true;
  ready = false;
  for (const p of panels) if (!p.mounted) mountPanel(p);
  for (const p in src) { src[p].next = 0; src[p].ok = false; }
  stream.since = 0;
  verified = false;
  if (evPanel.list) clear(evPanel.list);
  tick();
}
function boot() {
  $('token-save').addEventListener('click', saveToken);
  $('token-input').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); saveToken(); } });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
  setInterval(tick, 1000);
  const msg = takeToken();
  if (!token) { showLogin(msg); return; }
  start();
}
window.nepnetUI = { addPanel, want }; // for later layers' panels
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot); else boot();
})();
