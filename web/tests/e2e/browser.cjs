// End-to-end run of the site in Debian's headless chromium, driven by playwright-core, as a
// person who registers and uploads: the studio, the resumable upload, watching, seeking,
// commenting and deleting. Started by web/tests/it/e2e.rs with BASE_URL, VIDEO_FILE, SHOTS
// (screenshot directory) and PLAYWRIGHT_CORE (path of the playwright-core package). Prints one
// JSON line with what it saw; any failed step throws, which exits non-zero with the step's name.
'use strict';
const path = require('path');
const { launch, playAndSeek } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const VIDEO = process.env.VIDEO_FILE;
const SHOTS = process.env.SHOTS;
const USER = 'e2e_' + Date.now().toString(36);
const PWD = 'a long enough password';
const result = { user: USER, progress: [] };
let step = 'start';

async function main() {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    page.on('dialog', (d) => d.accept());
    const shot = (name) => page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });

    step = 'register';
    await page.goto(BASE + '/studio');
    if (page.url() !== BASE + '/login?next=%2Fstudio') throw new Error('signed-out studio did not go to sign in: ' + page.url());
    await shot('login');
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
    await page.waitForSelector('#login-form .alert');
    result.wrong_password_message = await page.textContent('#login-form .alert');

    step = 'sign in';
    await page.fill('#login-form input[name=pwd]', PWD);
    await Promise.all([page.waitForURL(BASE + '/studio'), page.click('#login-form button[type=submit]')]);
    await shot('studio-empty');

    step = 'upload, interrupted by a reload';
    // Throttle the upload so the reload lands mid-way (Chrome DevTools network emulation).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 10, downloadThroughput: -1, uploadThroughput: 1024 * 1024,
    });
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
    await page.fill('#upload-name', 'Test pattern');
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
    await shot('studio');

    step = 'watch page';
    await Promise.all([page.waitForURL(/\/watch\//), page.click(card + ' a.title')]);
    await page.waitForSelector('video#player');
    // The same plain link for every viewer: no author in the URL.
    const watchUrl = BASE + '/watch/' + result.video_id;
    if (page.url() !== watchUrl) throw new Error('the watch link is ' + page.url());
    const src = await page.getAttribute('video#player', 'src');
    if (src !== '/videos/' + result.video_id) throw new Error('video src is ' + src);
    result.badge = (await page.textContent('#visibility')).trim();

    step = 'play and seek to the middle';
    const played = await playAndSeek(page);
    result.duration_s = played.duration;
    result.after_seek = played.afterSeek;
    await shot('watch');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('watch-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    step = 'post a comment';
    const text = 'Nice test pattern! <b>not bold</b>';
    await page.fill('.comment-form textarea', text);
    await Promise.all([page.waitForNavigation(), page.click('.comment-form button[type=submit]')]);
    await page.waitForSelector('li.comment');
    const shown = (await page.textContent('li.comment .content')).trim();
    if (shown !== text) throw new Error('comment shows as ' + shown);
    if (page.url() !== watchUrl + '#comments') throw new Error('after posting, at ' + page.url());
    await shot('watch-comment');

    step = 'delete the comment';
    await Promise.all([page.waitForNavigation(), page.click('li.comment button.danger')]);
    if (await page.$('li.comment')) throw new Error('the comment is still there');

    step = 'delete the video';
    await Promise.all([page.waitForURL(BASE + '/studio'), page.click('#delete-video')]);
    if (await page.$('li[data-video-id="' + result.video_id + '"]')) throw new Error('the video is still listed');

    step = 'phone-sized screen';
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('studio-empty-phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    if (overflow) throw new Error('the studio scrolls sideways on a phone');
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('e2e step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
