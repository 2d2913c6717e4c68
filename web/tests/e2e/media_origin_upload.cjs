// The studio's upload to the media origin (issue 16) when its upload token runs out in the
// middle: the owner uploads a file of several chunks through the studio (tus, straight to the
// media origin with an upload token) on a connection slowed to 1 MiB/s up (DevTools network
// emulation), with tokens that live a few seconds, in Debian's headless chromium driven by
// playwright-core. The page's clock runs at a fifth of real time (Playwright's clock, stepped
// from here), so its own renewal on time (at 3/4 of the token's life) does not come first: the
// token expires at the media origin during the upload, a request is refused (403), and the page
// must ask web for a new token and resume from the server's offset.
//
// Nothing here answers a request in the browser's place: every answer is the media origin's or
// web's own. Every tus request to the media origin is recorded (method, status, the token it
// carried, its offset), and every answer to a request for an upload token. Started by
// web/tests/it/media_origin.rs with BASE_URL, MEDIA_URL, SESSION (the owner's session id),
// VIDEO_FILE and PLAYWRIGHT_CORE. Prints one JSON line with what it saw; a failed step throws,
// which exits non-zero with the step's name.
'use strict';
const { launch } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const MEDIA = process.env.MEDIA_URL;
const { SESSION, VIDEO_FILE } = process.env;
const TITLE = 'Long upload';
const result = { failed: [], tus: [], token_answers: [], clock_ms: 0 };
let step = 'start';

async function main() {
  const browser = await launch();
  let slow = null;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name: 'session', value: SESSION, url: BASE, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    const pending = [];
    context.on('response', (resp) => {
      const req = resp.request();
      const url = resp.url();
      if (url.startsWith(MEDIA + '/files') && req.method() !== 'OPTIONS') {
        const entry = { method: req.method(), status: resp.status(), path: url.slice(MEDIA.length) };
        result.tus.push(entry);
        pending.push(Promise.all([req.allHeaders(), resp.allHeaders()]).then(([h, r]) => {
          entry.token = (/^Bearer (\S+)$/.exec(h.authorization || '') || [])[1] || '';
          entry.offset = h['upload-offset'] === undefined ? null : Number(h['upload-offset']);
          entry.server_offset = r['upload-offset'] === undefined ? null : Number(r['upload-offset']);
        }).catch(() => {}));
      }
      if (/\/api\/videos\/[^/]+\/upload-token$/.test(url)) result.token_answers.push(resp.status());
    });
    context.on('requestfailed', (req) => { result.failed.push(req.method() + ' ' + req.url() + ': ' + (req.failure() || {}).errorText); });
    page.on('console', (m) => { if (m.type() === 'error') result.failed.push('console: ' + m.text()); });

    step = 'slow the page\'s clock';
    const now = Date.now();
    await page.clock.install({ time: now });
    await page.clock.pauseAt(now + 1000);
    // tus-js-client's retries run on the page's timers: 15 ms of its clock every 100 ms.
    let busy = false;
    slow = setInterval(() => {
      if (busy) return;
      busy = true;
      page.clock.runFor(15).then(() => { result.clock_ms += 15; }, () => {}).then(() => { busy = false; });
    }, 100);

    step = 'open the studio';
    await page.goto(BASE + '/studio');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 1024 * 1024,
    });

    step = 'upload through the studio';
    await page.fill('#upload-name', TITLE);
    await page.check('input[name=visibility][value=private]');
    await page.setInputFiles('#upload-file', VIDEO_FILE);
    await page.click('#upload-button');
    await page.waitForFunction(() => /^Uploaded/.test(document.getElementById('upload-status').textContent)
      || document.getElementById('upload-status').classList.contains('error'), null, { timeout: 60000, polling: 200 });
    result.status = await page.$eval('#upload-status', (e) => e.textContent);
    await Promise.all(pending);
  } finally {
    if (slow) clearInterval(slow);
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
