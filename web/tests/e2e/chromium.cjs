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
  await frame.evaluate((t) => { document.getElementById('player').currentTime = t; }, target);
  await frame.waitForFunction((t) => {
    const v = document.getElementById('player');
    return !v.seeking && v.currentTime > t + 0.2 && !v.paused;
  }, target, { timeout: 20000 });
  const afterSeek = await frame.evaluate(() => document.getElementById('player').currentTime);
  await frame.evaluate(() => document.getElementById('player').pause());
  return { duration, afterSeek };
}

module.exports = { launch, playAndSeek };
