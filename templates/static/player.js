// The video player of the watch and embed pages: adaptive HLS when the video has a ladder, the
// quality menu and the storyboard preview on a seek strip under the video; full screen that
// keeps the danmaku layer over the picture (`fullscreenTakesScreen`); and, on its owner's
// watch page, a video being processed followed live (the percentage, then the player, then the
// qualities) without a reload. Everything else of those pages (comments, copy link) lives in
// app.js.
//
// Engines, in order:
// 1. the browser's own HLS where it is Safari's: it says it plays HLS and has
//    `ManagedMediaSource` (Safari 17.1 and later), or has no Media Source Extensions at all
//    (older iPhones). Chrome says "maybe" too, but its built-in HLS fails on some streams, so
//    hls.js' own README limits native playback the same way;
// 2. hls.js 1.5.20 (vendor/hls.min.js) wherever MSE exists; it also gives the quality menu;
// 3. the progressive file (`src` as rendered), and whenever hls.js fails fatally.
// The engine in use is written to the video's `data-engine` (the browser tests read it). Text
// from the server is only ever set as text or as attributes, never parsed as HTML.
//
// With a media origin (`data-media` on <body>, the site's MEDIA_URL) the media come from there,
// fetched without credentials so no cookie of this site goes with them: the poster and the
// storyboard's images as blobs, everything else through CORS. An owner's video that only they
// may see has signed URLs (`/s/<grant>/videos/<vid>...`) that expire (`data-expires`, by the
// server's clock `data-now`): the page renews them before then by reading the video object
// again, and once more when a media request is refused (403), and keeps playing: hls.js'
// requests take the current grant, the progressive file is swapped at the same moment.
'use strict';
(function () {
  const HLS_TYPE = 'application/vnd.apple.mpegurl';
  const MEDIA = document.body.dataset.media || '';
  // How early a grant is renewed: at this share of its life.
  const RENEW_AT = 0.75;

  // The URL of a media file whose path on this site is `own` (`/videos/<vid>`): the api's
  // `given` when it lies on the media origin, else `own` there; without a media origin, `own`
  // whatever the api says (web/src/media.rs decides the same for the pages).
  function mediaUrl(given, own) {
    if (!MEDIA) return own;
    const clean = typeof given === 'string' && !/[\u0000-\u0020\\]/.test(given);
    return clean && given.startsWith(MEDIA + '/') ? given : MEDIA + own;
  }

  // The grant in a signed URL of a video's files, or null for a plain one.
  function grantOf(url) {
    const m = MEDIA && typeof url === 'string' && url.startsWith(MEDIA + '/s/')
      ? /^[^?#]*?\/s\/([^/]+)\/videos\//.exec(url) : null;
    return m ? m[1] : null;
  }

  // `url` under `grant` instead of its own (unchanged when it is not signed).
  function withGrant(url, grant) {
    if (!grant || !grantOf(url)) return url;
    return url.replace(/\/s\/[^/]+\/videos\//, '/s/' + grant + '/videos/');
  }

  // The server's clock from an answer's Date header (Unix seconds), else the browser's.
  function serverNow(r) {
    const date = Date.parse(r.headers.get('Date') || '');
    return Math.floor((Number.isFinite(date) ? date : Date.now()) / 1000);
  }

  // A media-origin image fetched without credentials, as a blob: URL for the page.
  function blobOf(url) {
    return fetch(url, { credentials: 'omit', mode: 'cors' })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
      .then((b) => URL.createObjectURL(b));
  }

  function nativeHls(video) {
    if (!video.canPlayType(HLS_TYPE)) return false;
    return 'ManagedMediaSource' in window || !('MediaSource' in window);
  }

  function qualityMenu(hls, tools) {
    const wrap = document.createElement('div');
    wrap.className = 'quality';
    wrap.id = 'quality-menu';
    const label = document.createElement('label');
    label.htmlFor = 'quality';
    label.textContent = 'Quality';
    const select = document.createElement('select');
    select.id = 'quality';
    const auto = document.createElement('option');
    auto.value = '-1';
    auto.textContent = 'Auto';
    select.append(auto);
    const levels = hls.levels.map((l, i) => ({ i, height: l.height }))
      .sort((a, b) => b.height - a.height);
    for (const l of levels) {
      const o = document.createElement('option');
      o.value = String(l.i);
      o.textContent = l.height + 'p';
      select.append(o);
    }
    // -1 lets hls.js choose by bandwidth; a level index pins that rung (the buffer ahead is
    // replaced by hls.js at once).
    select.addEventListener('change', () => { hls.currentLevel = Number(select.value); });
    // "Auto (360p)": which rung Auto is playing now.
    hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
      const l = hls.levels[data.level];
      auto.textContent = l && hls.autoLevelEnabled ? 'Auto (' + l.height + 'p)' : 'Auto';
    });
    wrap.append(label, select);
    tools.prepend(wrap);
  }

  // WebVTT timestamps: `hh:mm:ss.mmm` or `mm:ss.mmm` (WebVTT section 4.2).
  function seconds(stamp) {
    const parts = stamp.trim().split(':').map(Number);
    if (parts.some((n) => !Number.isFinite(n))) return NaN;
    return parts.reduce((acc, n) => acc * 60 + n, 0);
  }

  // Cues `start --> end` followed by `storyboard.jpg#xywh=x,y,w,h`, the image relative to the
  // VTT file. Only images of this site are used.
  function parseBoard(text, base) {
    const cues = [];
    const lines = text.split(/\r\n|\r|\n/);
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].includes('-->')) continue;
      const [a, b] = lines[i].split('-->');
      const start = seconds(a);
      const end = seconds(b.trim().split(/\s+/)[0]);
      const payload = (lines[i + 1] || '').trim();
      const m = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(payload);
      if (!m || !(end > start)) continue;
      const url = new URL(m[1], base);
      const media = MEDIA ? new URL(MEDIA).origin : null;
      if (url.origin !== location.origin && url.origin !== media) continue;
      url.hash = '';
      cues.push({ start, end, image: url.href, x: +m[2], y: +m[3], w: +m[4], h: +m[5] });
    }
    return cues;
  }

  function clock(t) {
    const s = Math.max(0, Math.floor(t));
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor(s / 60) % 60);
    const ss = String(s % 60).padStart(2, '0');
    return h ? h + ':' + mm.padStart(2, '0') + ':' + ss : mm + ':' + ss;
  }

  // A seek strip under the video (the native controls' own seek bar cannot be reached from a
  // page) that shows the storyboard frame for the time under the pointer or the thumb.
  function scrubber(video, tools, cues) {
    const wrap = document.createElement('div');
    wrap.className = 'scrub';
    const range = document.createElement('input');
    range.type = 'range';
    range.id = 'scrubber';
    range.min = '0';
    range.step = '0.1';
    range.value = '0';
    range.setAttribute('aria-label', 'Seek');
    const preview = document.createElement('div');
    preview.className = 'storyboard-preview';
    preview.id = 'storyboard-preview';
    preview.hidden = true;
    const when = document.createElement('span');
    preview.append(when);
    wrap.append(preview, range);
    tools.append(wrap);

    let dragging = false;
    const duration = () => (Number.isFinite(video.duration) ? video.duration : 0);
    const sync = () => {
      range.max = String(duration());
      if (!dragging) range.value = String(video.currentTime);
      range.setAttribute('aria-valuetext', clock(video.currentTime) + ' of ' + clock(duration()));
    };
    video.addEventListener('loadedmetadata', sync);
    video.addEventListener('durationchange', sync);
    video.addEventListener('timeupdate', sync);
    sync();

    function show(t, x) {
      const cue = cues.find((c) => t >= c.start && t < c.end) || cues[cues.length - 1];
      if (!cue) return;
      preview.style.width = cue.w + 'px';
      preview.style.height = cue.h + 'px';
      preview.style.backgroundImage = 'url("' + cue.image + '")';
      preview.style.backgroundPosition = '-' + cue.x + 'px -' + cue.y + 'px';
      const half = cue.w / 2;
      preview.style.left = Math.min(Math.max(x, half), wrap.clientWidth - half) + 'px';
      when.textContent = clock(t);
      preview.hidden = false;
    }
    const timeAt = (clientX) => {
      const r = range.getBoundingClientRect();
      const f = Math.min(Math.max((clientX - r.left) / r.width, 0), 1);
      return { t: f * duration(), x: clientX - r.left };
    };
    range.addEventListener('pointermove', (e) => { const p = timeAt(e.clientX); show(p.t, p.x); });
    range.addEventListener('pointerdown', () => { dragging = true; });
    const stop = () => { dragging = false; preview.hidden = true; };
    range.addEventListener('pointerup', stop);
    range.addEventListener('pointerleave', () => { if (!dragging) preview.hidden = true; });
    range.addEventListener('blur', stop);
    range.addEventListener('input', () => {
      const t = Number(range.value);
      video.currentTime = t;
      const d = duration();
      show(t, d ? (t / d) * range.clientWidth : 0);
    });
  }

  // Full screen on the watch page takes the screen (the video with its danmaku layer over it),
  // never the bare video: a full-screen <video> is drawn alone, the layer left behind. Chromium
  // lets no page turn its controls' own full-screen button to the screen (the switch would need
  // a fresh click, which that button has used up), so that button is switched off
  // (`controlsList="nofullscreen"`), and a double click on the picture, which those controls
  // take as "full screen", toggles the screen's instead; the danmaku bar's "Full screen" button
  // (live.js) does the same. Where an element cannot go full screen (Safari on an iPhone), the
  // video keeps its own.
  function fullscreenTakesScreen(video) {
    const screen = video.closest('.screen');
    if (!screen || !screen.requestFullscreen) return;
    if (video.controlsList) video.controlsList.add('nofullscreen');
    video.addEventListener('dblclick', (e) => {
      e.preventDefault();
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else screen.requestFullscreen().catch(() => {});
    });
  }

  // Sets `video` up with what its data attributes offer (`data-hls`, `data-storyboard`) and
  // returns `upgrade(hlsUrl, boardUrl)`, which brings in a ladder or storyboard made since the
  // page was rendered.
  function attach(video) {
    fullscreenTakesScreen(video);
    let progressive = video.getAttribute('src');
    video.dataset.engine = 'progressive';
    if (video.dataset.poster) blobOf(video.dataset.poster).then((u) => { video.poster = u; }, () => {});
    // The grant of the signed URLs in use (null: plain URLs), and the ladder's playlist.
    let grant = grantOf(progressive);
    let ladder = null;
    let hls = null;

    const tools = document.createElement('div');
    tools.className = 'player-tools';
    tools.id = 'player-tools';
    // Under the picture: after the watch page's screen (the video and its danmaku layer).
    (video.closest('.screen') || video).after(tools);

    let hlsStarted = false;
    let upgradeWaits = false;
    let boardStarted = false;

    // Another source from `at` (default: the same moment), playing if it was (`playing`,
    // default: whether it plays now).
    function switchTo(src, engine, at = video.currentTime, playing = !video.paused) {
      video.src = src;
      video.dataset.engine = engine;
      video.addEventListener('loadedmetadata', () => {
        if (at > 0) video.currentTime = at;
        if (playing) video.play().catch(() => {});
      }, { once: true });
    }

    function stopHls() {
      if (hls) hls.destroy();
      hls = null;
      const menu = document.getElementById('quality-menu');
      if (menu) menu.remove();
    }

    // The progressive file, from where hls.js was and playing if the viewer had pressed play:
    // read before hls.js lets go of the video, which empties it (back to 0:00, paused).
    function fallBack() {
      const at = video.currentTime;
      const playing = wantsPlay;
      stopHls();
      switchTo(progressive, 'progressive', at, playing);
    }

    // Renewal of signed URLs (`data-expires`): the video object read again through web's
    // proxy of the api, its new grant taken by every engine. One renewal at a time; a refusal
    // renews once, then waits for a success before it may again.
    let renewing = null;
    let renewTimer = null;
    let refusedOnce = false;

    function renewIn(expires, now) {
      if (renewTimer) window.clearTimeout(renewTimer);
      renewTimer = null;
      if (!(expires > 0)) return;
      const life = Math.max(expires - now, 0);
      renewTimer = window.setTimeout(renew, Math.max(life * RENEW_AT, 5) * 1000);
    }

    function renew() {
      if (renewing) return renewing;
      const vid = video.dataset.vid;
      renewing = fetch('/api/videos/' + encodeURIComponent(vid), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then((r) => {
          if (!r.ok) throw new Error('the site answered ' + r.status);
          const now = serverNow(r);
          return r.json().then((v) => {
            const fresh = grantOf(mediaUrl(v.play_url, '/videos/' + encodeURIComponent(vid)));
            if (fresh && fresh !== grant) adopt(fresh);
            renewIn(v.media_expires, now);
          });
        })
        .catch(() => { renewIn(1, 0); }) // Try again shortly.
        .then(() => { renewing = null; });
      return renewing;
    }

    // Takes `fresh` as the grant: hls.js' next requests carry it (`xhrSetup`); the progressive
    // file or the browser's own HLS is swapped at the same moment, paused or playing as it was.
    function adopt(fresh) {
      grant = fresh;
      progressive = withGrant(progressive, grant);
      if (ladder) ladder = withGrant(ladder, grant);
      video.dataset.grant = grant;
      const engine = video.dataset.engine;
      if (engine === 'progressive') switchTo(progressive, engine);
      if (engine === 'native' && ladder) switchTo(ladder, engine);
    }

    // A refused media request: renew once and go on under the new grant.
    function refused(then) {
      if (!grant || refusedOnce) return false;
      refusedOnce = true;
      renew().then(then);
      return true;
    }
    video.addEventListener('playing', () => { refusedOnce = false; });
    // Whether the viewer last asked it to play. A refused request makes the browser pause the
    // video as it reports the error (Chromium, even before the page's `error` listener runs),
    // so `paused` no longer says it; a pause while an error stands is not the viewer's.
    let wantsPlay = false;
    video.addEventListener('play', () => { wantsPlay = true; });
    video.addEventListener('pause', () => { if (!video.error) wantsPlay = false; });
    // The refused file goes on under the new grant from where it was, playing if it was meant to.
    video.addEventListener('error', () => {
      if (video.dataset.engine !== 'progressive') return;
      const at = video.currentTime;
      const playing = wantsPlay;
      refused(() => switchTo(progressive, 'progressive', at, playing));
    });
    if (grant && video.dataset.expires) renewIn(Number(video.dataset.expires), Number(video.dataset.now));

    // hls.js on `hlsUrl` from `at`; `level` (an index into its levels) pins the rung the viewer
    // had picked from the quality menu, when hls.js is started again.
    function startHls(hlsUrl, at = video.currentTime, level = -1) {
      if (hlsStarted) return;
      hlsStarted = true;
      ladder = withGrant(hlsUrl, grant);
      hlsUrl = ladder;
      if (nativeHls(video)) {
        switchTo(hlsUrl, 'native', at);
        video.addEventListener('error', () => {
          if (video.dataset.engine !== 'native') return;
          switchTo(progressive, 'progressive');
        }, { once: true });
      } else if (window.Hls && Hls.isSupported()) {
        const h = new Hls({
          capLevelToPlayerSize: false,
          startPosition: at > 0 ? at : -1,
          startLevel: level >= 0 ? level : undefined,
          // Without credentials (also hls.js' default): no cookie goes to the media origin.
          // Every request takes the grant in use, whatever grant its playlist was read under.
          xhrSetup: (xhr, url) => {
            xhr.withCredentials = false;
            xhr.open('GET', withGrant(url, grant), true);
          },
        });
        hls = h;
        let recovered = false;
        // After a refusal hls.js may move to another rung to retry (its own error handling),
        // and then stays there: a quality the viewer picked is picked again once, at the next
        // fragment (no flush), when hls.js next switches.
        let repin = false;
        h.on(Hls.Events.MANIFEST_PARSED, () => {
          qualityMenu(h, tools);
          if (level < 0 || !h.levels[level]) return;
          document.getElementById('quality').value = String(level);
          h.currentLevel = level;
        });
        h.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
          if (!repin) return;
          repin = false;
          const menu = document.getElementById('quality');
          const picked = menu ? Number(menu.value) : -1;
          if (picked >= 0 && data.level !== picked) h.nextLevel = picked;
        });
        h.on(Hls.Events.ERROR, (_e, data) => {
          const status = data.response ? data.response.code : 0;
          if (status === 403) {
            // Refused (an expired grant): renew, and if hls.js gave up, start it again there
            // under the new grant, on the quality the viewer picked, playing if they had
            // pressed play. hls.js may give up
            // only on a later refusal, while the renewal is still on its way (a slow network):
            // then too it starts again once the renewal is in, rather than falling back to the
            // progressive file under the grant that just expired.
            const fatal = data.fatal;
            const at = video.currentTime;
            const playing = wantsPlay;
            repin = true;
            const again = () => {
              if (!fatal || hls !== h) return;
              const menu = document.getElementById('quality');
              const picked = menu ? Number(menu.value) : -1;
              stopHls();
              hlsStarted = false;
              startHls(ladder, at, picked);
              if (playing) video.play().catch(() => {});
            };
            if (refused(again)) return;
            if (fatal && renewing) {
              renewing.then(again);
              return;
            }
          }
          if (!data.fatal) return;
          // A media error is worth one recovery attempt; anything else, or a second one, means
          // the progressive file.
          if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
            recovered = true;
            h.recoverMediaError();
          } else {
            fallBack();
          }
        });
        h.loadSource(hlsUrl);
        h.attachMedia(video);
        video.dataset.engine = 'hls.js';
      }
    }

    function startBoard(boardUrl) {
      if (boardStarted) return;
      boardStarted = true;
      const base = new URL(withGrant(boardUrl, grant), location.href);
      fetch(base, { headers: { Accept: 'text/vtt' }, credentials: 'same-origin' })
        .then((r) => (r.ok ? r.text() : Promise.reject(new Error(String(r.status)))))
        .then((text) => {
          const cues = parseBoard(text, base);
          // From the media origin the sprite comes as a blob fetched without credentials (a
          // CSS background image would carry cookies), and stays usable after the grant ends.
          if (!MEDIA || !cues.length) return cues;
          const images = [...new Set(cues.map((c) => c.image))];
          return Promise.all(images.map(blobOf)).then((blobs) => cues.map((c) =>
            Object.assign(c, { image: blobs[images.indexOf(c.image)] })));
        })
        .then((cues) => {
          if (cues.length) scrubber(video, tools, cues);
        })
        .catch(() => {}); // No previews; the player works as before.
    }

    // A ladder made while the page was open replaces the progressive file at once if the video
    // has not been played yet, else once it has played to its end: swapping the source under
    // someone watching would blank the picture for a moment.
    function upgrade(hlsUrl, boardUrl) {
      if (boardUrl) startBoard(boardUrl);
      if (!hlsUrl || hlsStarted || upgradeWaits) return;
      if (video.paused && video.played.length === 0) {
        startHls(hlsUrl);
      } else {
        upgradeWaits = true;
        // From the start, as a replay starts.
        video.addEventListener('ended', () => startHls(hlsUrl, 0), { once: true });
      }
    }

    upgrade(video.dataset.hls, video.dataset.storyboard);
    return upgrade;
  }

  // "Processing… 42%", as the server words it (`VideoView::from_api` in web/src/views.rs).
  function processingLabel(v) {
    if (v.state === 'pending') return 'Waiting for upload';
    const p = v.state === 'processing' ? v.processing_progress : null;
    return typeof p === 'number' ? 'Processing… ' + Math.min(p, 100) + '%' : 'Processing…';
  }

  // The owner's watch page of a video that is not playable yet, or whose ladder is being made
  // (`data-follow`: the video object's path through web's proxy of the api). It polls every
  // 2 s while something changes, backing off to 30 s while nothing does, not at all while the
  // tab is hidden, and stops once the ladder and storyboard are there, the video failed or
  // went, or a ready video's ladder stands still (it may never come: the ladder job failed).
  function follow(stage, article, upgradeOf) {
    const url = stage.dataset.follow;
    const vid = article.dataset.videoId;
    const path = (suffix) => '/videos/' + encodeURIComponent(vid) + suffix;
    const FIRST = 2000;
    const MOST = 30000;
    const STILL_POLLS = 8;
    const status = document.getElementById('stage-status');
    const note = document.getElementById('qualities-note');
    let upgrade = upgradeOf;
    let delay = FIRST;
    let timer = null;
    let asking = false;
    let stopped = false;
    let seen = '';
    let still = 0;
    // Polls in a row that named the master playlist.
    let named = 0;
    // The server's clock at the last poll, for the grant of signed URLs in its answer.
    let polledAt = 0;

    const say = (text) => { if (status) status.textContent = text; };
    const label = () => document.getElementById('processing-label');
    const bar = () => document.getElementById('processing-bar');

    function showPlayer(v) {
      const placeholder = document.getElementById('placeholder');
      if (!placeholder) return;
      const video = document.createElement('video');
      video.id = 'player';
      video.controls = true;
      video.preload = 'metadata';
      video.setAttribute('playsinline', '');
      // Before the source: how the media origin is asked decides how the first request goes.
      if (MEDIA) video.crossOrigin = 'anonymous';
      if (v.thumbnail_url) {
        const poster = mediaUrl(v.thumbnail_url, '/thumbnails/' + encodeURIComponent(vid));
        if (MEDIA) video.dataset.poster = poster; else video.poster = poster;
      }
      video.dataset.vid = vid;
      if (v.media_expires) {
        video.dataset.expires = String(v.media_expires);
        video.dataset.now = String(polledAt);
      }
      video.setAttribute('src', mediaUrl(v.play_url, path('')));
      placeholder.replaceWith(video);
      upgrade = attach(video);
      say('Processing finished: the video is ready to play.');
    }

    function showFailure(reason) {
      const l = label();
      if (l) l.textContent = 'Processing failed: ' + (reason || 'the file could not be processed');
      const b = bar();
      if (b) b.remove();
      const hint = document.getElementById('processing-hint');
      if (hint) hint.remove();
      const box = document.getElementById('processing');
      if (box) box.classList.add('processing-failed');
      // What needs a video people can watch goes, as on a failed video's page (watch.html):
      // the heart (its form, when signed in), the visibility, Copy link, comments, danmaku.
      for (const id of ['favorite', 'visibility', 'copy-link', 'comments', 'danmaku-bar']) {
        const el = document.getElementById(id);
        if (el) (el.closest('.favorite-form') || el).remove();
      }
      if (l) say(l.textContent);
    }

    // Shows `v`; true when there is nothing more to wait for.
    function show(v) {
      article.dataset.state = v.state;
      if (v.state === 'pending' || v.state === 'uploaded' || v.state === 'processing') {
        const l = label();
        const b = bar();
        if (l) l.textContent = processingLabel(v);
        if (b) {
          b.hidden = v.state === 'pending';
          const p = v.state === 'processing' ? v.processing_progress : null;
          // No value: an indeterminate bar (HTML, the progress element).
          if (typeof p === 'number') b.value = Math.min(p, 100); else b.removeAttribute('value');
        }
        return false;
      }
      if (v.state === 'failed') {
        showFailure(v.failure_reason);
        return true;
      }
      if (v.state !== 'ready') return true;
      if (!upgrade) showPlayer(v);
      const rungs = Array.isArray(v.renditions) ? v.renditions : [];
      const made = rungs.filter((r) => r.ready).length;
      const preparing = rungs.length > 0 && !v.hls_url;
      if (note) {
        if (preparing) note.textContent = 'Preparing qualities… ' + made + ' of ' + rungs.length;
        else if (!note.hidden && v.hls_url) say('Every quality is ready.');
        note.hidden = !preparing;
      }
      // The api names the master playlist once every rung is ready, a moment before the
      // scheduler writes it (the master comes after the last rung, the storyboard after the
      // master): so the ladder is taken up with the storyboard, or when a second poll still
      // names it without one.
      named = v.hls_url ? named + 1 : 0;
      const ladder = v.hls_url && (v.storyboard_url || named >= 2);
      if (upgrade) {
        upgrade(ladder ? mediaUrl(v.hls_url, path('/hls/master.m3u8')) : null,
          v.storyboard_url ? mediaUrl(v.storyboard_url, path('/storyboard.vtt')) : null);
      }
      return Boolean(v.hls_url && v.storyboard_url) || still >= STILL_POLLS;
    }

    function schedule() {
      if (stopped || asking || timer || document.hidden) return;
      timer = window.setTimeout(ask, delay);
    }

    function ask() {
      timer = null;
      asking = true;
      fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then((r) => {
          polledAt = serverNow(r);
          // Gone, or no longer ours to see (deleted, signed out elsewhere): nothing to follow.
          if (r.status === 401 || r.status === 404) return null;
          if (!r.ok) throw new Error('the site answered ' + r.status);
          return r.json();
        })
        .then((v) => {
          asking = false;
          if (!v) {
            stopped = true;
            const l = label();
            if (l) l.textContent = 'This video is no longer available.';
            for (const id of ['processing-bar', 'processing-hint', 'qualities-note']) {
              const gone = document.getElementById(id);
              if (gone) gone.remove();
            }
            return;
          }
          const now = JSON.stringify([v.state, v.processing_progress, v.renditions, v.hls_url, v.storyboard_url]);
          if (now === seen) {
            still += 1;
            delay = Math.min(delay * 1.5, MOST);
          } else {
            seen = now;
            still = 0;
            delay = FIRST;
          }
          if (show(v)) stopped = true; else schedule();
        })
        .catch(() => {
          // A network or server hiccup: ask again, less often.
          asking = false;
          delay = Math.min(delay * 2, MOST);
          schedule();
        });
    }

    document.addEventListener('visibilitychange', () => {
      if (document.hidden) {
        if (timer) window.clearTimeout(timer);
        timer = null;
      } else if (!stopped && !asking && !timer) {
        // Back on the tab: ask now, the state may have moved on a lot.
        delay = FIRST;
        ask();
      }
    });
    schedule();
  }

  const video = document.getElementById('player');
  const upgrade = video ? attach(video) : null;
  const stage = document.getElementById('stage');
  const article = document.querySelector('article.watch');
  if (stage && article && stage.dataset.follow) follow(stage, article, upgrade);
})();
