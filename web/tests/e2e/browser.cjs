// End-to-end run of the site in Debian's headless chromium, driven by playwright-core, as a
// person who registers and uploads: the studio, the resumable upload, watching, seeking,
// commenting and deleting. Started by web/tests/it/e2e.rs with BASE_URL, VIDEO_FILE, SHOTS
// (screenshot directory) and PLAYWRIGHT_CORE (path of the playwright-core package). Prints one
// JSON line with what it saw; any failed step throws, which exits non-zero with the step's name.
'use strict';
const path = require('path');
const fs = require('fs');
const { launch, playAndSeek, audit, shots } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const VIDEO = process.env.VIDEO_FILE;
const SHOTS = process.env.SHOTS;
const USER = 'e2e_' + Date.now().toString(36);
const PWD = 'a long enough password';
const result = { user: USER, progress: [], violations: {}, dialogs: [] };
let step = 'start';

async function main() {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    // Dialogs are accepted (confirm, leave the page) unless a step says to stay.
    let stay = false;
    page.on('dialog', (d) => { result.dialogs.push(d.type()); if (stay && d.type() === 'beforeunload') d.dismiss(); else d.accept(); });
    const shot = (name) => page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
    const check = async (name) => {
      const found = await audit(page);
      if (found.length) result.violations[name] = found;
      await shots(page, SHOTS, name);
    };
    const myVideos = () => page.evaluate((u) => fetch('/api/user/' + u + '/videos', { headers: { Accept: 'application/json' } }).then((r) => r.json()), USER);
    let tusRequests = 0;
    page.on('request', (req) => { if (new URL(req.url()).pathname.startsWith('/files')) tusRequests += 1; });

    step = 'register';
    await page.goto(BASE + '/studio');
    if (page.url() !== BASE + '/login?next=%2Fstudio') throw new Error('signed-out studio did not go to sign in: ' + page.url());
    await check('login');
    await page.fill('#register-form input[name=user_name]', USER);
    await page.fill('#register-form input[name=pwd]', PWD);
    await Promise.all([page.waitForURL(BASE + '/studio'), page.click('#register-form button[type=submit]')]);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'session');
    if (!session || !session.httpOnly || session.sameSite !== 'Lax') throw new Error('session cookie flags: ' + JSON.stringify(session));
    if ((await page.evaluate(() => document.cookie)).includes('session')) throw new Error('JavaScript can read the session cookie');

    if (cookies.some((c) => c.name === 'user')) throw new Error('a user cookie was set');

    step = 'sign out';
    await Promise.all([page.waitForURL(BASE + '/'), page.click('#sign-out')]);
    await Promise.all([page.waitForURL(/\/login/), page.click('#sign-in-link')]);

    step = 'sign in with a wrong password';
    await page.fill('#login-form input[name=user_name]', USER);
    await page.fill('#login-form input[name=pwd]', 'not the password');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error');
    result.wrong_password_message = await page.textContent('#login-error');
    result.wrong_password_invalid = await page.getAttribute('#login-pwd', 'aria-invalid');
    await check('login-error');

    step = 'sign in';
    await page.fill('#login-form input[name=pwd]', PWD);
    await Promise.all([page.waitForURL(BASE + '/studio'), page.click('#login-form button[type=submit]')]);
    await check('studio-empty');

    step = 'a refused file is never sent';
    const notVideo = path.join(path.dirname(VIDEO), 'notes.mp4');
    fs.writeFileSync(notVideo, 'These are my notes, not a video.\n'.repeat(20000));
    await page.fill('#upload-name', 'Not a video');
    await page.setInputFiles('#upload-file', notVideo);
    await page.waitForSelector('#upload-file-error:not([hidden])');
    await page.click('#upload-button');
    result.refused_message = (await page.textContent('#upload-file-error')).trim();
    result.refused_invalid = await page.getAttribute('#upload-file', 'aria-invalid');
    result.refused_tus_requests = tusRequests;
    result.refused_videos = (await myVideos()).videos.length;
    await check('studio-refused');

    // Throttle uploads so steps land mid-way (Chrome DevTools network emulation).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const throttle = (on) => cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: on ? 10 : 0, downloadThroughput: -1, uploadThroughput: on ? 1024 * 1024 : -1,
    });
    await throttle(true);

    step = 'leaving mid-upload warns, Cancel removes the video';
    await page.fill('#upload-name', 'Cancelled one');
    await page.setInputFiles('#upload-file', VIDEO);
    await page.click('#upload-button');
    await page.waitForFunction(() => Number(document.getElementById('upload-bar').value) >= 5, null, { timeout: 60000 });
    result.progress_detail = await page.textContent('#upload-detail');
    await check('studio-uploading');
    stay = true;
    const dialogsBefore = result.dialogs.length;
    await page.goto(BASE + '/').catch(() => {});
    stay = false;
    result.leave_dialog = result.dialogs.slice(dialogsBefore);
    if (page.url() !== BASE + '/studio') throw new Error('left the studio mid-upload: ' + page.url());
    result.pending_while_uploading_link = await page.$$eval('li.video[data-state=pending] a.title', (els) => els.length);
    await page.click('#upload-cancel');
    await page.waitForFunction(() => /cancelled/.test(document.getElementById('upload-status').textContent));
    result.after_cancel_videos = (await myVideos()).videos.length;

    step = 'a stuck card can be retried and deleted';
    await page.fill('#upload-name', 'Stuck one');
    await page.setInputFiles('#upload-file', VIDEO);
    await page.click('#upload-button');
    await page.waitForFunction(() => Number(document.getElementById('upload-bar').value) >= 5, null, { timeout: 60000 });
    await page.reload();
    await page.waitForSelector('li.video[data-state=pending] button.retry');
    result.stuck_note = (await page.textContent('li.video[data-state=pending] .pending-note')).trim();
    await check('studio-stuck');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('li.video[data-state=pending] button.retry')]);
    await chooser.setFiles(VIDEO);
    await page.waitForFunction(() => Number(document.getElementById('upload-bar').value) >= 5, null, { timeout: 60000 });
    result.retry_status = await page.textContent('#upload-status');
    result.retry_videos = (await myVideos()).videos.length;
    await page.reload();
    await page.waitForSelector('li.video[data-state=pending] button.delete-pending');
    await page.click('li.video[data-state=pending] button.delete-pending');
    await page.waitForFunction(() => !document.querySelector('li.video'));
    result.after_delete_videos = (await myVideos()).videos.length;

    step = 'upload, interrupted by a reload';
    await page.fill('#upload-name', 'Test pattern');
    await page.fill('#upload-description', 'Colour bars\nand a tone');
    await page.check('input[name=visibility][value=unlisted]');
    await page.setInputFiles('#upload-file', VIDEO);
    await page.click('#upload-button');
    await page.waitForFunction(() => Number(document.getElementById('upload-bar').value) >= 40, null, { timeout: 60000 });
    result.progress_before_reload = await page.evaluate(() => Number(document.getElementById('upload-bar').value));
    await shot('upload');
    await page.reload();
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
    });

    step = 'resume after the reload';
    // A new title typed before resuming is the one the video keeps.
    await page.fill('#upload-name', 'Test pattern, resumed');
    await page.setInputFiles('#upload-file', VIDEO);
    await page.click('#upload-button');
    const started = Date.now();
    let last = -1;
    result.statuses = [];
    while (true) {
      const v = await page.evaluate(() => Number(document.getElementById('upload-bar').value));
      if (v !== last) { result.progress.push(v); last = v; }
      const said = await page.textContent('#upload-status');
      if (!result.statuses.includes(said)) result.statuses.push(said);
      if (v >= 100) break;
      const err = await page.evaluate(() => {
        const s = document.getElementById('upload-status');
        return s.classList.contains('error') ? s.textContent : '';
      });
      if (err) throw new Error(err);
      if (Date.now() - started > 60000) throw new Error('progress stuck at ' + v);
      await page.waitForTimeout(20);
    }
    if (!result.statuses.some((t) => t.includes('Resuming'))) throw new Error('the upload did not resume: ' + JSON.stringify(result.statuses));
    await page.waitForSelector('li.video');
    result.cards = await page.$$eval('li.video', (els) => els.length);
    if (result.cards !== 1) throw new Error('expected one video after the resumed upload, found ' + result.cards);

    step = 'wait for processing (no reload)';
    const card = 'li.video[data-state=ready]';
    await page.waitForSelector(card + ' .thumb img', { timeout: 90000 });
    result.video_id = await page.getAttribute(card, 'data-video-id');
    result.duration_text = (await page.textContent(card + ' .duration')).trim();
    const thumbOk = await page.evaluate((sel) => {
      const img = document.querySelector(sel);
      return img.complete && img.naturalWidth > 0;
    }, card + ' .thumb img');
    if (!thumbOk) await page.waitForFunction((sel) => document.querySelector(sel).naturalWidth > 0, card + ' .thumb img');
    result.visibility = await page.getAttribute(card, 'data-visibility');
    result.card_title = (await page.textContent(card + ' .title')).trim();
    result.ready_link = await page.getAttribute(card + ' .state a', 'href');
    await check('studio');

    step = 'watch page';
    await Promise.all([page.waitForURL(/\/watch\//), page.click(card + ' a.title')]);
    await page.waitForSelector('video#player');
    // The same plain link for every viewer: no author in the URL.
    const watchUrl = BASE + '/watch/' + result.video_id;
    if (page.url() !== watchUrl) throw new Error('the watch link is ' + page.url());
    // The progressive file, or hls.js's media source if the ladder was already made.
    const src = await page.getAttribute('video#player', 'src');
    if (src !== '/videos/' + result.video_id && !src.startsWith('blob:')) throw new Error('video src is ' + src);
    result.badge = (await page.textContent('#visibility')).trim();

    step = 'play and seek to the middle';
    const played = await playAndSeek(page);
    result.duration_s = played.duration;
    result.after_seek = played.afterSeek;
    result.buffered_before_seek = played.bufferedBefore;
    await check('watch');

    step = 'post a comment while playing';
    await page.evaluate(() => { const v = document.getElementById('player'); v.currentTime = 0; return v.play(); });
    await page.waitForFunction(() => document.getElementById('player').currentTime > 0.5);
    const text = 'Nice test pattern at 0:02! <b>not bold</b>';
    await page.fill('#comment-content', text);
    const before = await page.evaluate(() => document.getElementById('player').currentTime);
    await page.click('#comment-post');
    await page.waitForSelector('li.comment');
    result.comment_url = page.url();
    const shown = (await page.textContent('li.comment .content')).trim();
    if (shown !== text) throw new Error('comment shows as ' + shown);
    await page.waitForFunction((t) => document.getElementById('player').currentTime > t + 0.3, before);
    result.playing_after_comment = await page.evaluate((t) => {
      const v = document.getElementById('player');
      return { before: t, after: v.currentTime, paused: v.paused };
    }, before);
    result.delete_label = await page.getAttribute('li.comment button.danger', 'aria-label');
    result.comment_time = await page.getAttribute('li.comment time', 'datetime');
    await check('watch-comment');

    step = 'a time in a comment seeks';
    await page.evaluate(() => document.getElementById('player').pause());
    await page.click('li.comment a.seek');
    await page.waitForFunction(() => { const v = document.getElementById('player'); return !v.seeking && v.currentTime >= 2 && v.currentTime < 3.5; });
    result.seek_to = await page.evaluate(() => document.getElementById('player').currentTime);
    await page.evaluate(() => document.getElementById('player').pause());

    step = 'delete the comment';
    const confirmsBefore = result.dialogs.filter((d) => d === 'confirm').length;
    await page.click('li.comment button.danger');
    await page.waitForFunction(() => !document.querySelector('li.comment'));
    result.comment_delete_asked = result.dialogs.filter((d) => d === 'confirm').length > confirmsBefore;
    if (page.url() !== result.comment_url) throw new Error('deleting a comment navigated to ' + page.url());

    step = 'wait for the HLS ladder';
    // The scheduler makes the ladder and storyboard after the video is ready; poll the api.
    await page.waitForFunction(
      (vid) => fetch('/api/videos/' + vid, { headers: { Accept: 'application/json' } })
        .then((r) => r.json()).then((v) => Boolean(v.hls_url && v.storyboard_url)),
      result.video_id, { polling: 500, timeout: 60000 },
    );
    const segments = [];
    const rungOf = (req) => {
      const m = /\/videos\/[^/]+\/hls\/(\d+)p\.mp4$/.exec(new URL(req.url()).pathname);
      return m ? Number(m[1]) : null;
    };
    page.on('request', (req) => {
      const h = rungOf(req);
      if (h !== null) segments.push({ h, range: req.headers()['range'] || '' });
    });
    await page.reload();

    step = 'HLS through hls.js';
    await page.waitForSelector('#quality option:nth-child(3)', { state: 'attached' });
    result.hls = {
      engine: await page.getAttribute('video#player', 'data-engine'),
      src: await page.evaluate(() => document.getElementById('player').src),
      options: await page.$$eval('#quality option', (os) => os.map((o) => o.textContent)),
      label: await page.evaluate(() => document.querySelector('label[for=quality]').textContent),
    };
    const hlsPlayed = await playAndSeek(page);
    result.hls.duration = hlsPlayed.duration;
    result.hls.after_seek = hlsPlayed.afterSeek;

    step = 'the quality menu switches rendition';
    const lastRung = segments.length ? segments[segments.length - 1].h : null;
    const rungs = result.hls.options.slice(1).map((t) => parseInt(t, 10));
    const chosen = rungs.find((h) => h !== lastRung);
    await page.evaluate(() => { document.getElementById('player').currentTime = 1; });
    const mark = segments.length;
    const chosenRequest = page.waitForRequest((req) => rungOf(req) === chosen, { timeout: 20000 });
    await page.selectOption('#quality', { label: chosen + 'p' });
    await chosenRequest;
    await page.evaluate(() => { const v = document.getElementById('player'); v.muted = true; return v.play(); });
    await page.waitForFunction(() => document.getElementById('player').currentTime > 1.5, null, { timeout: 20000 });
    await page.evaluate(() => document.getElementById('player').pause());
    result.hls.switch = { from: lastRung, to: chosen, after: segments.slice(mark) };

    step = 'the storyboard preview on hover';
    await page.evaluate(() => { document.getElementById('player').currentTime = 3; });
    const hover = async () => {
      const box = await page.locator('#scrubber').boundingBox();
      await page.mouse.move(box.x + 2, box.y + box.height / 2);
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 4 });
      await page.waitForSelector('#storyboard-preview:not([hidden])');
    };
    await hover();
    result.hls.preview = await page.evaluate(async () => {
      const p = document.getElementById('storyboard-preview');
      const url = /url\("(.*)"\)/.exec(p.style.backgroundImage)[1];
      const img = new Image();
      img.src = url;
      await img.decode();
      return { image: new URL(url).pathname, width: p.offsetWidth, height: p.offsetHeight, natural: img.naturalWidth, time: p.textContent };
    });
    const found = await audit(page);
    if (found.length) result.violations['watch-hls'] = found;
    await page.screenshot({ path: path.join(SHOTS, 'watch-hls.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#scrubber').scrollIntoViewIfNeeded();
    await hover();
    await page.screenshot({ path: path.join(SHOTS, 'watch-hls-phone.png') });
    await page.setViewportSize({ width: 1280, height: 860 });

    step = 'the edit page';
    await page.goto(BASE + '/watch/' + result.video_id + '/edit');
    await check('edit');
    await page.goto(BASE + '/');
    await check('front');
    await page.goto(BASE + '/search?q=pattern');
    await check('search');
    await page.goto(BASE + '/u/' + USER);
    await check('channel');
    const notFound = await page.goto(BASE + '/no/such/page');
    result.not_found = { status: notFound.status(), me: await page.$('#me-link') !== null };
    await check('not-found');

    step = 'another person: sign in from a watch link, 403 on the edit page';
    {
      const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const p2 = await other.newPage();
      p2.setDefaultTimeout(30000);
      await p2.goto(watchUrl);
      await Promise.all([p2.waitForURL(/\/login\?next=/), p2.click('#comment-invite a')]);
      result.sign_in_url = p2.url();
      await p2.fill('#register-form input[name=user_name]', USER + '_b');
      await p2.fill('#register-form input[name=pwd]', PWD);
      await Promise.all([p2.waitForURL(watchUrl), p2.click('#register-form button[type=submit]')]);
      result.returned_to = p2.url();
      result.visitor_sees_resolution = (await p2.textContent('.watch-bar .sub')).includes('×');
      const forbidden = await p2.goto(BASE + '/watch/' + result.video_id + '/edit');
      result.forbidden = { status: forbidden.status(), me: await p2.$('#me-link') !== null };
      const found = await audit(p2);
      if (found.length) result.violations['forbidden'] = found;
      await shots(p2, SHOTS, 'forbidden');
      await other.close();
    }
    await page.goto(watchUrl);

    step = 'delete the video';
    await Promise.all([page.waitForURL(BASE + '/studio'), page.click('#delete-video')]);
    if (await page.$('li[data-video-id="' + result.video_id + '"]')) throw new Error('the video is still listed');

    step = 'phone-sized screen';
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('studio-empty-phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    if (overflow) throw new Error('the studio scrolls sideways on a phone');
    if (Object.keys(result.violations).length) throw new Error('accessibility violations: ' + JSON.stringify(result.violations, null, 1));
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('e2e step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
