// The owner's watch page follows a video through processing without a reload, in Debian's
// headless chromium: "Waiting for upload", then the transcode's percentage moving, the player
// appearing, "Preparing qualities… N of M" while the ladder is made, and hls.js taking over
// once it is. Then the player's fallbacks: hls.js failing for good (the master playlist a 404,
// or garbage) falls back to the progressive file, also in the middle of the video (its media
// files a 404 after a quality pick and a seek: the progressive file goes on from the seek
// target, playing), and a browser whose own HLS is Safari's gets
// the master playlist natively, hls.js never made. Last, a file processing refuses: the page
// shows the reason.
//
// Started by web/tests/it/e2e.rs with BASE_URL, SESSION (the owner's session cookie), VID (a
// pending video of theirs), VIDEO_FILE (a file processing transcodes), BROKEN_VID and
// BROKEN_FILE (another pending video, and a file that is no video), SHOTS and PLAYWRIGHT_CORE. Prints one JSON line with what it saw; any failed step throws, which exits
// non-zero with the step's name.
'use strict';
const fs = require('fs');
const { launch, audit, shots } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const VID = process.env.VID;
const WATCH = BASE + '/watch/' + VID;
const result = { violations: {}, fallback: {} };
let step = 'start';

// Installed before any page script runs: every `data-engine` and `src` the player is given,
// in order, on `window.__player`. Observer callbacks come batched, after later changes, so each
// value is read as the next record's old value (the last one is the attribute as it is now).
function recordPlayer() {
  const changes = [];
  new MutationObserver((records) => {
    for (const r of records) if (r.target.id === 'player') changes.push({ name: r.attributeName, old: r.oldValue, el: r.target });
  }).observe(document, { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-engine', 'src'] });
  const values = (name) => {
    const mine = changes.filter((c) => c.name === name);
    return mine.map((c, i) => (i + 1 < mine.length ? mine[i + 1].old : c.el.getAttribute(name)));
  };
  window.__player = {
    get engines() { return values('data-engine'); },
    get srcs() { return values('src'); },
  };
}

async function check(page, name) {
  const found = await audit(page);
  if (found.length) result.violations[name] = found;
  await shots(page, process.env.SHOTS, name);
}

// Plays the page's player muted until it has played past `t` seconds; returns where it was.
async function playPast(page, t) {
  await page.evaluate(() => { const v = document.getElementById('player'); v.muted = true; return v.play(); });
  await page.waitForFunction((at) => document.getElementById('player').currentTime > at, t, { timeout: 30000 });
  return page.evaluate(() => { const v = document.getElementById('player'); v.pause(); return v.currentTime; });
}

async function main() {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name: 'session', value: process.env.SESSION, url: BASE }]);
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    let navigations = 0;
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations += 1; });

    step = 'the watch page waits for the upload';
    await page.goto(WATCH);
    result.pending_label = (await page.textContent('#processing-label')).trim();
    // A variable of this document, and every label, percentage and note the page shows.
    await page.evaluate(() => {
      window.__kept = 'same document';
      const seen = window.__seen = { labels: [], values: [], notes: [] };
      const push = (list, x) => { if (x !== null && list[list.length - 1] !== x) list.push(x); };
      const record = () => {
        const l = document.getElementById('processing-label');
        const b = document.getElementById('processing-bar');
        const n = document.getElementById('qualities-note');
        push(seen.labels, l ? l.textContent : null);
        push(seen.values, b && !b.hidden && b.hasAttribute('value') ? Number(b.value) : null);
        push(seen.notes, n && !n.hidden ? n.textContent : null);
      };
      new MutationObserver(record).observe(document.getElementById('stage'),
        { subtree: true, childList: true, characterData: true, attributes: true });
      record();
    });

    step = 'upload';
    const put = await page.request.put(BASE + '/upload/' + VID, {
      data: fs.readFileSync(process.env.VIDEO_FILE),
      headers: { 'Content-Type': 'video/x-msvideo', Origin: BASE },
    });
    result.upload_status = put.status();
    if (put.status() !== 201) throw new Error('upload: ' + put.status() + ' ' + (await put.text()));

    step = 'a percentage while it is transcoded';
    await page.waitForFunction(() => document.getElementById('player')
      || /^Processing… [1-9]\d?%$/.test(document.getElementById('processing-label').textContent),
    null, { timeout: 120000 });
    if (await page.$('#player')) throw new Error('the player came before any percentage: ' + JSON.stringify(await page.evaluate(() => window.__seen)));
    await check(page, 'watch-processing');
    // The studio, opened now, shows the same percentage on the card and follows it to ready.
    const studio = await context.newPage();
    await studio.goto(BASE + '/studio');
    await studio.evaluate((vid) => {
      const labels = window.__labels = [];
      const record = () => {
        const s = document.querySelector('li[data-video-id="' + vid + '"] .state');
        const t = s ? s.textContent.trim() : null;
        if (t !== null && labels[labels.length - 1] !== t) labels.push(t);
      };
      new MutationObserver(record).observe(document.getElementById('videos'), { subtree: true, childList: true, characterData: true });
      record();
    }, VID);
    await check(studio, 'studio-processing');

    step = 'the player appears without a reload';
    await page.waitForSelector('#player', { timeout: 120000 });
    result.player = await page.evaluate(() => ({
      src: document.getElementById('player').getAttribute('src'),
      engine: document.getElementById('player').dataset.engine,
      kept: window.__kept,
    }));
    result.player.navigations = navigations;

    step = 'the studio card went to ready by itself';
    await studio.waitForFunction(() => window.__labels[window.__labels.length - 1] === 'Ready to watch', null, { timeout: 30000 });
    result.studio_labels = await studio.evaluate(() => window.__labels);
    await studio.close();

    step = 'preparing qualities';
    await page.waitForFunction(() => window.__seen.notes.length > 0 || document.getElementById('quality'), null, { timeout: 120000 });
    if (await page.$('#qualities-note:not([hidden])')) await check(page, 'watch-preparing');

    step = 'the qualities arrive without a reload';
    await page.waitForSelector('#quality option:nth-child(6)', { state: 'attached', timeout: 180000 });
    result.upgraded = await page.evaluate(() => ({
      engine: document.getElementById('player').dataset.engine,
      options: Array.from(document.querySelectorAll('#quality option'), (o) => o.textContent),
      note_hidden: document.getElementById('qualities-note').hidden,
      kept: window.__kept,
    }));
    result.upgraded.navigations = navigations;
    result.upgraded.played = await playPast(page, 1.5);
    result.seen = await page.evaluate(() => window.__seen);

    step = 'hls.js failing for good falls back to the progressive file';
    for (const kind of ['404', 'garbage']) {
      const p = await context.newPage();
      let hits = 0;
      await p.addInitScript(recordPlayer);
      await p.route('**/hls/master.m3u8', (route) => {
        hits += 1;
        return kind === '404'
          ? route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"not found"}' })
          : route.fulfill({ status: 200, contentType: 'application/vnd.apple.mpegurl', body: 'this is not a playlist\n' });
      });
      await p.goto(WATCH);
      await p.waitForFunction(() => {
        const e = window.__player.engines;
        return e.includes('hls.js') && e[e.length - 1] === 'progressive';
      }, null, { timeout: 20000 });
      const played = await playPast(p, 1);
      result.fallback[kind] = await p.evaluate(() => ({
        engines: window.__player.engines,
        src: document.getElementById('player').getAttribute('src'),
        menu: Boolean(document.getElementById('quality-menu')),
      }));
      Object.assign(result.fallback[kind], { hits, played });
      await p.close();
    }

    step = 'hls.js failing in the middle falls back to the progressive file at the same moment';
    {
      const p = await context.newPage();
      await p.addInitScript(recordPlayer);
      // The ladder's media files start failing (404) once the video has played a second, as
      // when a ladder is removed under a viewer.
      let failing = false;
      let refused = 0;
      await p.route(/\/hls\/[^/]+\.mp4$/, (route) => {
        if (!failing) return route.continue();
        refused += 1;
        return route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"not found"}' });
      });
      await p.goto(WATCH);
      await p.waitForSelector('#quality option:nth-child(3)', { state: 'attached' });
      await playPast(p, 1);
      failing = true;
      // A quality picked drops what hls.js buffered, so the seek after it needs media files.
      const lowest = await p.$$eval('#quality option', (os) => os[os.length - 1].value);
      await p.selectOption('#quality', lowest);
      const target = await p.evaluate(() => {
        const v = document.getElementById('player');
        const to = v.duration * 0.6;
        v.currentTime = to;
        v.play().catch(() => {});
        return to;
      });
      await p.waitForFunction(() => window.__player.engines[window.__player.engines.length - 1] === 'progressive', null, { timeout: 30000 });
      let t = 0;
      try {
        await p.waitForFunction((at) => {
          const v = document.getElementById('player');
          return !v.paused && !v.seeking && v.currentTime > at + 0.5;
        }, target, { timeout: 15000, polling: 100 });
      } finally {
        t = await p.evaluate(() => document.getElementById('player').currentTime);
      }
      result.fallback.midway = await p.evaluate(() => ({
        engines: window.__player.engines,
        src: document.getElementById('player').getAttribute('src'),
        paused: document.getElementById('player').paused,
      }));
      Object.assign(result.fallback.midway, { target, t, refused });
      await p.close();
    }

    step = 'native HLS where the browser has it';
    {
      const p = await context.newPage();
      await p.addInitScript(recordPlayer);
      await p.addInitScript(() => {
        // Safari's signature: it says it plays HLS and has ManagedMediaSource.
        const canPlay = HTMLMediaElement.prototype.canPlayType;
        HTMLMediaElement.prototype.canPlayType = function (type) {
          return /mpegurl/i.test(type) ? 'maybe' : canPlay.call(this, type);
        };
        if (!('ManagedMediaSource' in window)) window.ManagedMediaSource = window.MediaSource;
        // Counts every `new Hls(...)`, the library itself left as it is.
        window.__hlsMade = 0;
        let hls;
        Object.defineProperty(window, 'Hls', {
          configurable: true,
          get: () => hls,
          set: (real) => {
            hls = new Proxy(real, {
              construct(target, args, newTarget) { window.__hlsMade += 1; return Reflect.construct(target, args, newTarget); },
            });
          },
        });
      });
      await p.goto(WATCH);
      await p.waitForFunction(() => window.__player.engines.length > 0);
      result.native = await p.evaluate(() => ({
        srcs: window.__player.srcs,
        engines: window.__player.engines,
        hls_made: window.__hlsMade,
        hls_type: typeof window.Hls,
      }));
      await p.close();
    }
    step = 'a failure shows its reason';
    {
      const p = await context.newPage();
      await p.goto(BASE + '/watch/' + process.env.BROKEN_VID);
      const put = await p.request.put(BASE + '/upload/' + process.env.BROKEN_VID, {
        data: fs.readFileSync(process.env.BROKEN_FILE),
        headers: { 'Content-Type': 'video/mp4', Origin: BASE },
      });
      if (put.status() !== 201) throw new Error('upload: ' + put.status() + ' ' + (await put.text()));
      await p.waitForFunction(() => document.getElementById('processing-label').textContent.startsWith('Processing failed'), null, { timeout: 60000 });
      result.failed = await p.evaluate(() => ({
        label: document.getElementById('processing-label').textContent,
        bar: Boolean(document.getElementById('processing-bar')),
        hint: Boolean(document.getElementById('processing-hint')),
        player: Boolean(document.getElementById('player')),
        // What needs a watchable video left with the switch, as on a failed video's page
        // rendered anew; the owner's Edit and Delete stayed.
        kept: ['favorite', 'visibility', 'copy-link', 'comments', 'comment-form', 'danmaku-bar',
          'edit-link', 'delete-video'].filter((id) => document.getElementById(id)),
      }));
      const found = await audit(p);
      if (found.length) result.violations['watch-failed'] = found;
      await shots(p, process.env.SHOTS, 'watch-failed');
      await p.close();
    }
    if (Object.keys(result.violations).length) throw new Error('accessibility violations: ' + JSON.stringify(result.violations, null, 1));
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('e2e step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
