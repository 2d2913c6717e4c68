// What both browser runs share: starting Debian's headless chromium through playwright-core
// (PLAYWRIGHT_CORE; CHROMIUM overrides the executable), and driving a player: play it muted,
// then seek and check that playback goes on from where the seek landed.
'use strict';
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

// `frame` is a playwright Page or Frame holding <video id="player">; `to` is the time to seek
// to, in seconds (default: the middle). Returns the duration and where playback was after it.
async function playAndSeek(frame, to) {
  await frame.evaluate(() => { const v = document.getElementById('player'); v.muted = true; return v.play(); });
  await frame.waitForFunction(() => document.getElementById('player').currentTime > 0.5, null, { timeout: 20000 });
  const duration = await frame.evaluate(() => document.getElementById('player').duration);
  const target = to === undefined ? duration / 2 : to;
  // Whether the bytes at the target had already arrived: then the seek needs no new request.
  const bufferedBefore = await frame.evaluate((t) => {
    const b = document.getElementById('player').buffered;
    for (let i = 0; i < b.length; i++) if (b.start(i) <= t && t < b.end(i)) return true;
    return false;
  }, target);
  await frame.evaluate((t) => { document.getElementById('player').currentTime = t; }, target);
  await frame.waitForFunction((t) => {
    const v = document.getElementById('player');
    return !v.seeking && v.currentTime > t + 0.2 && !v.paused;
  }, target, { timeout: 20000 });
  const afterSeek = await frame.evaluate(() => document.getElementById('player').currentTime);
  await frame.evaluate(() => document.getElementById('player').pause());
  return { duration, afterSeek, bufferedBefore };
}

// The accessibility audit: axe-core (AXE, from npm, installed by scripts/test-deps for the
// tests only) injected into the page and run there; returns the serious and critical
// violations as "rule: target" lines (empty when the page passes).
async function audit(page) {
  await page.addScriptTag({ path: process.env.AXE });
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\s+/g, ' ')).join(' | '));
  });
  return found;
}

// A screenshot of the page at desktop (1280x800) and phone (390x844) sizes, `name.png` and
// `name-phone.png` in `dir`; the viewport is desktop again afterwards.
async function shots(page, dir, name) {
  const path = require('path');
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(dir, name + '.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(dir, name + '-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}

module.exports = { launch, playAndSeek, audit, shots };
