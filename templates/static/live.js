// The watch page's live layer (issue 14): danmaku (弹幕) flying over the video in step with its
// currentTime, the number of people watching now, and new comments as they are posted, all from
// the video's event stream (`/api/videos/{vid}/live`, Server-Sent Events through web's proxy);
// and the form that sends a danmaku pinned to the moment on screen. The player itself is
// player.js; comments posted from this page, copy link and the heart are app.js.
//
// How the danmaku keep time with the video:
// - the timeline is fetched a 30 s slice at a time as playback nears it (never all at once);
// - each animation frame shows the danmaku whose moment playback has just passed, between the
//   last frame's time and this one's, so pausing stops new ones (and freezes those on screen),
//   a seek clears the screen and starts from the new time (nothing that scrolled past comes
//   back in a burst), and a seek backwards shows again what is pinned after the new time;
// - a danmaku arriving live flies at once if playback is already past its moment, else when
//   playback reaches it.
// Scrolling ones cross the picture in 7 s on lanes that never overlap; top and bottom ones
// stay 4 s. The density setting is how much of the picture they may use (a quarter, half, all);
// what finds no free lane is dropped. Text is only ever set with textContent, never as HTML, and
// a colour is used only when it is `#rrggbb`.
//
// What was removed is removed here too: a deleted comment leaves the list, and when the video is
// deleted, or made private while this viewer is not its owner, the page says so above the
// player, pauses it (its controls go: the files are going or no longer ours to fetch), disables
// the danmaku and comment forms, and closes the stream for good (the server ends it anyway; a
// reconnection would only be refused). The owner's page, told its video went private, only
// updates its badge: the owner still may watch.
'use strict';
(function () {
  const article = document.querySelector('article.watch');
  const bar = document.getElementById('danmaku-bar');
  const layer = document.getElementById('danmaku-layer');
  const screen = document.getElementById('screen');
  if (!article || !bar || !layer || !screen) return;
  const vid = article.dataset.videoId;
  const base = '/api/videos/' + encodeURIComponent(vid);

  const COLOR = /^#[0-9a-f]{6}$/i;
  const SLICE_MS = 30000;
  const SCROLL_MS = 7000;
  const FIXED_MS = 4000;
  // A step of playback longer than this between two frames was a seek or a stall: the frame
  // starts afresh rather than showing everything in between at once.
  const JUMP_MS = 1500;
  // Bottom danmaku keep clear of the native controls (their bar and seek line).
  const BOTTOM_GAP = 60;
  const AREA = { few: 0.25, some: 0.5, many: 1 };

  const saved = {
    get(key) { try { return window.localStorage.getItem(key); } catch (_) { return null; } },
    set(key, value) { try { window.localStorage.setItem(key, value); } catch (_) { /* private mode */ } },
  };

  // ---- The timeline: every danmaku known, by (at_ms, id).
  const known = new Map();
  let timeline = [];
  const slices = new Map();

  function before(a, b) { return a.at_ms < b.at_ms || (a.at_ms === b.at_ms && a.id < b.id); }

  // Adds `d` to the timeline; false when it is not a danmaku or already known.
  function remember(d) {
    if (!d || typeof d.id !== 'number' || typeof d.at_ms !== 'number' || known.has(d.id)) return false;
    known.set(d.id, d);
    let lo = 0;
    let hi = timeline.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(timeline[mid], d)) lo = mid + 1; else hi = mid;
    }
    timeline.splice(lo, 0, d);
    return true;
  }

  function forget(id) {
    if (!known.delete(id)) return;
    timeline = timeline.filter((d) => d.id !== id);
    for (const f of Array.from(flying)) if (f.id === id) land(f);
  }

  // Slice `index` of the timeline, page by page; a failed slice is asked again 10 s later.
  function load(index, after) {
    if (index < 0 || (!after && slices.has(index))) return;
    slices.set(index, 'loading');
    let url = base + '/danmaku?from_ms=' + index * SLICE_MS + '&to_ms=' + (index + 1) * SLICE_MS + '&limit=1000';
    if (after) url += '&after=' + encodeURIComponent(after);
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((page) => {
        for (const d of page.danmaku || []) remember(d);
        if (page.next) load(index, page.next); else slices.set(index, 'done');
      })
      .catch(() => { window.setTimeout(() => slices.delete(index), 10000); });
  }

  // The slice playing now, and the next one when it is 10 s away.
  function ensure(ms) {
    const index = Math.floor(ms / SLICE_MS);
    load(index);
    if (ms % SLICE_MS > SLICE_MS - 10000) load(index + 1);
  }

  // ---- Drawing.
  let video = null;
  let hidden = saved.get('danmaku.hidden') === '1';
  let density = AREA[saved.get('danmaku.density')] ? saved.get('danmaku.density') : 'some';
  // Per kind, when each lane is free again, in video time (ms).
  let lanes = { scroll: [], top: [], bottom: [] };
  // On screen now: { id, el, anim }.
  const flying = new Set();
  // Everything before this video time (ms) has been shown in this pass; null: start afresh.
  let last = null;
  let frame = 0;

  function fontSize() { return Math.round(Math.min(28, Math.max(14, layer.clientHeight / 14))); }

  function land(f) {
    flying.delete(f);
    f.anim.cancel();
    f.el.remove();
  }

  function clear() {
    for (const f of Array.from(flying)) land(f);
    lanes = { scroll: [], top: [], bottom: [] };
  }

  // Puts `d` on screen now, on the first free lane of its kind; dropped when none is free.
  function fly(d, mine) {
    if (hidden || !video || !layer.clientWidth) return;
    const kind = d.mode === 'top' || d.mode === 'bottom' ? d.mode : 'scroll';
    const el = document.createElement('span');
    el.className = 'dm dm-' + kind + (mine ? ' dm-mine' : '');
    el.textContent = d.text;
    el.dataset.id = String(d.id);
    if (COLOR.test(d.color)) el.style.color = d.color;
    const size = fontSize();
    const line = Math.round(size * 1.3);
    el.style.fontSize = size + 'px';
    el.style.visibility = 'hidden';
    layer.append(el);
    const width = layer.clientWidth;
    const w = el.offsetWidth;
    const usable = kind === 'bottom' ? layer.clientHeight - BOTTOM_GAP : layer.clientHeight;
    const rows = Math.max(1, Math.floor((usable * AREA[density]) / line));
    const now = video.currentTime * 1000;
    const free = lanes[kind];
    let lane = -1;
    for (let i = 0; i < rows; i++) {
      if (!(free[i] > now)) { lane = i; break; }
    }
    if (lane < 0) { el.remove(); return; }
    let anim;
    if (kind === 'scroll') {
      const speed = width / SCROLL_MS;
      // The lane is free once this one's tail (and a gap) is clear of the right edge: at one
      // speed for all, nothing behind ever catches up.
      free[lane] = now + (w + size) / speed;
      el.style.top = lane * line + 'px';
      anim = el.animate(
        [{ transform: 'translateX(' + width + 'px)' }, { transform: 'translateX(' + -w + 'px)' }],
        { duration: (width + w) / speed, easing: 'linear' });
    } else {
      free[lane] = now + FIXED_MS;
      el.style.top = (kind === 'top' ? lane * line : usable - (lane + 1) * line) + 'px';
      el.style.left = Math.max(0, (width - w) / 2) + 'px';
      anim = el.animate([{ opacity: 1 }, { opacity: 1 }], { duration: FIXED_MS });
    }
    el.style.visibility = '';
    anim.playbackRate = video.playbackRate || 1;
    if (video.paused) anim.pause();
    const f = { id: d.id, el, anim };
    flying.add(f);
    anim.onfinish = () => land(f);
  }

  // Shows what is pinned in (from, to], in timeline order.
  function show(from, to) {
    let lo = 0;
    let hi = timeline.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (timeline[mid].at_ms <= from) lo = mid + 1; else hi = mid;
    }
    for (let i = lo; i < timeline.length && timeline[i].at_ms <= to; i++) fly(timeline[i], false);
  }

  function tick() {
    frame = 0;
    if (!video || video.paused || video.ended) return;
    if (!video.seeking) {
      const t = video.currentTime * 1000;
      if (last === null || t < last || t - last > JUMP_MS) {
        // Afresh: what is pinned in the last moment before here still shows.
        last = Math.max(-1, t - 100);
      }
      if (t > last) {
        if (!hidden) show(last, t);
        last = t;
      }
      ensure(t);
    }
    frame = window.requestAnimationFrame(tick);
  }

  function start() { if (!frame) frame = window.requestAnimationFrame(tick); }

  function follow(v) {
    if (video === v) return;
    video = v;
    last = null;
    ensure(0);
    v.addEventListener('play', () => { for (const f of flying) f.anim.play(); start(); });
    v.addEventListener('playing', start);
    v.addEventListener('pause', () => { for (const f of flying) f.anim.pause(); });
    v.addEventListener('seeking', () => { clear(); last = null; });
    v.addEventListener('ratechange', () => { for (const f of flying) f.anim.playbackRate = v.playbackRate || 1; });
    if (!v.paused) start();
    bar.hidden = false;
  }

  // ---- Settings: hide, density, full screen (the screen with its layer, not the bare video).
  const toggle = document.getElementById('danmaku-toggle');
  function setHidden(value) {
    hidden = value;
    saved.set('danmaku.hidden', value ? '1' : '0');
    layer.hidden = value;
    if (value) clear();
    toggle.setAttribute('aria-pressed', String(!value));
    toggle.textContent = value ? 'Danmaku off' : 'Danmaku on';
  }
  toggle.addEventListener('click', () => setHidden(!hidden));
  setHidden(hidden);

  const densityMenu = document.getElementById('danmaku-density');
  densityMenu.value = density;
  densityMenu.addEventListener('change', () => {
    if (!AREA[densityMenu.value]) return;
    density = densityMenu.value;
    saved.set('danmaku.density', density);
  });

  const full = document.getElementById('danmaku-fullscreen');
  if (!screen.requestFullscreen) {
    full.hidden = true;
  } else {
    full.addEventListener('click', () => {
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else screen.requestFullscreen().catch(() => {});
    });
    document.addEventListener('fullscreenchange', () => {
      full.textContent = document.fullscreenElement === screen ? 'Exit full screen' : 'Full screen';
      clear();
    });
  }

  // ---- Sending one at the current moment.
  const form = document.getElementById('danmaku-form');
  const status = document.getElementById('danmaku-status');
  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle('error', Boolean(isError));
  }
  if (form) {
    const input = document.getElementById('danmaku-text');
    const mode = document.getElementById('danmaku-mode');
    const send = document.getElementById('danmaku-send');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!video) { say('The video is not ready to play yet.', true); return; }
      if (!text) { say('Type something to send.', true); input.focus(); return; }
      const picked = form.querySelector('input[name="danmaku-color"]:checked');
      const body = {
        text,
        at_ms: Math.max(0, Math.round(video.currentTime * 1000)),
        mode: mode.value,
        color: picked ? picked.value : '#ffffff',
      };
      send.disabled = true;
      fetch(base + '/danmaku', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json().catch(() => ({})).then((answer) => ({ r, answer })))
        .then(({ r, answer }) => {
          if (r.status === 401) { say('Your session has ended; sign in again to send danmaku.', true); return; }
          if (!r.ok) { say(answer.error || 'It could not be sent (' + r.status + '). Try again.', true); return; }
          remember(answer);
          fly(answer, true);
          input.value = '';
          say('');
        })
        .catch(() => say('It could not be sent. Check your connection and try again.', true))
        .then(() => { send.disabled = false; });
    });
  }

  // ---- The live stream.
  const viewers = document.getElementById('viewers');
  const data = (e) => { try { return JSON.parse(e.data); } catch (_) { return null; } };

  // A comment posted elsewhere, at the top of the list (the list shows the newest first), in
  // the words the server uses until the page is next loaded.
  function addComment(c) {
    const list = document.getElementById('comment-list');
    if (!list || !c || typeof c.id !== 'string') return;
    for (const li of list.children) if (li.dataset.commentId === c.id) return;
    const li = document.createElement('li');
    li.className = 'comment';
    li.dataset.commentId = c.id;
    const sub = document.createElement('p');
    sub.className = 'sub';
    const who = document.createElement('a');
    who.href = '/u/' + encodeURIComponent(c.author);
    who.textContent = c.author;
    const when = document.createElement('time');
    when.dateTime = c.time;
    when.textContent = 'just now';
    sub.append(who, ' · ', when);
    const content = document.createElement('p');
    content.className = 'content';
    // Times like 0:07 become links that seek, as the server renders them.
    const times = /(^|[^0-9A-Za-z:])((?:\d+:)?\d{1,2}:[0-5]\d)(?![0-9A-Za-z:])/g;
    let at = 0;
    for (let m = times.exec(c.content); m; m = times.exec(c.content)) {
      const start = m.index + m[1].length;
      content.append(c.content.slice(at, start));
      const secs = m[2].split(':').reduce((acc, n) => acc * 60 + Number(n), 0);
      const link = document.createElement('a');
      link.className = 'seek';
      link.href = '#t=' + secs;
      link.dataset.t = String(secs);
      link.textContent = m[2];
      content.append(link);
      at = start + m[2].length;
    }
    content.append(c.content.slice(at));
    li.append(sub, content);
    list.prepend(li);
    const none = document.getElementById('no-comments');
    if (none) none.hidden = true;
  }

  // A comment deleted elsewhere leaves the list; the list's "no comments" line comes back when
  // it was the last.
  function removeComment(d) {
    const list = document.getElementById('comment-list');
    if (!list || !d || typeof d.id !== 'string') return;
    for (const li of Array.from(list.children)) if (li.dataset.commentId === d.id) li.remove();
    const none = document.getElementById('no-comments');
    if (none && !list.children.length) none.hidden = false;
  }

  // The owner's page (the server marks it): a private video is still theirs.
  const owner = 'owner' in article.dataset;
  const GONE = {
    deleted: 'This video was deleted by its owner.',
    private: 'This video is now private.',
  };

  // The video is no longer this viewer's to watch: say so above the player, stop it, and take
  // away what could only fail now.
  function lose(reason) {
    let notice = document.getElementById('video-gone');
    if (!notice) {
      notice = document.createElement('p');
      notice.id = 'video-gone';
      notice.className = 'video-gone';
      notice.setAttribute('role', 'alert');
      const stage = document.getElementById('stage');
      if (stage) stage.before(notice); else article.prepend(notice);
    }
    notice.textContent = GONE[reason] || GONE.deleted;
    article.dataset.gone = reason;
    const v = document.getElementById('player');
    if (v) {
      v.pause();
      v.controls = false;
    }
    clear();
    viewers.hidden = true;
    for (const id of ['danmaku-form', 'comment-form']) {
      const f = document.getElementById(id);
      if (!f) continue;
      for (const el of f.elements) el.disabled = true;
      f.setAttribute('aria-disabled', 'true');
    }
  }

  function connect() {
    if (!('EventSource' in window)) return;
    // Reconnects by itself (after the server's `retry`), sending the last id it had.
    const events = new EventSource(base + '/live');
    events.addEventListener('danmaku', (e) => {
      const d = data(e);
      // Playback already past its moment: now; otherwise the timeline shows it when it gets
      // there.
      if (remember(d) && video && !video.paused && last !== null && d.at_ms <= last) fly(d, false);
    });
    events.addEventListener('danmaku_delete', (e) => { const d = data(e); if (d) forget(d.id); });
    events.addEventListener('viewers', (e) => {
      const d = data(e);
      if (!d || typeof d.viewers !== 'number') return;
      viewers.textContent = d.viewers + ' watching now';
      viewers.hidden = false;
    });
    events.addEventListener('comment', (e) => addComment(data(e)));
    events.addEventListener('comment_delete', (e) => removeComment(data(e)));
    events.addEventListener('video_gone', (e) => {
      const d = data(e);
      const reason = d && d.reason === 'private' ? 'private' : 'deleted';
      if (reason === 'private' && owner) {
        const badge = document.getElementById('visibility');
        if (badge) {
          badge.className = 'badge badge-private';
          badge.textContent = 'Private';
        }
        return;
      }
      // Before anything else: an EventSource whose stream ends reconnects by itself.
      events.close();
      lose(reason);
    });
  }

  // The player may come later (the owner's page shows it once processing is done).
  const found = document.getElementById('player');
  if (found) {
    follow(found);
  } else {
    new MutationObserver((_m, observer) => {
      const v = document.getElementById('player');
      if (v) { observer.disconnect(); follow(v); }
    }).observe(screen, { childList: true, subtree: true });
  }
  connect();
})();
