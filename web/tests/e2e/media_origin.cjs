// The site on one origin and its media origin (the streamserver, MEDIA_URL) on another port,
// in Debian's headless chromium driven by playwright-core (issue 16). A person registers,
// uploads a public and a private video through the studio (tus, straight to the media origin
// with an upload token), then watches each: it plays, seeks (Range requests answered 206 by
// the media origin), and the private page renews its signed URLs before they expire (the test
// runs with 20 s grants) and plays on. Every request to the media origin is recorded with all
// its headers: none may carry a Cookie, while the site's session cookie exists. Screenshots of
// the watch page and the studio (desktop and phone) go to SHOTS.
//
// Started by web/tests/it/media_origin.rs with BASE_URL, MEDIA_URL, VIDEO_FILE, SHOTS and
// PLAYWRIGHT_CORE. Prints one JSON line with what it saw; a failed step throws, which exits
// non-zero with the step's name.
'use strict';
const { launch, playAndSeek, shots } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const MEDIA = process.env.MEDIA_URL;
const VIDEO = process.env.VIDEO_FILE;
const SHOTS = process.env.SHOTS;
const USER = 'media_' + Date.now().toString(36);
const PWD = 'a long enough password';
const result = { user: USER, cookies_to_media: [], tus: { requests: 0, all_bearer: true } };
let step = 'start';

async function main() {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    page.on('dialog', (d) => d.accept());

    // Every request to the media origin, with the headers the browser really sent
    // (`allHeaders` includes cookies, which `headers()` leaves out), and every answer's status.
    const pending = [];
    const answers = [];
    context.on('request', (req) => {
      if (!req.url().startsWith(MEDIA + '/')) return;
      pending.push(req.allHeaders().then((h) => {
        if (h.cookie !== undefined) result.cookies_to_media.push(req.method() + ' ' + req.url() + ' Cookie: ' + h.cookie);
        if (new URL(req.url()).pathname.startsWith('/files') && req.method() !== 'OPTIONS') {
          result.tus.requests += 1;
          if (!/^Bearer \S+$/.test(h.authorization || '')) result.tus.all_bearer = false;
        }
      }).catch(() => {}));
    });
    // What went wrong on the way, for the report when a step fails.
    result.failed = [];
    context.on('requestfailed', (req) => { result.failed.push(req.method() + ' ' + req.url() + ': ' + (req.failure() || {}).errorText); });
    page.on('console', (m) => { if (m.type() === 'error') result.failed.push('console: ' + m.text()); });
    context.on('response', (resp) => {
      if (resp.url().startsWith(MEDIA + '/')) answers.push({ url: resp.url(), status: resp.status() });
    });
    const myVideos = () => page.evaluate((u) => fetch('/api/user/' + u + '/videos', { headers: { Accept: 'application/json' } }).then((r) => r.json()), USER);

    step = 'register';
    await page.goto(BASE + '/login?next=%2Fstudio');
    await page.fill('#register-form input[name=user_name]', USER);
    await page.fill('#register-form input[name=pwd]', PWD);
    await Promise.all([page.waitForURL(BASE + '/studio'), page.click('#register-form button[type=submit]')]);
    const cookies = await context.cookies(BASE);
    result.session_cookie = cookies.some((c) => c.name === 'session');
    result.body_media = await page.evaluate(() => document.body.dataset.media);
    if (result.body_media !== MEDIA) throw new Error('the studio does not know the media origin: ' + result.body_media);

    const ids = {};
    for (const [kind, title] of [['public', 'Public pattern'], ['private', 'Private pattern']]) {
      step = 'upload the ' + kind + ' video';
      await page.goto(BASE + '/studio');
      await page.fill('#upload-name', title);
      await page.check('input[name=visibility][value=' + kind + ']');
      await page.setInputFiles('#upload-file', VIDEO);
      await page.click('#upload-button');
      await page.waitForFunction(() => /^Uploaded/.test(document.getElementById('upload-status').textContent), null, { timeout: 120000 });
      const v = (await myVideos()).videos.find((x) => x.name === title);
      if (!v) throw new Error('no video named ' + title);
      ids[kind] = v.id;
    }

    step = 'processing';
    await page.waitForFunction((u) => fetch('/api/user/' + u + '/videos', { headers: { Accept: 'application/json' } })
      .then((r) => r.json())
      .then((l) => l.videos.length === 2 && l.videos.every((v) => v.state === 'ready' && v.storyboard_url)), USER, { timeout: 120000, polling: 1000 });

    step = 'the studio shows thumbnails from the media origin';
    await page.goto(BASE + '/studio');
    // Counted rather than required here: the test says which check failed.
    await page.waitForFunction(() => [...document.querySelectorAll('li.video img')].filter((i) => i.complete && i.naturalWidth > 0).length >= 2, null, { timeout: 20000 }).catch(() => {});
    result.studio_thumbnails = await page.$$eval('li.video img', (imgs, m) => imgs.filter((i) => i.src.startsWith(m + '/') && i.crossOrigin === 'anonymous' && i.naturalWidth > 0).length, MEDIA);
    await shots(page, SHOTS, 'studio');

    for (const kind of ['public', 'private']) {
      step = 'watch the ' + kind + ' video';
      const vid = ids[kind];
      const before = answers.length;
      const html = await (await page.goto(BASE + '/watch/' + vid)).text();
      // As the server wrote it: hls.js replaces the src with a blob: URL of its own.
      const tag = (/<video id="player"[^>]*>/.exec(html) || [''])[0];
      const player = { src: (/ src="([^"]*)"/.exec(tag) || [])[1], crossorigin: (/ crossorigin="([^"]*)"/.exec(tag) || [])[1] };
      const played = await playAndSeek(page);
      const mine = answers.slice(before).filter((a) => a.url.includes('/videos/' + vid));
      const v = (await myVideos()).videos.find((x) => x.id === vid);
      result[kind] = {
        state: v.state,
        src: player.src,
        crossorigin: player.crossorigin,
        engine: await page.$eval('#player', (e) => e.dataset.engine),
        duration: played.duration,
        after_seek: played.afterSeek,
        partial_from_media: mine.filter((a) => a.status === 206).length,
        refused: mine.filter((a) => a.status === 403).length,
        storyboard: mine.some((a) => /storyboard\.jpg$/.test(a.url) && a.status === 200),
      };

      if (kind === 'private') {
        step = 'the private page renews its grant and plays on';
        const grant = (url) => (/\/s\/([^/]+)\/videos\//.exec(url) || [])[1] || '';
        const first = grant(player.src);
        await page.waitForFunction((g) => {
          const now = document.getElementById('player').dataset.grant;
          return now && now !== g;
        }, first, { timeout: 40000, polling: 500 });
        const after = await page.$eval('#player', (e) => e.dataset.grant);
        // Another quality makes hls.js fetch again (it flushes the buffer): under the new grant.
        const mark = answers.length;
        const lowest = await page.$$eval('#quality option', (os) => os[os.length - 1].value).catch(() => null);
        if (lowest !== null) await page.selectOption('#quality', lowest);
        const from = await page.evaluate(() => {
          const p = document.getElementById('player');
          p.currentTime = 1;
          p.muted = true;
          return p.play().then(() => p.currentTime);
        });
        await page.waitForFunction((t) => document.getElementById('player').currentTime > t + 0.5, from, { timeout: 20000 });
        const to = await page.$eval('#player', (p) => p.currentTime);
        const later = answers.slice(mark).filter((a) => a.url.includes('/s/' + after + '/videos/'));
        result.renewal = {
          before: first, after, played_from: from, played_to: to,
          engine: await page.$eval('#player', (e) => e.dataset.engine),
          served_under_new_grant: later.filter((a) => a.status === 200 || a.status === 206).length,
          refused_after: answers.slice(mark).filter((a) => a.status === 403).length,
        };
        await page.evaluate(() => document.getElementById('player').pause());
        await shots(page, SHOTS, 'watch');
      }
    }
    await Promise.all(pending);
    result.media_answers = answers.length;
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
