// Three rough edges of the site, in Debian's headless chromium:
// - the header keeps to one line on a phone (390 and 320 px wide) as on a desktop (1280 px), and
//   every link and field of it can still be reached there (shown, or in the menu);
// - the owner's watch page of a video whose processing failed shows why, and only the owner's
//   Edit and Delete: no heart, no comment or danmaku form; a ready video's page keeps them;
// - full screen on the watch page takes the screen with the danmaku layer, both from the page's
//   own "Full screen" button and from a double click on the picture (which the native controls
//   would otherwise take for the bare video's full screen);
// - a channel name too long for its card ends in an ellipsis inside the card.
//
// Started by web/tests/it/ui.rs with BASE_URL, SESSION (the owner's session cookie), READY and
// FAILED (two videos of theirs), SHOTS and PLAYWRIGHT_CORE. Prints one JSON line with what it
// saw; any failed step throws, which exits non-zero with the step's name.
'use strict';
const path = require('path');
const { launch, audit, shots } = require('./chromium.cjs');

const BASE = process.env.BASE_URL;
const SHOTS = process.env.SHOTS;
const { SESSION, READY, FAILED } = process.env;
const DESKTOP = { width: 1280, height: 800 };
const result = { header: {}, violations: {} };
let step = 'start';

async function check(page, name) {
  const found = await audit(page);
  if (found.length) result.violations[name] = found;
  await shots(page, SHOTS, name);
}

// Whether the element `id` can be used where it is: it has a box inside the viewport, and the
// point at its middle is the element itself (nothing covers it).
function usable(page, id) {
  return page.evaluate((id) => {
    const el = document.getElementById(id);
    if (!el) return false;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || r.left < 0 || r.top < 0 || r.right > window.innerWidth + 0.5) return false;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return Boolean(hit) && (hit === el || el.contains(hit));
  }, id);
}

// The header at `width`: its height, whether the page scrolls sideways, and how each control the
// desktop header shows (`ids`) is reached: "shown" in the row, "menu" after opening the menu
// button, or "unreachable".
async function headerAt(page, width, ids) {
  await page.setViewportSize({ width, height: 800 });
  const at = await page.evaluate(() => ({
    height: document.querySelector('header.topbar').getBoundingClientRect().height,
    sideways: document.documentElement.scrollWidth > window.innerWidth,
  }));
  at.reach = {};
  for (const id of ids) {
    if (await usable(page, id)) {
      at.reach[id] = 'shown';
      continue;
    }
    at.reach[id] = 'unreachable';
    if (await usable(page, 'menu-button')) {
      await page.click('#menu-button');
      if (await usable(page, id)) at.reach[id] = 'menu';
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => !document.querySelector('#site-menu:popover-open'));
    }
  }
  return at;
}

// The header's controls at desktop width, by id (the menu button is not one of them there).
async function desktopControls(page) {
  await page.setViewportSize(DESKTOP);
  const ids = await page.$$eval('header.topbar a, header.topbar button, header.topbar input', (els) => els.map((e) => e.id));
  if (ids.some((id) => !id)) throw new Error('a header control without an id: ' + JSON.stringify(ids));
  const shown = [];
  for (const id of ids) if (await usable(page, id)) shown.push(id);
  return shown;
}

async function headers(page, who) {
  await page.goto(BASE + '/');
  const ids = await desktopControls(page);
  const desktop = await headerAt(page, DESKTOP.width, ids);
  const phone = await headerAt(page, 390, ids);
  const narrow = await headerAt(page, 320, ids);
  result.header[who] = { ids, desktop, phone, narrow };
}

async function main() {
  const browser = await launch();
  try {
    step = 'the header signed out';
    const visitor = await browser.newContext({ viewport: DESKTOP });
    const outside = await visitor.newPage();
    outside.setDefaultTimeout(30000);
    await headers(outside, 'signed_out');
    await outside.goto(BASE + '/');
    await shots(outside, SHOTS, 'front-signed-out');
    step = 'a long channel name on a card';
    result.card_channel = {};
    for (const [name, width] of [['desktop', DESKTOP.width], ['phone', 390]]) {
      await outside.setViewportSize({ width, height: 800 });
      result.card_channel[name] = await outside.evaluate(() => {
        const a = document.querySelector('.video .sub .channel');
        const card = a.closest('.video').getBoundingClientRect();
        const r = a.getBoundingClientRect();
        return {
          inside: r.left >= card.left && r.right <= card.right,
          cut: a.scrollWidth > a.clientWidth,
          ellipsis: getComputedStyle(a).textOverflow === 'ellipsis',
        };
      });
    }
    await outside.setViewportSize(DESKTOP);

    const context = await browser.newContext({ viewport: DESKTOP });
    await context.addCookies([{ name: 'session', value: SESSION, url: BASE }]);
    const page = await context.newPage();
    page.setDefaultTimeout(30000);

    step = 'the header signed in';
    await headers(page, 'signed_in');
    await page.goto(BASE + '/');
    await check(page, 'front');
    await page.setViewportSize({ width: 320, height: 700 });
    await page.screenshot({ path: path.join(SHOTS, 'front-narrow.png') });
    step = 'the menu on a phone leads somewhere';
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('#menu-button');
    result.menu_open = await page.evaluate(() => document.getElementById('site-menu').matches(':popover-open'));
    await page.screenshot({ path: path.join(SHOTS, 'front-menu-phone.png') });
    const menuFound = await audit(page);
    if (menuFound.length) result.violations['front-menu-phone'] = menuFound;
    await Promise.all([page.waitForURL(BASE + '/studio'), page.click('#studio-link')]);
    result.menu_led_to = new URL(page.url()).pathname;
    await page.setViewportSize(DESKTOP);

    step = 'the owner\'s page of a failed video';
    const controls = () => page.evaluate(() => {
      const has = (id) => document.getElementById(id) !== null;
      const label = document.getElementById('processing-label');
      return {
        heart: has('favorite'),
        comment_form: has('comment-form'),
        comments: has('comments'),
        danmaku_form: has('danmaku-form'),
        copy_link: has('copy-link'),
        edit: has('edit-link'),
        delete: has('delete-video'),
        player: has('player'),
        label: label ? label.textContent.trim() : null,
      };
    });
    await page.goto(BASE + '/watch/' + FAILED);
    result.failed = await controls();
    await check(page, 'watch-failed');

    step = 'the owner\'s page of a ready video';
    await page.goto(BASE + '/watch/' + READY);
    result.ready = await controls();
    // live.js shows the danmaku bar once it follows the player.
    await page.waitForSelector('#danmaku-bar:not([hidden])');
    await check(page, 'watch-ready');

    step = 'full screen from the page\'s button';
    const fullscreen = () => page.evaluate(() => {
      const f = document.fullscreenElement;
      return f && { id: f.id, has_layer: f.contains(document.getElementById('danmaku-layer')) };
    });
    const leave = async () => {
      await page.evaluate(() => document.exitFullscreen());
      await page.waitForFunction(() => document.fullscreenElement === null);
    };
    result.controls_list = await page.evaluate(() => String(document.getElementById('player').controlsList));
    await page.click('#danmaku-fullscreen');
    await page.waitForFunction(() => document.fullscreenElement !== null);
    result.fullscreen_button = await fullscreen();
    await page.screenshot({ path: path.join(SHOTS, 'watch-fullscreen.png') });
    await leave();

    step = 'full screen from a double click on the picture';
    const box = await page.locator('#player').boundingBox();
    await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 3);
    await page.waitForFunction(() => document.fullscreenElement !== null);
    result.fullscreen_dblclick = await fullscreen();
    await leave();
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error('step "' + step + '" failed: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
