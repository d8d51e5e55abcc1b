// The status page's targets (issue 17), measured against a live node (bench/bench_ui.sh runs it):
//   load:     the browser's load event, median of --loads fresh page loads (cold: a new context each)
//   assets:   bytes of / and /ui/* as served
//   timeline: how long after the node learned each step of a transaction the page showed it
//             (the step's unix_ms in /v1/tx/ID against the moment the DOM changed, same clock)
//   cpu:      the node's CPU time (utime+stime of its pid) over --seconds with the page open,
//             against the same span with no page, as a share of one core
// env: NEPNET_API, NEPNET_TOKEN, NEPNET_PID, NEPNET_CHROMIUM; args: --loads N --seconds S
'use strict';
const path = require('path');
const fs = require('fs');
const { chromium } = require(path.join(__dirname, '..', 'tests', 'ui', 'node_modules', 'playwright-core'));

const api = process.env.NEPNET_API, token = process.env.NEPNET_TOKEN, pid = process.env.NEPNET_PID;
const exe = process.env.NEPNET_CHROMIUM || '/usr/lib/chromium/chromium-headless-shell';
const arg = (name, def) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : def; };
const loads = arg('--loads', 10), seconds = arg('--seconds', 60);
const ticks = 100; // USER_HZ on Linux

function cpuTicks() {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14 and 15)
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

(async () => {
  const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const url = `http://${api}/#token=${token}`;
  // load times, cold
  const times = [];
  let assetBytes = 0;
  for (let i = 0; i < loads; i++) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const sizes = {};
    page.on('response', async (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/' || u.pathname.startsWith('/ui/')) sizes[u.pathname] = (await r.body()).length;
    });
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]');
    times.push(await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd));
    assetBytes = Object.values(sizes).reduce((a, b) => a + b, 0);
    await ctx.close();
  }
  console.log(`load: median ${median(times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms over ${loads} cold loads (target < 300 ms)`);
  console.log(`assets: ${assetBytes} bytes (${(assetBytes / 1024).toFixed(0)} KiB; target < 400 KB)`);

  // the node's CPU without a page, then with one open
  let t0 = cpuTicks();
  await sleep(seconds * 1000);
  const idle = (cpuTicks() - t0) / ticks / seconds;
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]');

  // a transaction: when each step reached the node, when the page showed it
  const tx = Buffer.from(Array.from({ length: 400 }, () => Math.floor(Math.random() * 256))).toString('hex');
  const seen = {};
  await page.exposeFunction('nnSeen', (state, t) => { if (!seen[state]) seen[state] = t; });
  await page.evaluate(() => {
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('.tx[data-state]')) window.nnSeen(el.dataset.id + ' ' + el.dataset.state, Date.now());
    }).observe(document.getElementById('txs'), { subtree: true, childList: true, attributes: true });
  });
  const r = await fetch(`http://${api}/v1/tx`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ tx }) });
  const id = (await r.json()).id;
  for (let i = 0; i < 600 && !seen[id + ' propagated'] && !seen[id + ' embargoed']; i++) await sleep(100);
  const e = await (await fetch(`http://${api}/v1/tx/${id}`, { headers: { Authorization: `Bearer ${token}` } })).json();
  const lags = [];
  for (const s of e.steps) {
    const st = s.what === 'stem' ? 'stem' : s.what === 'seen-back' ? 'propagated' : s.what === 'embargo-fired' ? 'embargoed' : null;
    if (st && seen[id + ' ' + st]) lags.push(`${s.what} ${seen[id + ' ' + st] - s.unix_ms} ms`);
  }
  console.log(`timeline: the page showed each step after the node learned it: ${lags.join(', ')} (target < 1000 ms)`);

  t0 = cpuTicks();
  await sleep(seconds * 1000);
  const open = (cpuTicks() - t0) / ticks / seconds;
  console.log(`cpu: the node used ${(idle * 100).toFixed(2)}% of a core with no page, ${(open * 100).toFixed(2)}% with the page open ` +
              `(+${((open - idle) * 100).toFixed(2)} points; target < 1%), ${seconds} s each, clock ticks of 10 ms`);
  await browser.close();
})().catch((err) => { console.error(err); process.exit(1); });
