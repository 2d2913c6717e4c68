// The owner's watch page of a private video from the media origin, with grants that live a few
// seconds (issue 16), in Debian's headless chromium driven by playwright-core. The video plays
// as its progressive file (no HLS ladder yet) in the first two scenarios (SCENARIO), through
// hls.js (its ladder made) in the last two:
//
// - `renew`: the page renews its grant at 3/4 of its life, once while the video plays and once
//   while it is paused. Each time the <video> is given the new signed URL and must go on from
//   the same moment, playing or paused as it was.
// - `refused`: the page's timers are held (Playwright's clock, installed paused), so its grant
//   really expires at the media origin before the page renews it. Then a seek and play: the
//   media origin refuses the range request (403), the page renews once and plays from there.
// - `hls-refused`: the same with hls.js, whose own timers must run: the page's clock runs
//   slowed instead of held. Once the grant expired, a quality pick and a seek make hls.js ask
//   for bytes it does not have: refused (403), the page renews once, and hls.js plays on from
//   the seek target under the new grant.
// - `hls-fatal`: the same, with the page's read of the video object held back 4 s (a slow
//   network), so hls.js is refused on every rung and gives up (a fatal error) before the new
//   grant comes: the page starts hls.js again under it, from the seek target.
//
// Nothing here answers a request in the browser's place: every answer is the media origin's or
// web's own. Every media event of the player is logged in the page (with the playback position
// just before a source was emptied), and so is every error hls.js reports (whether it gave up),
// every answer of the media origin and every read of the video object. Started by web/tests/it/media_origin.rs with BASE_URL, MEDIA_URL,
// VID, SESSION (the owner's session id), SCENARIO and PLAYWRIGHT_CORE. Prints one JSON line with
// what it saw; a failed step throws, which exits non-zero with the step's name.
'use strict';
const { launch } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const MEDIA = process.env.MEDIA_URL;
const { VID, SESSION, SCENARIO } = process.env;
const result = { scenario: SCENARIO, failed: [] };
// The scenarios under hls.js.
const HLS = SCENARIO === 'hls-refused' || SCENARIO === 'hls-fatal';
let step = 'start';

// The grant of a signed URL of the video's files ('' for a plain one).
const grantOf = (url) => (/\/s\/([^/]+)\/videos\//.exec(url || '') || [])[1] || '';

// Resolves once `check()` is true, polling from node (whose timers Playwright's clock leaves
// alone) every 200 ms; throws after `ms`.
async function until(what, ms, check) {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error('still not so after ' + ms + ' ms: ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  const browser = await launch();
  const answers = [];
  const reads = [];
  let log = () => Promise.resolve(null);
  let hlsErrors = log;
  let player = log;
  let slow = null;
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name: 'session', value: SESSION, url: BASE, httpOnly: true, sameSite: 'Lax' }]);
    // The player's media events, in order, with where playback stood: `before` is the last
    // position reported while not seeking, so on `emptied` it is where the old source stopped.
    await context.addInitScript(() => {
      const media = { log: [], tick: 0 };
      window.__media = media;
      const grant = (v) => (/\/s\/([^/]+)\/videos\//.exec(v.currentSrc || v.src || '') || [])[1] || '';
      for (const type of ['emptied', 'loadedmetadata', 'seeked', 'playing', 'pause', 'error']) {
        document.addEventListener(type, (e) => {
          const v = e.target;
          if (v.id !== 'player') return;
          media.log.push({ type, t: v.currentTime, before: media.tick, paused: v.paused, grant: grant(v), error: v.error ? v.error.code : null });
        }, true);
      }
      // hls.js' errors as its handlers left them (`fatal` is decided by its own error handler,
      // which runs before the page's), read by wrapping `Hls.prototype.trigger` as the vendored
      // script defines `window.Hls`.
      media.hls = [];
      let hlsClass;
      Object.defineProperty(window, 'Hls', {
        configurable: true,
        get: () => hlsClass,
        set: (cls) => {
          hlsClass = cls;
          const trigger = cls && cls.prototype && cls.prototype.trigger;
          if (!trigger) return;
          cls.prototype.trigger = function (event, data) {
            const out = trigger.call(this, event, data);
            if (event === 'hlsError') {
              media.hls.push({ details: data.details, fatal: Boolean(data.fatal), status: data.response ? data.response.code : 0 });
            }
            return out;
          };
        },
      });
      document.addEventListener('timeupdate', (e) => {
        if (e.target.id === 'player' && !e.target.seeking) media.tick = e.target.currentTime;
      }, true);
    });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    context.on('response', (resp) => {
      const url = resp.url();
      if (url.startsWith(MEDIA + '/')) answers.push({ url, status: resp.status(), grant: grantOf(url), range: resp.request().headers().range || '' });
      if (url === BASE + '/api/videos/' + VID) reads.push(resp.status());
    });
    context.on('requestfailed', (req) => { result.failed.push(req.method() + ' ' + req.url() + ': ' + (req.failure() || {}).errorText); });
    page.on('console', (m) => { if (m.type() === 'error') result.failed.push('console: ' + m.text()); });
    player = () => page.$eval('#player', (v) => ({
      grant: v.dataset.grant || '', src: v.getAttribute('src'), engine: v.dataset.engine, hls: v.dataset.hls || null,
      t: v.currentTime, paused: v.paused, seeking: v.seeking, ready: v.readyState, error: v.error ? v.error.code : null,
      buffered: Array.from({ length: v.buffered.length }, (_, i) => [v.buffered.start(i), v.buffered.end(i)]),
    }));
    log = () => page.evaluate(() => window.__media.log);
    hlsErrors = () => page.evaluate(() => window.__media.hls);

    if (SCENARIO !== 'renew') {
      step = 'hold the page\'s timers';
      const now = Date.now();
      await page.clock.install({ time: now });
      await page.clock.pauseAt(now + 1000);
    }
    if (HLS) {
      // hls.js moves on its own timers, so here the page's clock is not stopped but slowed to
      // a fifth of real time: 20 ms every 100 ms. The grant (8 s) expires at the media origin
      // while the page's clock has moved a second or two, long before its renewal is due (6 s).
      let busy = false;
      result.clock_ms = 0;
      slow = setInterval(() => {
        if (busy) return;
        busy = true;
        page.clock.runFor(20).then(() => { result.clock_ms += 20; }, () => {}).then(() => { busy = false; });
      }, 100);
    }

    step = 'open the watch page';
    const html = await (await page.goto(BASE + '/watch/' + VID)).text();
    const tag = (/<video id="player"[^>]*>/.exec(html) || [''])[0];
    const first = grantOf((/ src="([^"]*)"/.exec(tag) || [])[1]);
    result.page = { first, expires: (/ data-expires="(\d+)"/.exec(tag) || [])[1], now: (/ data-now="(\d+)"/.exec(tag) || [])[1] };
    await page.waitForFunction(() => document.getElementById('player').readyState >= 1, null, { polling: 100 });
    Object.assign(result.page, await player());

    if (SCENARIO === 'renew') {
      step = 'play';
      await page.evaluate(() => { const v = document.getElementById('player'); v.muted = true; return v.play(); });
      await page.waitForFunction(() => document.getElementById('player').currentTime > 1, null, { polling: 100 });

      step = 'the grant renewed while playing';
      await page.waitForFunction((g) => (document.getElementById('player').dataset.grant || g) !== g, first, { timeout: 20000, polling: 100 });
      // Playing again from where it was, and for a second more.
      await page.waitForFunction(() => {
        const v = document.getElementById('player');
        const l = window.__media.log;
        const i = l.findIndex((e) => e.type === 'emptied');
        return i >= 0 && l.slice(i).some((e) => e.type === 'playing') && !v.paused && v.currentTime > l[i].before + 1;
      }, null, { timeout: 20000, polling: 100 });
      let events = await log();
      let swap = events.findIndex((e) => e.type === 'emptied');
      result.playing = {
        swapped_at: events[swap].before,
        resumed_at: events.slice(swap).find((e) => e.type === 'playing').t,
        ...(await player()),
      };

      step = 'the grant renewed while paused';
      const held = await page.evaluate(() => { const v = document.getElementById('player'); v.pause(); return v.currentTime; });
      const second = result.playing.grant;
      await page.waitForFunction((g) => (document.getElementById('player').dataset.grant || g) !== g, second, { timeout: 20000, polling: 100 });
      // The new source's metadata read and any seek back to where it was finished.
      await page.waitForFunction(() => {
        const v = document.getElementById('player');
        const l = window.__media.log;
        const i = l.map((e) => e.type).lastIndexOf('emptied');
        return l.slice(i).some((e) => e.type === 'loadedmetadata') && !v.seeking && v.readyState >= 1;
      }, null, { timeout: 20000, polling: 100 });
      events = await log();
      swap = events.map((e) => e.type).lastIndexOf('emptied');
      result.paused = { held, swapped_at: events[swap].before, ...(await player()) };

      step = 'play on under the newest grant';
      await page.evaluate(() => document.getElementById('player').play());
      await page.waitForFunction((t) => document.getElementById('player').currentTime > t + 1, result.paused.t, { timeout: 20000, polling: 100 });
      result.end = await player();
    } else {
      step = 'the grant expires at the media origin';
      const signed = MEDIA + '/s/' + first + '/videos/' + VID;
      let status = 0;
      await until('the media origin refuses ' + signed, 30000, async () => {
        status = (await fetch(signed, { headers: { Range: 'bytes=0-0' } })).status;
        return status === 403;
      });
      result.expired = { status, reads: reads.slice(), ...(await player()) };
      const readsBefore = reads.length;
      if (SCENARIO === 'hls-fatal') {
        // A slow network: the page's read of the video object takes 4 s (web's own answer,
        // held back), so hls.js runs out of rungs to retry on and gives up before the new grant
        // comes.
        await page.route(BASE + '/api/videos/' + VID, async (route) => {
          await new Promise((r) => setTimeout(r, 4000));
          await route.continue();
        });
      }

      if (HLS) {
        // hls.js has buffered the whole video by now (at these bitrates it buffers up to its
        // 600 s cap ahead) and keeps it: only a quality picked from the menu drops it (hls.js
        // flushes its buffer on a manual pick, even of the rung it plays), so the seek needs
        // new bytes.
        step = 'pick a quality after the grant expired';
        const options = await page.$$eval('#quality option', (os) => os.map((o) => [o.value, o.textContent]));
        const lowest = options[options.length - 1][0];
        await page.selectOption('#quality', lowest);
        result.quality = { options, picked: lowest };
      }

      step = 'seek and play after the grant expired';
      const target = await page.evaluate(() => {
        const v = document.getElementById('player');
        const to = v.duration * 0.75;
        v.muted = true;
        v.currentTime = to;
        v.play().catch(() => {});
        return to;
      });
      await page.waitForFunction((t) => {
        const v = document.getElementById('player');
        return !v.seeking && !v.paused && v.currentTime > t + 1;
      }, target, { timeout: 30000, polling: 100 });
      result.after = { target, reads: reads.slice(readsBefore), ...(await player()) };
      if (result.quality) {
        // The quality picked before the refusal is the one playing after it.
        step = 'the picked quality plays after the renewal';
        const height = Number(result.quality.options.find((o) => o[0] === result.quality.picked)[1].replace('p', ''));
        await until('the picked ' + height + 'p to play again', 20000,
          () => page.evaluate((h) => document.getElementById('player').videoHeight === h, height));
        result.quality.height = await page.evaluate(() => document.getElementById('player').videoHeight);
      }
    }
  } finally {
    if (slow) clearInterval(slow);
    // What the page and the media origin did, also (and above all) when a step failed.
    result.log = await log().catch(() => null);
    result.hls_errors = await hlsErrors().catch(() => null);
    result.player = await player().catch(() => null);
    result.answers = answers.map((a) => a.status + ' ' + a.url.slice(MEDIA.length) + (a.range ? ' ' + a.range : ''));
    result.refused = answers.filter((a) => a.status === 403).map((a) => a.grant);
    result.reads = reads;
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
