// The live layer (issue 14) in Debian's headless chromium, two pages on one public video: A is
// bob, signed in, who sends danmaku; B is a visitor who is not signed in. Both count 2 watching;
// a danmaku sent in A flies over B's video within 2 s; a seek backwards in B shows it again at
// its moment, a seek forwards over it does not; the hide toggle hides the layer (and what comes
// while it is hidden); a comment posted in A appears in B's list without a reload. Then bob
// presses the heart and Follow, and finds the video on his Favourites and Subscriptions pages.
// Every page is photographed at desktop and phone size (the watch page with danmaku on screen)
// and audited with axe-core.
//
// Started by web/tests/it/live.rs with BASE_URL, VID (a ready public video of OWNER's, 20 s,
// with danmaku already pinned between 0:05 and 0:06), OWNER, SESSION (bob's session id), SHOTS
// and PLAYWRIGHT_CORE. Prints one JSON line with what it saw; a failed step throws, which exits
// non-zero with the step's name.
'use strict';
const path = require('path');
const { launch, audit } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SHOTS;
const { VID, OWNER, SESSION } = process.env;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const WATCH = BASE + '/watch/' + VID;
const result = { shots: [], violations: {} };
let step = 'start';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Records every danmaku element added to the layer: its text, the video's time and the clock
// when it appeared, and whether it is an element with markup inside (it must never be).
function recordDanmaku() {
  window.__dm = [];
  const layer = document.getElementById('danmaku-layer');
  new MutationObserver((changes) => {
    for (const c of changes) {
      for (const n of c.addedNodes) {
        if (!(n instanceof HTMLElement) || !n.classList.contains('dm')) continue;
        window.__dm.push({
          text: n.textContent,
          t: document.getElementById('player').currentTime,
          at: performance.timeOrigin + performance.now(),
          children: n.children.length,
          color: n.style.color,
        });
      }
    }
  }).observe(layer, { childList: true });
}

async function play(page, from) {
  await page.evaluate(async (t) => {
    const v = document.getElementById('player');
    v.muted = true;
    if (typeof t === 'number') {
      v.currentTime = t;
      await new Promise((r) => v.addEventListener('seeked', r, { once: true }));
    }
    await v.play();
  }, from);
}

async function pauseAt(page, t) {
  await page.evaluate(async (to) => {
    const v = document.getElementById('player');
    v.pause();
    v.currentTime = to;
    await new Promise((r) => v.addEventListener('seeked', r, { once: true }));
  }, t);
}

const seen = (page, text) => page.evaluate((s) => window.__dm.filter((d) => d.text === s), text);

async function main() {
  const browser = await launch();
  try {
    const ctxA = await browser.newContext({ viewport: DESKTOP });
    await ctxA.addCookies([{ name: 'session', value: SESSION, url: BASE, httpOnly: true, sameSite: 'Lax' }]);
    const ctxB = await browser.newContext({ viewport: DESKTOP });
    const a = await ctxA.newPage();
    const b = await ctxB.newPage();
    for (const p of [a, b]) {
      p.setDefaultTimeout(30000);
      p.on('dialog', (d) => d.accept());
    }
    const shots = async (page, name) => {
      const found = await audit(page);
      if (found.length) result.violations[name] = found;
      await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
      await page.setViewportSize(PHONE);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      if (overflow) throw new Error(name + ' scrolls sideways on a phone');
      await page.screenshot({ path: path.join(SHOTS, name + '-phone.png'), fullPage: true });
      await page.setViewportSize(DESKTOP);
      result.shots.push(name, name + '-phone');
    };

    step = 'both pages open the video and count 2 watching';
    await Promise.all([a.goto(WATCH), b.goto(WATCH)]);
    for (const p of [a, b]) {
      await p.waitForSelector('video#player');
      await p.evaluate(recordDanmaku);
    }
    const two = (p) => p.waitForFunction(
      () => document.getElementById('viewers').textContent === '2 watching now', null, { timeout: 10000 });
    await Promise.all([two(a), two(b)]);
    result.count_a = await a.textContent('#viewers');
    result.count_b = await b.textContent('#viewers');
    result.bar_visible = await b.isVisible('#danmaku-bar');
    result.invite = (await b.textContent('#danmaku-invite')).replace(/\s+/g, ' ').trim();

    step = 'a danmaku sent in A flies over B within 2 s';
    // B plays past the moment A pins it to, so it flies at once.
    await play(b, 2.5);
    await b.waitForFunction(() => document.getElementById('player').currentTime > 3);
    await pauseAt(a, 2);
    const text = 'Hello from A 你好 <b>not bold</b>';
    await a.fill('#danmaku-text', text);
    await a.click('.swatch:nth-of-type(4)');
    const sentAt = Date.now();
    await a.click('#danmaku-send');
    await a.waitForFunction((s) => window.__dm.some((d) => d.text === s), text, { timeout: 5000 });
    result.sender_input_after = await a.inputValue('#danmaku-text');
    await b.waitForFunction((s) => window.__dm.some((d) => d.text === s), text, { timeout: 5000 });
    const first = (await seen(b, text))[0];
    result.latency_ms = Math.round(first.at - sentAt);
    result.markup_children = first.children;
    result.color = first.color;
    // Flying: the element moves left over the video.
    const x = () => b.evaluate((s) => {
      const el = Array.from(document.querySelectorAll('#danmaku-layer .dm')).find((e) => e.textContent === s);
      return el ? el.getBoundingClientRect().left : null;
    }, text);
    const x1 = await x();
    await sleep(400);
    const x2 = await x();
    result.moved_px = x1 !== null && x2 !== null ? Math.round(x1 - x2) : null;
    const inside = await b.evaluate((s) => {
      const el = Array.from(document.querySelectorAll('#danmaku-layer .dm')).find((e) => e.textContent === s);
      const v = document.getElementById('player').getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return r.top >= v.top && r.bottom <= v.bottom;
    }, text);
    result.over_video = inside;

    step = 'a seek backwards in B shows it again at its moment';
    await pauseAt(b, 1);
    await play(b);
    await b.waitForFunction((s) => window.__dm.filter((d) => d.text === s).length >= 2, text, { timeout: 10000 });
    result.replay_at = (await seen(b, text))[1].t;
    await b.evaluate(() => document.getElementById('player').pause());

    step = 'a seek forwards over it shows nothing in a burst';
    await pauseAt(b, 1);
    await pauseAt(b, 4);
    await play(b);
    await sleep(1500);
    result.after_forward_seek = (await seen(b, text)).length;
    await b.evaluate(() => document.getElementById('player').pause());

    step = 'a comment posted in A appears in B without a reload';
    const comment = 'Live comment at 0:02';
    await a.fill('#comment-content', comment);
    await a.click('#comment-post');
    await b.waitForFunction((s) => Array.from(document.querySelectorAll('#comment-list .content'))
      .some((p) => p.textContent === s), comment, { timeout: 5000 });
    result.comment_seek_link = await b.getAttribute('#comment-list li:first-child a.seek', 'data-t');
    result.b_navigations = await b.evaluate(() => performance.getEntriesByType('navigation').length);

    step = 'the hide toggle hides them';
    await b.click('#danmaku-toggle');
    result.toggle_pressed = await b.getAttribute('#danmaku-toggle', 'aria-pressed');
    result.layer_hidden = await b.evaluate(() => getComputedStyle(document.getElementById('danmaku-layer')).display === 'none');
    await play(b, 2.5);
    await b.waitForFunction(() => document.getElementById('player').currentTime > 3);
    // The sender's allowance: one every 2 s.
    await sleep(2100);
    const hiddenText = 'While it is hidden';
    await pauseAt(a, 2);
    await a.fill('#danmaku-text', hiddenText);
    await a.click('#danmaku-send');
    await a.waitForFunction((s) => window.__dm.some((d) => d.text === s), hiddenText, { timeout: 5000 });
    await sleep(2000);
    result.hidden_shown = (await seen(b, hiddenText)).length;
    result.layer_children_hidden = await b.evaluate(() => document.getElementById('danmaku-layer').children.length);
    await b.click('#danmaku-toggle');
    result.toggle_after = await b.getAttribute('#danmaku-toggle', 'aria-pressed');
    await b.selectOption('#danmaku-density', 'many');
    await b.reload();
    await b.waitForSelector('video#player');
    result.density_kept = await b.inputValue('#danmaku-density');
    result.hidden_after_reload = await b.getAttribute('#danmaku-toggle', 'aria-pressed');

    step = 'a sender too fast is told to wait';
    await a.fill('#danmaku-text', 'too fast 1');
    await a.click('#danmaku-send');
    await a.waitForFunction(() => window.__dm.some((d) => d.text === 'too fast 1'));
    await a.fill('#danmaku-text', 'too fast 2');
    await a.click('#danmaku-send');
    await a.waitForFunction(() => document.getElementById('danmaku-status').textContent.length > 0);
    result.too_fast = await a.textContent('#danmaku-status');

    step = 'the count goes down when B closes';
    await b.close();
    await a.waitForFunction(
      () => document.getElementById('viewers').textContent === '1 watching now', null, { timeout: 10000 });
    result.count_after_close = await a.textContent('#viewers');

    step = 'the watch page with danmaku on screen';
    // The danmaku pinned between 0:05 and 0:06, frozen on screen by a pause.
    const onScreen = async () => {
      await pauseAt(a, 4.8);
      await play(a);
      await a.waitForFunction(() => document.getElementById('player').currentTime > 6.3);
      await a.evaluate(() => document.getElementById('player').pause());
      return a.evaluate(() => document.querySelectorAll('#danmaku-layer .dm').length);
    };
    result.on_screen = await onScreen();
    {
      const found = await audit(a);
      if (found.length) result.violations.watch = found;
      await a.screenshot({ path: path.join(SHOTS, 'watch-danmaku.png'), fullPage: true });
      await a.setViewportSize(PHONE);
      const overflow = await a.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      if (overflow) throw new Error('the watch page scrolls sideways on a phone');
      result.on_screen_phone = await onScreen();
      await a.screenshot({ path: path.join(SHOTS, 'watch-danmaku-phone.png'), fullPage: true });
      await a.setViewportSize(DESKTOP);
      result.shots.push('watch-danmaku', 'watch-danmaku-phone');
    }

    step = 'the heart and Follow';
    await a.click('#favorite');
    await a.waitForFunction(() => document.getElementById('favorite').getAttribute('aria-pressed') === 'true');
    result.favorite_count = await a.textContent('#favorite-count');
    await a.click('#follow');
    await a.waitForFunction(() => document.getElementById('follow').getAttribute('aria-pressed') === 'true');
    result.follow_label = await a.textContent('#follow .follow-label');
    result.a_navigations = await a.evaluate(() => performance.getEntriesByType('navigation').length);
    await a.reload();
    result.favorite_after_reload = await a.getAttribute('#favorite', 'aria-pressed');
    result.follow_after_reload = await a.getAttribute('#follow', 'aria-pressed');

    step = 'Favourites';
    await Promise.all([a.waitForURL(BASE + '/favorites'), a.click('#favorites-link')]);
    result.favorites = await a.$$eval('li.video', (els) => els.map((e) => e.dataset.videoId));
    await a.waitForFunction(() => Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0));
    await shots(a, 'favorites');

    step = 'Subscriptions';
    await Promise.all([a.waitForURL(BASE + '/subscriptions'), a.click('#subscriptions-link')]);
    result.subscriptions = await a.$$eval('li.video', (els) => els.map((e) => e.dataset.videoId));
    await a.waitForFunction(() => Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0));
    await shots(a, 'subscriptions');

    step = 'the channel with its follower';
    await a.goto(BASE + '/u/' + encodeURIComponent(OWNER));
    result.followers = (await a.textContent('#follower-count')).trim();
    await shots(a, 'channel-following');
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('live step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
