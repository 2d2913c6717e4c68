// End-to-end run of the site in Debian's headless chromium, driven by playwright-core, as a
// visitor who is not signed in: the front page, a watch page (play and seek), an unlisted video
// that opens by its link but is on no list, a private one that is a 404 page, the search box
// with a Chinese title, and the embed player inside an <iframe> of another origin while the
// watch page refuses to be framed. Then, signed in as the owner, the studio and edit pages.
// Every page is photographed at desktop (1280x800) and phone (390x844) size.
//
// Started by web/tests/it/e2e.rs with BASE_URL, OTHER_ORIGIN (a page on another origin framing
// the embed and watch pages), PUBLIC, UNLISTED, PRIVATE, CHINESE (video ids), OWNER (their
// channel), SESSION (the owner's session id), SHOTS and PLAYWRIGHT_CORE. Prints one JSON line
// with what it saw; any failed step throws, which exits non-zero with the step's name.
'use strict';
const path = require('path');
const { launch, playAndSeek, audit } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const OTHER = process.env.OTHER_ORIGIN;
const SHOTS = process.env.SHOTS;
const { PUBLIC, UNLISTED, PRIVATE, CHINESE, OWNER, SESSION } = process.env;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const result = { shots: [], violations: {} };
let step = 'start';

async function main() {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    page.on('dialog', (d) => d.accept());

    // Waits until every image on the page has loaded (thumbnails), so the pictures show them.
    const imagesLoaded = () => page.waitForFunction(
      () => Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0));
    // The page at desktop and phone size; on the phone nothing may scroll sideways.
    // Every page shot is also audited (axe-core: no serious or critical violations).
    const shots = async (name) => {
      const found = await audit(page);
      if (found.length) result.violations[name] = found;
      await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
      await page.setViewportSize(PHONE);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth > window.innerWidth + 1);
      if (overflow) throw new Error(name + ' scrolls sideways on a phone');
      await page.screenshot({ path: path.join(SHOTS, name + '-phone.png'), fullPage: true });
      await page.setViewportSize(DESKTOP);
      result.shots.push(name, name + '-phone');
    };
    const cards = () => page.$$eval('li.video', (els) => els.map((e) => e.dataset.videoId));
    const go = async (url) => {
      const resp = await page.goto(url);
      return resp.status();
    };

    step = 'front page';
    if (await go(BASE + '/') !== 200) throw new Error('the front page is not 200');
    result.front = await cards();
    if (!result.front.includes(PUBLIC)) throw new Error('the public video has no card');
    await imagesLoaded();
    result.card_text = (await page.textContent(`li.video[data-video-id="${PUBLIC}"] .meta`))
      .replace(/\s+/g, ' ').trim();
    result.card_duration = (await page.textContent(`li.video[data-video-id="${PUBLIC}"] .duration`)).trim();
    await shots('front');

    step = 'click through to the watch page';
    await Promise.all([
      page.waitForURL(BASE + '/watch/' + PUBLIC),
      page.click(`li.video[data-video-id="${PUBLIC}"] a.title`),
    ]);
    await page.waitForSelector('video#player');
    result.comment_form = (await page.$('.comment-form')) !== null;
    result.invite = (await page.textContent('#comment-invite')).replace(/\s+/g, ' ').trim();
    result.invite_href = await page.getAttribute('#comment-invite a', 'href');

    step = 'play and seek to the middle';
    const played = await playAndSeek(page);
    result.duration_s = played.duration;
    result.after_seek = played.afterSeek;
    await shots('watch');

    step = 'the unlisted video opens by its link';
    result.unlisted_status = await go(BASE + '/watch/' + UNLISTED);
    result.unlisted_title = (await page.textContent('#video-title')).trim();

    step = 'channel';
    result.channel_status = await go(BASE + '/u/' + encodeURIComponent(OWNER));
    result.channel = await cards();
    result.feed_link = await page.getAttribute('link[rel=alternate][type="application/atom+xml"]', 'href');
    await imagesLoaded();
    await shots('channel');

    step = 'the unlisted video is found by no search';
    await page.fill('#search-q', result.unlisted_title);
    await Promise.all([page.waitForURL(/\/search\?q=/), page.press('#search-q', 'Enter')]);
    result.unlisted_search = await cards();

    step = 'the private video is a 404 page';
    result.private_status = await go(BASE + '/watch/' + PRIVATE);
    result.private_heading = (await page.textContent('h1')).trim();

    step = 'the search box finds a Chinese title';
    await go(BASE + '/');
    await page.fill('#search-q', '视频');
    await Promise.all([page.waitForURL(/\/search\?q=/), page.press('#search-q', 'Enter')]);
    result.search_url = page.url();
    result.search = await cards();
    await imagesLoaded();
    await shots('search');

    step = 'the embed player plays inside another origin\'s page';
    if (await go(OTHER + '/') !== 200) throw new Error('the other origin\'s page did not load');
    const embed = await (await page.waitForSelector('iframe#embed')).contentFrame();
    await embed.waitForSelector('video#player');
    result.embed_origin = new URL(embed.url()).origin;
    result.embed_after_seek = (await playAndSeek(embed, 5)).afterSeek;

    step = 'the watch page refuses to be framed';
    const framed = await (await page.$('iframe#watch')).contentFrame();
    result.watch_frame_url = framed ? framed.url() : null;
    result.watch_frame_shows_page = framed ? (await framed.$('#video-title')) !== null : false;
    await page.screenshot({ path: path.join(SHOTS, 'embedded.png'), fullPage: true });
    result.shots.push('embedded');

    step = 'signed in: the owner\'s watch page';
    await context.addCookies([{ name: 'session', value: SESSION, url: BASE, httpOnly: true, sameSite: 'Lax' }]);
    result.owner_private_status = await go(BASE + '/watch/' + PRIVATE);
    result.owner_badge = (await page.textContent('#visibility')).trim();

    step = 'studio';
    await go(BASE + '/studio');
    result.studio = await cards();
    await imagesLoaded();
    await shots('studio');

    step = 'edit';
    await go(BASE + '/watch/' + PUBLIC);
    await Promise.all([page.waitForURL(BASE + '/watch/' + PUBLIC + '/edit'), page.click('#edit-link')]);
    result.edit_title = await page.inputValue('#edit-name');
    await imagesLoaded();
    await shots('edit');
  } finally {
    await browser.close();
  }
}

main().then(
  () => { console.log(JSON.stringify(result)); },
  (e) => { console.error('visitor step "' + step + '" failed: ' + (e && e.stack || e)); console.log(JSON.stringify(result)); process.exit(1); },
);
