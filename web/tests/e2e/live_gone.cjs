// What the live stream removes (issue 14's gaps), in Debian's headless chromium. bob, signed
// in, watches a public video of the owner's while the owner, in a session of their own, posts a
// comment and deletes it: it leaves bob's list without a reload. Then the owner deletes the
// video: bob's page says so above the player, pauses it, disables the danmaku and comment forms
// and never opens the stream again. On a second video the owner watches too, making it private
// tells bob "This video is now private." while the owner's page only marks it Private and keeps
// its stream: a comment the owner posts then still arrives live. The removed-video notice is
// photographed at desktop and phone size and audited with axe-core.
//
// Started by web/tests/it/live.rs with BASE_URL, VID and VID2 (two public videos of OWNER's),
// OWNER, OWNER_SESSION and SESSION (bob's), SHOTS and PLAYWRIGHT_CORE. Prints one JSON line
// with what it saw; a failed step throws, which exits non-zero with the step's name.
'use strict';
const { launch, audit, shots } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const { VID, VID2, OWNER, OWNER_SESSION, SESSION, SHOTS } = process.env;
const DESKTOP = { width: 1280, height: 800 };
// EventSource waits the server's `retry` (3 s) before it reconnects; this is longer.
const LONGER_THAN_RETRY_MS = 4500;
const result = { violations: {} };
let step = 'start';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A request to the site's api from `page`, as its own scripts send one (same origin, the
// session cookie); returns the status and the JSON answer, if any.
function api(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const r = await fetch('/api' + path, {
      method,
      credentials: 'same-origin',
      headers: body ? { 'Content-Type': 'application/json', Accept: 'application/json' } : { Accept: 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }, { method, path, body });
}

// Opens `url` in a new page of `ctx`, counting the live stream's requests the page makes.
async function watch(ctx, url) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.liveRequests = 0;
  page.on('request', (r) => { if (r.url().endsWith('/live')) page.liveRequests += 1; });
  await page.goto(url);
  // The owner of a video still processing gets the processing placeholder, not the player;
  // the live layer runs on both.
  await page.waitForSelector('#danmaku-bar', { state: 'attached' });
  return page;
}

const listed = (page, id) => page.evaluate(
  (cid) => Array.from(document.querySelectorAll('#comment-list li')).some((li) => li.dataset.commentId === cid), id);

async function main() {
  const browser = await launch();
  try {
    const cookie = (value) => [{ name: 'session', value, url: BASE, httpOnly: true, sameSite: 'Lax' }];
    const bobCtx = await browser.newContext({ viewport: DESKTOP });
    await bobCtx.addCookies(cookie(SESSION));
    const ownerCtx = await browser.newContext({ viewport: DESKTOP });
    await ownerCtx.addCookies(cookie(OWNER_SESSION));

    step = 'bob watches; the owner is elsewhere on the site';
    const bob = await watch(bobCtx, BASE + '/watch/' + VID);
    await bob.waitForFunction(() => document.getElementById('viewers').textContent === '1 watching now');
    const owner = await ownerCtx.newPage();
    owner.setDefaultTimeout(20000);
    await owner.goto(BASE + '/u/' + encodeURIComponent(OWNER));

    step = 'a comment deleted in the other session leaves the list without a reload';
    const posted = await api(owner, 'POST', '/videos/' + VID + '/comments', { content: 'Soon gone' });
    if (posted.status !== 201) throw new Error('posting a comment: ' + JSON.stringify(posted));
    const cid = posted.json.id;
    await bob.waitForFunction((id) => Array.from(document.querySelectorAll('#comment-list li'))
      .some((li) => li.dataset.commentId === id), cid);
    result.comment_shown = await listed(bob, cid);
    const deleted = await api(owner, 'DELETE', '/videos/' + VID + '/comment/' + cid);
    result.comment_delete_status = deleted.status;
    await bob.waitForFunction((id) => !Array.from(document.querySelectorAll('#comment-list li'))
      .some((li) => li.dataset.commentId === id), cid, { timeout: 5000 });
    result.comment_after_delete = await listed(bob, cid);
    result.no_comments_back = await bob.isVisible('#no-comments');
    result.bob_navigations = await bob.evaluate(() => performance.getEntriesByType('navigation').length);

    step = 'the owner deletes the video: bob is told, above the player';
    await bob.evaluate(() => { const v = document.getElementById('player'); v.muted = true; v.play().catch(() => {}); });
    const gone = await api(owner, 'DELETE', '/user/' + encodeURIComponent(OWNER) + '/videos/' + VID);
    result.video_delete_status = gone.status;
    await bob.waitForSelector('#video-gone', { timeout: 5000 });
    result.notice = await bob.textContent('#video-gone');
    result.notice_role = await bob.getAttribute('#video-gone', 'role');
    result.notice_above_player = await bob.evaluate(() => {
      const n = document.getElementById('video-gone').getBoundingClientRect();
      const v = document.getElementById('player').getBoundingClientRect();
      return n.bottom <= v.top + 1;
    });
    result.player = await bob.evaluate(() => {
      const v = document.getElementById('player');
      return { paused: v.paused, controls: v.controls };
    });
    result.forms_disabled = await bob.evaluate(() => ['danmaku-text', 'danmaku-send', 'comment-content', 'comment-post']
      .map((id) => document.getElementById(id).disabled));
    result.viewers_hidden = await bob.evaluate(() => document.getElementById('viewers').hidden);
    await bob.setViewportSize(DESKTOP);
    const found = await audit(bob);
    if (found.length) result.violations.watch_gone = found;
    await shots(bob, SHOTS, 'watch-deleted');

    step = "bob's page does not reconnect";
    const before = bob.liveRequests;
    await sleep(LONGER_THAN_RETRY_MS);
    result.live_requests = { before, after: bob.liveRequests };

    step = 'a second video, watched by bob and by its owner';
    const bob2 = await watch(bobCtx, BASE + '/watch/' + VID2);
    const owner2 = await watch(ownerCtx, BASE + '/watch/' + VID2);
    for (const p of [bob2, owner2]) {
      await p.waitForFunction(() => document.getElementById('viewers').textContent === '2 watching now');
    }

    step = 'the owner makes it private: bob is told, the owner keeps watching';
    const edited = await api(owner2, 'PATCH', '/user/' + encodeURIComponent(OWNER) + '/videos/' + VID2, { visibility: 'private' });
    result.private_status = edited.status;
    await bob2.waitForSelector('#video-gone', { timeout: 5000 });
    result.private_notice = await bob2.textContent('#video-gone');
    result.private_forms_disabled = await bob2.evaluate(() => document.getElementById('comment-content').disabled);
    await owner2.waitForFunction(() => document.getElementById('visibility').textContent === 'Private', null, { timeout: 5000 });
    result.owner_badge = await owner2.textContent('#visibility');
    result.owner_notice = await owner2.$('#video-gone') !== null;
    // The owner's stream goes on: bob's leaving is counted, and the owner's own comment (posted
    // from another page of theirs) arrives live.
    await owner2.waitForFunction(() => document.getElementById('viewers').textContent === '1 watching now', null, { timeout: 10000 });
    const mine = await api(owner, 'POST', '/videos/' + VID2 + '/comments', { content: 'Still mine' });
    await owner2.waitForFunction((id) => Array.from(document.querySelectorAll('#comment-list li'))
      .some((li) => li.dataset.commentId === id), mine.json.id, { timeout: 5000 });
    result.owner_live_comment = true;
    result.owner_forms_enabled = await owner2.evaluate(() => !document.getElementById('comment-content').disabled);
    result.owner_live_requests = owner2.liveRequests;
    await shots(bob2, SHOTS, 'watch-private');
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('live_gone step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
