// The same watch page on a slow connection, in Debian's headless chromium with DevTools network
// emulation (CDP Network.emulateNetworkConditions: 1.5 Mbit/s down, 80 ms latency, no cache):
// once through hls.js, whose Auto level picks rungs the connection carries, and once forced to
// the progressive file (hls.js kept from loading, as in a browser without it), whose bitrate is
// several times the connection's. Each run counts the `waiting` events after the first
// `playing` (a stall: the player ran out of data) while 20 s of media play, or for at most
// `LIMIT_S` of wall-clock time.
//
// Started by web/tests/it/e2e.rs with BASE_URL, VID (a public video with its ladder made), SHOTS
// and PLAYWRIGHT_CORE. Prints one JSON line with what it saw; any failed step throws, which
// exits non-zero with the step's name.
'use strict';
const { launch, audit, shots } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const VID = process.env.VID;
const MEDIA_S = 20;
const LIMIT_S = 40;
const CONNECTION = { offline: false, latency: 80, downloadThroughput: 1.5e6 / 8, uploadThroughput: 0.75e6 / 8 };
const result = { violations: {} };
let step = 'start';

// Before any page script: the first `playing` of the player, and every `waiting` after it,
// with wall-clock (ms) and media (s) times. Media events do not bubble; capturing sees them.
function recordStalls() {
  const m = window.__m = { first: null, waits: [] };
  document.addEventListener('playing', (e) => {
    if (e.target.id === 'player' && m.first === null) m.first = { wall: performance.now(), t: e.target.currentTime };
  }, true);
  document.addEventListener('waiting', (e) => {
    if (e.target.id === 'player' && m.first !== null) m.waits.push({ wall: performance.now(), t: e.target.currentTime });
  }, true);
}

// One run of the watch page on the slow connection; `progressive` keeps hls.js from loading.
async function run(browser, progressive) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  const rungs = [];
  page.on('request', (req) => {
    const m = /\/hls\/(\d+)p\.mp4$/.exec(new URL(req.url()).pathname);
    if (m && rungs[rungs.length - 1] !== Number(m[1])) rungs.push(Number(m[1]));
  });
  if (progressive) await page.route('**/static/vendor/hls.min.js*', (route) => route.abort());
  await page.addInitScript(recordStalls);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', CONNECTION);
  await page.goto(BASE + '/watch/' + VID);
  const engine = await page.getAttribute('#player', 'data-engine');
  await page.evaluate(() => { const v = document.getElementById('player'); v.muted = true; v.play().catch(() => {}); });
  await page.waitForFunction(() => window.__m.first !== null, null, { timeout: 60000 });
  // Sampled every 250 ms until 20 s of media have played after the first frame, or the limit.
  await page.waitForFunction(([media, limit]) => {
    const v = document.getElementById('player');
    const m = window.__m;
    return v.currentTime - m.first.t >= media || performance.now() - m.first.wall >= limit * 1000;
  }, [MEDIA_S, LIMIT_S], { polling: 250, timeout: (LIMIT_S + 10) * 1000 });
  const seen = await page.evaluate(() => {
    const v = document.getElementById('player');
    const m = window.__m;
    return {
      played: v.currentTime - m.first.t,
      wall: (performance.now() - m.first.wall) / 1000,
      stalls: m.waits.length,
      waits: m.waits.map((w) => ({ after_s: (w.wall - m.first.wall) / 1000, at: w.t })),
      auto: (document.querySelector('#quality option[value="-1"]') || {}).textContent || null,
    };
  });
  return { page, context, seen: Object.assign({ engine, rungs }, seen) };
}

async function main() {
  const browser = await launch();
  try {
    step = 'HLS through hls.js at 1.5 Mbit/s';
    const hls = await run(browser, false);
    result.hls = hls.seen;
    // Still playing on the slow connection: how the page looks, and that it passes the audit.
    const found = await audit(hls.page);
    if (found.length) result.violations['watch-throttled'] = found;
    await shots(hls.page, process.env.SHOTS, 'watch-throttled');
    await hls.context.close();

    step = 'the progressive file at 1.5 Mbit/s';
    const progressive = await run(browser, true);
    result.progressive = progressive.seen;
    await progressive.context.close();
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('e2e step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
