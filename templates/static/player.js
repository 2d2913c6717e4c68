// The video player of the watch and embed pages: adaptive HLS when the video has a ladder, the
// quality menu, and the storyboard preview on a seek strip under the video. Everything else of
// those pages (comments, copy link) lives in app.js.
//
// Engines, in order: hls.js 1.5.20 (vendor/hls.min.js) wherever Media Source Extensions exist,
// because only it gives the quality menu; the browser's own HLS where it has one and no MSE (older
// iPhone Safari); the progressive file (`src` as rendered) otherwise, and whenever hls.js fails
// fatally. The engine in use is written to the video's `data-engine` (the browser test reads it).
// Text from the server is only ever set as text or as attributes, never parsed as HTML.
'use strict';
(function () {
  const video = document.getElementById('player');
  if (!video) return;
  const progressive = video.getAttribute('src');
  const hlsUrl = video.dataset.hls;
  const boardUrl = video.dataset.storyboard;
  video.dataset.engine = 'progressive';

  const tools = document.createElement('div');
  tools.className = 'player-tools';
  tools.id = 'player-tools';
  video.after(tools);

  // Back to the progressive file at the same moment, playing if it was.
  function fallBack(hls) {
    const at = video.currentTime;
    const playing = !video.paused;
    hls.destroy();
    const menu = document.getElementById('quality-menu');
    if (menu) menu.remove();
    video.src = progressive;
    video.dataset.engine = 'progressive';
    video.addEventListener('loadedmetadata', () => {
      video.currentTime = at;
      if (playing) video.play().catch(() => {});
    }, { once: true });
  }

  function qualityMenu(hls) {
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

  function startHls() {
    if (!hlsUrl) return;
    if (window.Hls && Hls.isSupported()) {
      const hls = new Hls({ capLevelToPlayerSize: false });
      let recovered = false;
      hls.on(Hls.Events.MANIFEST_PARSED, () => qualityMenu(hls));
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        // A media error is worth one recovery attempt; anything else, or a second one, means
        // the progressive file.
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
          recovered = true;
          hls.recoverMediaError();
        } else {
          fallBack(hls);
        }
      });
      hls.loadSource(hlsUrl);
      hls.attachMedia(video);
      video.dataset.engine = 'hls.js';
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = hlsUrl;
      video.dataset.engine = 'native';
      video.addEventListener('error', () => {
        if (video.dataset.engine !== 'native') return;
        video.dataset.engine = 'progressive';
        video.src = progressive;
      }, { once: true });
    }
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
      if (url.origin !== location.origin) continue;
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
  function scrubber(cues) {
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

  function startBoard() {
    if (!boardUrl) return;
    const base = new URL(boardUrl, location.href);
    fetch(base, { headers: { Accept: 'text/vtt' } })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(String(r.status)))))
      .then((text) => {
        const cues = parseBoard(text, base);
        if (cues.length) scrubber(cues);
      })
      .catch(() => {}); // No previews; the player works as before.
  }

  startHls();
  startBoard();
})();
