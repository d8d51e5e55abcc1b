// Browser test of nepnetd's status page, in Debian's chromium-headless-shell through playwright-core.
//
//   cd tests/ui && npm ci
//   NEPNET_API=127.0.0.1:PORT NEPNET_TOKEN=$(cat DATADIR/api.token) NEPNET_SHOT=/tmp/page.png node page_test.js
//
// Environment: NEPNET_API (HOST:PORT of the node's API), NEPNET_TOKEN (64 hex digits),
// NEPNET_SHOT (where the full-page PNG goes), NEPNET_CHROMIUM (the browser; default
// /usr/lib/chromium/chromium-headless-shell, else /usr/bin/chromium-headless-shell),
// NEPNET_TX_HEX (the transaction to submit, hex; default 200 random bytes).
// Each step prints one line "ok ..." or "FAIL ..."; the first failure exits 1. The last line is
// a JSON summary. Never fails on the browser's stderr (dbus / GPU noise in containers).
'use strict';
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { chromium } = require('playwright-core');

const API = process.env.NEPNET_API;
const TOKEN = (process.env.NEPNET_TOKEN || '').trim();
const SHOT = process.env.NEPNET_SHOT || path.join(os.tmpdir(), 'nepnet-ui.png');
const CHROMIUM = process.env.NEPNET_CHROMIUM ||
  (fs.existsSync('/usr/lib/chromium/chromium-headless-shell') ? '/usr/lib/chromium/chromium-headless-shell' : '/usr/bin/chromium-headless-shell');
const TX_HEX = (process.env.NEPNET_TX_HEX || crypto.randomBytes(200).toString('hex')).trim();

const cleanup = [];
async function finish(code) {
  for (const f of cleanup.reverse()) { try { await f(); } catch (e) { /* closing anyway */ } }
  process.exit(code);
}
function ok(msg) { console.log('ok ' + msg); }
async function fail(msg) { console.log('FAIL ' + hide(msg)); await finish(1); }
// the token never goes into the test's output (CI logs)
const hide = (s) => TOKEN ? String(s).split(TOKEN).join('TOKEN').split(TOKEN.toLowerCase()).join('TOKEN') : String(s);

/* One request from node with a chosen Host header (fetch() does not let us set Host). */
function rawGet(port, host, pathName, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: ORIGIN.hostname.replace(/^\[|\]$/g, ''), port, path: pathName, method: 'GET',
      headers: Object.assign({ Host: host }, headers || {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('timed out')));
    req.end();
  });
}

let ORIGIN;
(async () => {
  if (!API || !/^[^/\s]+:\d+$/.test(API)) await fail('NEPNET_API must be HOST:PORT, e.g. 127.0.0.1:9801 (got ' + JSON.stringify(API) + ')');
  if (!/^[0-9a-fA-F]{64}$/.test(TOKEN)) await fail('NEPNET_TOKEN must be the 64 hex digits of DATADIR/api.token');
  if (!/^([0-9a-fA-F]{2})+$/.test(TX_HEX)) await fail('NEPNET_TX_HEX must be an even number of hex digits');
  const base = 'http://' + API;
  ORIGIN = new URL(base);
  const port = ORIGIN.port;
  const ip = ORIGIN.hostname === 'localhost' ? '127.0.0.1' : ORIGIN.hostname;
  const auth = { Authorization: 'Bearer ' + TOKEN };

  // 1. the browser, and what the page does
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--host-resolver-rules=MAP rebind.test ' + ip],
    });
  } catch (e) {
    await fail('launch ' + CHROMIUM + ': ' + String(e.message || e).split('\n')[0] +
      ' (apt-get install -y --no-install-recommends chromium-headless-shell, or set NEPNET_CHROMIUM)');
  }
  cleanup.push(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests = [], consoleErrors = [], pageErrors = [], assetSizes = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text() + (m.location() && m.location().url ? ' (' + m.location().url + ')' : '')); });
  page.on('pageerror', (e) => pageErrors.push(String(e.message || e)));
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.origin === ORIGIN.origin && (u.pathname === '/' || u.pathname.startsWith('/ui/')))
      assetSizes.push(r.body().then((b) => b.length, () => 0));
  });
  ok('launched ' + CHROMIUM + ' ' + browser.version());

  // 2. the page with the token in the fragment, until it says it is ready
  let resp;
  try {
    resp = await page.goto(base + '/#token=' + TOKEN, { waitUntil: 'domcontentloaded', timeout: 15000 });
  } catch (e) {
    await fail('goto ' + base + '/: ' + String(e.message || e).split('\n')[0]);
  }
  if (!resp || resp.status() !== 200) await fail('GET ' + base + '/ answered ' + (resp ? resp.status() : 'nothing'));
  const csp = resp.headers()['content-security-policy'] || '';
  if (!/default-src 'none'/.test(csp)) await fail('GET / has no Content-Security-Policy with default-src \'none\' (got ' + JSON.stringify(csp) + ')');
  try {
    // ready, or the token form (a refused token): whichever comes first
    await page.waitForSelector('body[data-ready="1"], #login:not([hidden])', { timeout: 15000, state: 'attached' });
    if (!(await page.$('body[data-ready="1"]'))) throw new Error('login');
  } catch (e) {
    const why = await page.evaluate(() => [document.getElementById('message'), document.getElementById('login-msg')]
      .filter((x) => x && !x.hidden).map((x) => x.textContent).join(' | ')).catch(() => '');
    await fail('the page did not become ready (body[data-ready="1"], 15 s at most)' + (why ? ': ' + why : '') +
      (pageErrors.length ? '; page errors: ' + pageErrors.join(' | ') : '') + (consoleErrors.length ? '; console errors: ' + consoleErrors.join(' | ') : ''));
  }
  await page.waitForFunction(() => document.readyState === 'complete' &&
    performance.getEntriesByType('navigation')[0].loadEventEnd > 0, null, { timeout: 15000 });
  const loadMs = Math.round(await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd));
  ok('page ready; load_ms ' + loadMs);

  // 3. the token left the URL for sessionStorage
  const where = await page.evaluate(() => ({ href: location.href, stored: sessionStorage.getItem('nepnet.token') }));
  if (where.href.includes('#') || where.href.includes(TOKEN) || where.href.includes(TOKEN.toLowerCase())) await fail('the token is still in the URL: ' + where.href);
  if (!where.stored || where.stored.toLowerCase() !== TOKEN.toLowerCase()) await fail('the token is not in sessionStorage["nepnet.token"]');
  ok('fragment stripped (' + where.href + '), token in sessionStorage');

  // 4. a transaction submitted through the API shows up on the page as propagated
  const t0 = Date.now();
  let id;
  try {
    const r = await fetch(base + '/v1/tx', { method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, auth), body: JSON.stringify({ tx: TX_HEX }) });
    const body = await r.text();
    if (r.status !== 200) await fail('POST /v1/tx answered ' + r.status + ': ' + body.trim());
    id = JSON.parse(body).id;
  } catch (e) {
    await fail('POST /v1/tx: ' + (e.message || e));
  }
  if (!/^[0-9a-f]{64}$/.test(id || '')) await fail('POST /v1/tx gave no id');
  const sel = '.tx[data-id="' + id + '"][data-state="propagated"]';
  let txMs;
  try {
    // polled every 50 ms (waitForSelector backs off to 500 ms, which would blur the timing).
    // Usually seconds; 120 s covers a stem that loops in a 3-node devnet until a relay's
    // embargo fluffs it (the origin's own embargo waits two mean embargoes longer).
    await page.waitForFunction((q) => document.querySelector(q) !== null, sel, { polling: 50, timeout: 120000 });
    txMs = Date.now() - t0;
  } catch (e) {
    const state = await page.evaluate((i) => { const r = document.querySelector('.tx[data-id="' + i + '"]'); return r ? r.dataset.state : 'no row'; }, id).catch(() => '?');
    await fail('tx ' + id.slice(0, 8) + ' not shown as propagated within 120 s (the page shows: ' + state + ')');
  }
  ok('tx ' + id.slice(0, 8) + ' shown as propagated ' + txMs + ' ms after the submission');

  // 5. a screenshot to look at
  await page.waitForTimeout(300); // the row's own re-render after the event settles
  try {
    fs.mkdirSync(path.dirname(path.resolve(SHOT)), { recursive: true });
    await page.screenshot({ path: SHOT, fullPage: true });
  } catch (e) {
    await fail('screenshot to ' + SHOT + ': ' + (e.message || e));
  }
  ok('screenshot ' + SHOT);

  // 6. only our own origin, no console errors, no page errors
  const foreign = requests.filter((u) => !u.startsWith(ORIGIN.origin + '/') && !u.startsWith('data:'));
  if (foreign.length) await fail('the page made requests elsewhere than ' + ORIGIN.origin + ': ' + foreign.join(' '));
  // the fragment never goes on the wire; anywhere else in a URL the token would be logged
  const leak = requests.filter((u) => u.split('#')[0].toLowerCase().includes(TOKEN.toLowerCase()));
  if (leak.length) await fail('the token is in a request URL: ' + leak.join(' '));
  if (consoleErrors.length) await fail('console errors: ' + consoleErrors.join(' | '));
  if (pageErrors.length) await fail('page errors: ' + pageErrors.join(' | '));
  ok(requests.length + ' requests, all to ' + ORIGIN.origin + '; no console errors, no page errors');

  // 7. DNS rebinding: a name that resolves to the node is not the node's origin
  const rebind = 'rebind.test:' + port;
  const rp = await context.newPage();
  let rs;
  try {
    rs = await rp.goto('http://' + rebind + '/', { timeout: 15000 });
  } catch (e) {
    await fail('goto http://' + rebind + '/: ' + String(e.message || e).split('\n')[0]);
  }
  if (!rs || rs.status() !== 403) await fail('http://' + rebind + '/ answered ' + (rs ? rs.status() : 'nothing') + ', want 403');
  const inPage = await rp.evaluate(async (tok) => {
    try { const r = await fetch('/v1/status', { headers: { Authorization: 'Bearer ' + tok } }); return r.status; } catch (e) { return 'failed: ' + e.message; }
  }, TOKEN);
  if (inPage !== 403) await fail('fetch http://' + rebind + '/v1/status with the token from that page: ' + inPage + ', want 403');
  let raw;
  try { raw = await rawGet(port, rebind, '/v1/status', auth); } catch (e) { await fail('GET /v1/status with Host: ' + rebind + ': ' + e.message); }
  if (raw !== 403) await fail('GET /v1/status with Host: ' + rebind + ' and the token: ' + raw + ', want 403');
  await rp.close();
  ok('DNS rebinding refused: http://' + rebind + '/ 403, /v1/status with the token 403 (page and Host header)');

  // 8. a page of another origin (another port of 127.0.0.1) cannot read the API, token or not
  const foreignPage = '<!doctype html><title>foreign</title><script>' +
    'const t = location.hash.slice(1); fetch(' + JSON.stringify(base + '/v1/status') + ', {headers: {Authorization: "Bearer " + t}})' +
    '.then(r => r.text().then(b => { document.title = "read " + r.status + " " + b.slice(0, 60); }))' +
    '.catch(e => { document.title = "failed " + e.message; });</script>';
  const srv = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end(foreignPage); });
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  cleanup.push(() => new Promise((res) => srv.close(res)));
  const fp = await context.newPage();
  await fp.goto('http://127.0.0.1:' + srv.address().port + '/#' + TOKEN);
  try {
    await fp.waitForFunction(() => /^(read|failed)/.test(document.title), null, { timeout: 15000 });
  } catch (e) {
    await fail('the foreign page\'s fetch did not finish within 15 s');
  }
  const title = await fp.title();
  if (!title.startsWith('failed')) await fail('a page on http://127.0.0.1:' + srv.address().port + ' could ' + title);
  await fp.close();
  ok('a page on http://127.0.0.1:' + srv.address().port + ' cannot read ' + base + '/v1/status (' + title + ')');

  // 9. the summary
  const sizes = await Promise.all(assetSizes);
  console.log(JSON.stringify({ load_ms: loadMs, tx_visible_ms: txMs, requests: requests.length, asset_bytes: sizes.reduce((a, b) => a + b, 0) }));
  await finish(0);
})().catch(async (e) => { await fail('unexpected: ' + (e && e.stack || e)); });
