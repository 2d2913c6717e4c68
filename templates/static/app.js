// Clipshare page scripts: confirmation for destructive forms, "Copy link" on the watch page,
// comments posted and deleted without a reload (the forms work without JavaScript too), times
// in comments that seek the player, and in the studio the resumable tus upload (checked for a
// video type before a byte is sent, with Cancel, size, speed and time left) and live updates of
// videos that are still processing (their cards, percentage included, re-rendered every 2 s
// while the tab is visible; the watch page follows a video itself, in player.js), and the heart
// (favourite) and Follow buttons without a reload (their forms post to the site without
// JavaScript). The session lives in an HttpOnly cookie: nothing here reads it; same-origin
// requests carry it by themselves. With a media origin (`data-media` on <body>, the site's
// MEDIA_URL) the upload goes there instead, without cookies: web hands the page a short-lived
// upload token for the one video (`/api/videos/{vid}/upload-token`), sent as
// `Authorization: Bearer`, and renewed before it expires or when the media origin refuses it.
(function () {
  'use strict';

  // One listener for every form, so comments inserted later are handled the same way.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) { e.preventDefault(); return; }
    if (form.id === 'comment-form' || form.classList.contains('comment-delete')) {
      e.preventDefault();
      sendComments(form);
    }
    if (form.classList.contains('favorite-form') || form.classList.contains('follow-form')) {
      e.preventDefault();
      flip(form);
    }
  });

  // The heart or Follow button: the same change through the api (`PUT` to add, `DELETE` to
  // take away), then the button, its hidden field and the count say what is true now.
  function flip(form) {
    var button = form.querySelector('button[type=submit]');
    var on = button.getAttribute('aria-pressed') === 'true';
    var favorite = form.classList.contains('favorite-form');
    var article = form.closest('article.watch');
    var me = encodeURIComponent(form.dataset.me);
    var path = favorite
      ? '/api/user/' + me + '/favorites/' + encodeURIComponent(article.dataset.videoId)
      : '/api/user/' + me + '/following/' + encodeURIComponent(form.dataset.name);
    button.disabled = true;
    fetch(path, { method: on ? 'DELETE' : 'PUT', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = '/login?next=' + encodeURIComponent(window.location.pathname); return null; }
        if (!r.ok) throw new Error('the site answered ' + r.status);
        return r.json();
      })
      .then(function (state) {
        if (!state) return;
        var now = favorite ? state.favorited : state.following;
        button.setAttribute('aria-pressed', String(now));
        form.querySelector('input[name=on]').value = now ? '0' : '1';
        if (favorite) {
          document.getElementById('favorite-count').textContent = String(state.favorite_count);
          return;
        }
        button.classList.toggle('secondary', now);
        button.querySelector('.follow-label').textContent = now ? 'Following' : 'Follow';
        var count = document.getElementById('follower-count');
        if (count) count.textContent = state.follower_count + (state.follower_count === 1 ? ' follower' : ' followers');
      })
      .catch(function () { form.submit(); })
      .then(function () { button.disabled = false; });
  }

  // Posts a comment form (or a Delete) with fetch and shows the comment list as the server
  // renders it, so the video keeps playing. The server answers as it would without
  // JavaScript: a redirect to the watch page, or the page with the refusal next to the field.
  function sendComments(form) {
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, {
      method: 'POST', credentials: 'same-origin', body: body,
      headers: { Accept: 'text/html' }
    }).then(function (r) {
      if (r.redirected && /\/login/.test(new URL(r.url).pathname)) { window.location.href = r.url; return null; }
      return r.text().then(function (html) { return { ok: r.ok, html: html }; });
    }).then(function (answer) {
      if (!answer) return;
      var doc = new DOMParser().parseFromString(answer.html, 'text/html');
      var fresh = doc.getElementById('comment-list');
      var list = document.getElementById('comment-list');
      var error = document.getElementById('comment-error');
      var field = document.getElementById('comment-content');
      if (!fresh || !list) {
        // Not the watch page (an error page): say what it says.
        var said = doc.querySelector('main h1');
        if (error) { error.textContent = (said ? said.textContent : 'That did not work') + '. Try again.'; error.hidden = false; }
        return;
      }
      list.replaceChildren.apply(list, Array.prototype.map.call(fresh.children, function (li) {
        return document.importNode(li, true);
      }));
      var empty = document.getElementById('no-comments');
      if (empty) empty.hidden = list.children.length > 0;
      var freshError = doc.getElementById('comment-error');
      if (error) {
        error.textContent = freshError ? freshError.textContent : '';
        error.hidden = !error.textContent;
      }
      if (field) {
        if (answer.ok && form.id === 'comment-form') field.value = '';
        if (error && !error.hidden) field.setAttribute('aria-invalid', 'true'); else field.removeAttribute('aria-invalid');
      }
    }).catch(function () {
      var error = document.getElementById('comment-error');
      if (error) { error.textContent = 'The comment could not be sent. Check your connection and try again.'; error.hidden = false; }
    }).then(function () {
      if (button) button.disabled = false;
    });
  }

  // A time written in a comment ("0:07") seeks the player there and plays.
  document.addEventListener('click', function (e) {
    var link = e.target.closest && e.target.closest('a.seek');
    var player = document.getElementById('player');
    if (!link || !player) return;
    e.preventDefault();
    player.currentTime = Number(link.dataset.t);
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () { /* the person can press play */ });
    player.scrollIntoView({ block: 'nearest' });
  });

  // "Copy link": the watch page's public address (PUBLIC_URL), to paste anywhere. The async
  // clipboard needs a secure context; elsewhere a selected text field and execCommand do it,
  // and failing both the link is shown to copy by hand.
  var copy = document.getElementById('copy-link');
  if (copy) {
    var copyStatus = document.getElementById('copy-status');
    var copied = function () { copyStatus.textContent = 'Link copied: ' + copy.dataset.url; };
    var byHand = function () {
      var field = document.createElement('textarea');
      field.value = copy.dataset.url;
      field.setAttribute('readonly', '');
      field.style.position = 'fixed';
      field.style.opacity = '0';
      document.body.appendChild(field);
      field.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
      field.remove();
      if (ok) copied(); else copyStatus.textContent = 'Copy this link: ' + copy.dataset.url;
    };
    copy.addEventListener('click', function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(copy.dataset.url).then(copied, byHand);
      } else {
        byHand();
      }
    });
  }

  var box = document.getElementById('upload');
  if (!box) return;
  var me = box.dataset.user;
  var MEDIA = document.body.dataset.media || '';
  // Where tus uploads start: the media origin's, or this site's (through web's proxy). The
  // same for the upload and for the search of an earlier one, whose fingerprint includes it.
  var ENDPOINT = MEDIA ? MEDIA + '/files/' : '/files/';
  var enc = encodeURIComponent;
  var form = document.getElementById('upload-form');
  var nameInput = document.getElementById('upload-name');
  var descriptionInput = document.getElementById('upload-description');
  var fileInput = document.getElementById('upload-file');
  var fileError = document.getElementById('upload-file-error');
  var button = document.getElementById('upload-button');
  var cancelButton = document.getElementById('upload-cancel');
  var progress = document.getElementById('upload-progress');
  var bar = document.getElementById('upload-bar');
  var percent = document.getElementById('upload-percent');
  var detail = document.getElementById('upload-detail');
  var statusLine = document.getElementById('upload-status');
  // Videos whose state this page is waiting to see change.
  var watching = new Set();
  var pollTimer = null;
  // The upload under way: { upload, vid, started, sentAtStart } or null.
  var current = null;
  // A stuck card's Resume or Retry waiting for its file: { vid, name, fresh } or null.
  var target = null;

  // The kinds of file the streamserver accepts, recognised by the same magic bytes in the
  // first KiB (streamserver/src/ingest.rs, KINDS); whether it really holds a video is ffprobe's
  // to say after the upload.
  var ACCEPTED = 'MP4, MOV, WebM, Matroska, AVI, MPEG-TS, M2TS, FLV, 3GP, 3G2, Ogg, WMV or MPEG-PS';
  var SNIFF_LEN = 1024;
  var REFUSED = 'This file is not a video this site accepts. Choose a video file (' + ACCEPTED + ').';
  function startsWith(h, bytes, at) {
    at = at || 0;
    if (h.length < at + bytes.length) return false;
    for (var i = 0; i < bytes.length; i++) if (h[at + i] !== bytes[i]) return false;
    return true;
  }
  function ascii(s) { return s.split('').map(function (c) { return c.charCodeAt(0); }); }
  function packetsInSync(h, offset, size) {
    var n = 0;
    for (var i = offset; i < h.length; i += size) { if (h[i] !== 0x47) return false; n++; }
    return n >= 3;
  }
  function isVideo(h) {
    var brand = startsWith(h, ascii('ftyp'), 4) && h.length >= 12 ? String.fromCharCode(h[8], h[9], h[10], h[11]) : null;
    if (brand !== null) return true; // MP4, MOV, 3GP, 3G2: every ISO brand is one of them.
    if (startsWith(h, [0x1A, 0x45, 0xDF, 0xA3])) return true; // WebM or Matroska (EBML)
    if (startsWith(h, ascii('RIFF')) && startsWith(h, ascii('AVI '), 8)) return true;
    if (packetsInSync(h, 0, 188) || packetsInSync(h, 4, 192)) return true; // MPEG-TS, M2TS
    if (startsWith(h, [0x46, 0x4C, 0x56, 0x01])) return true; // FLV
    if (startsWith(h, ascii('OggS'))) return true;
    if (startsWith(h, [0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C])) return true; // WMV/ASF
    if (startsWith(h, [0x00, 0x00, 0x01, 0xBA])) return true; // MPEG-PS
    return false;
  }
  function checkType(file) {
    return file.slice(0, SNIFF_LEN).arrayBuffer().then(function (buf) { return isVideo(new Uint8Array(buf)); });
  }

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle('error', !!isError);
  }
  function fileProblem(text) {
    fileError.textContent = text;
    fileError.hidden = !text;
    if (text) fileInput.setAttribute('aria-invalid', 'true'); else fileInput.removeAttribute('aria-invalid');
  }

  function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch('/api' + path, init).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (data) {
        if (!r.ok) {
          if (r.status === 401) { window.location.href = '/login?next=%2Fstudio'; }
          throw new Error((data && data.error) || 'the request failed (' + r.status + ')');
        }
        return data;
      });
    });
  }

  // Re-renders the list from the server's own template, so there is one way a video card looks.
  function refreshList() {
    return fetch('/studio', { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var fresh = doc.getElementById('videos');
        if (!fresh) return;
        var list = document.getElementById('videos');
        list.replaceChildren.apply(list, Array.prototype.map.call(fresh.children, function (li) {
          return document.importNode(li, true);
        }));
        markUploading();
        var empty = document.getElementById('no-videos');
        if (empty) empty.hidden = fresh.children.length > 0;
      });
  }

  // The card of the video being uploaded says so, and offers no Resume of its own.
  function markUploading() {
    if (!current) return;
    var li = document.querySelector('li[data-video-id="' + current.vid + '"]');
    if (!li) return;
    var state = li.querySelector('.state');
    if (state) state.textContent = 'Uploading…';
    var stuck = li.querySelector('.stuck');
    if (stuck) stuck.hidden = true;
  }

  function poll() {
    if (pollTimer) return;
    pollTimer = window.setInterval(function () {
      if (watching.size === 0) { window.clearInterval(pollTimer); pollTimer = null; return; }
      // Nobody is looking: the next tick after the tab comes back shows where things are.
      if (document.hidden) return;
      watching.forEach(function (vid) {
        api('GET', '/user/' + enc(me) + '/videos/' + enc(vid)).then(function (v) {
          var li = document.querySelector('li[data-video-id="' + vid + '"]');
          var shown = li ? li.dataset.state : '';
          if (v.state === 'ready' || v.state === 'failed') watching.delete(vid);
          if (v.state !== shown || v.state === 'processing') {
            refreshList();
            if (v.state !== shown && v.state === 'ready') say('"' + v.name + '" is ready to watch.');
            if (v.state !== shown && v.state === 'failed') say('"' + v.name + '" could not be processed: ' + (v.failure_reason || 'unknown reason'), true);
          }
        }).catch(function () { watching.delete(vid); });
      });
    }, 2000);
  }

  document.querySelectorAll('li[data-state="uploaded"], li[data-state="processing"]').forEach(function (li) {
    watching.add(li.dataset.videoId);
  });
  if (watching.size > 0) poll();

  // "12.5 MB of 80 MB · 2.1 MB/s · about 30 s left"
  function megabytes(n) {
    var mb = n / 1e6;
    return (mb < 10 ? mb.toFixed(1) : Math.round(mb)) + ' MB';
  }
  function duration(s) {
    if (s < 60) return Math.max(1, Math.round(s)) + ' s';
    if (s < 3600) return Math.round(s / 60) + ' min';
    return (s / 3600).toFixed(1) + ' h';
  }
  function showProgress(sent, total) {
    var p = total > 0 ? Math.floor((sent / total) * 100) : 0;
    bar.value = p;
    percent.textContent = p + '%';
    var text = megabytes(sent) + ' of ' + megabytes(total);
    // Speed counts from the first report, so a resumed upload's earlier bytes do not inflate it.
    if (current && current.sentAtStart === null) { current.sentAtStart = sent; current.started = Date.now(); }
    if (current && sent > current.sentAtStart) {
      var secs = (Date.now() - current.started) / 1000;
      var speed = (sent - current.sentAtStart) / Math.max(secs, 0.001);
      text += ' · ' + megabytes(speed) + '/s';
      if (sent < total && speed > 0) text += ' · about ' + duration((total - sent) / speed) + ' left';
    }
    detail.textContent = text;
  }

  // Leaving mid-upload stops it: the browser asks first.
  window.addEventListener('beforeunload', function (e) {
    if (!current) return;
    e.preventDefault();
    e.returnValue = '';
  });

  function finish() {
    current = null;
    button.disabled = false;
    progress.hidden = true;
    bar.value = 0;
    percent.textContent = '0%';
  }

  cancelButton.addEventListener('click', function () {
    if (!current) return;
    var gone = current;
    current = null;
    // abort(true) also ends the upload on the server (tus termination) and forgets it here.
    gone.upload.abort(true).catch(function () { /* the video's deletion removes it anyway */ }).then(function () {
      return api('DELETE', '/user/' + enc(me) + '/videos/' + enc(gone.vid));
    }).then(function () {
      say('Upload cancelled; the video was removed.');
    }, function (err) {
      say('The upload stopped, but the video could not be removed: ' + err.message + ' Delete it from the list below.', true);
    }).then(function () {
      finish();
      refreshList();
    });
  });

  // An upload token for `vid` from web's proxy of the api: { token, endpoint, renewAt } where
  // `renewAt` (the browser's clock) comes at three quarters of its life by the server's clock.
  function uploadToken(vid) {
    return fetch('/api/videos/' + enc(vid) + '/upload-token', {
      method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' }
    }).then(function (r) {
      var date = Date.parse(r.headers.get('Date') || '');
      var now = (Number.isFinite(date) ? date : Date.now()) / 1000;
      return r.json().catch(function () { return null; }).then(function (t) {
        if (!r.ok || !t || !t.token) {
          if (r.status === 401) { window.location.href = '/login?next=%2Fstudio'; }
          throw new Error((t && t.error) || 'the upload could not be authorised (' + r.status + ')');
        }
        var url = t.resumable_upload_url;
        var onMedia = typeof url === 'string' && url.indexOf(MEDIA + '/') === 0 && !/[\u0000-\u0020\\]/.test(url);
        var life = Math.max(Number(t.expires) - now, 0);
        return { token: t.token, endpoint: onMedia ? url : ENDPOINT, renewAt: Date.now() + life * 750 };
      });
    });
  }

  // The tus options that carry an upload token for `vid` (`grant`, from `uploadToken`): every
  // request takes the current one, renewed first when it is old or was refused (403). A refusal
  // renews once; a request the media origin then takes lets the next refusal renew again.
  function tokenOptions(vid, grant) {
    var stale = false;
    var renewed = false;
    return {
      endpoint: grant.endpoint,
      onBeforeRequest: function (req) {
        var ready = Promise.resolve();
        if (stale || Date.now() >= grant.renewAt) {
          stale = false;
          ready = uploadToken(vid).then(function (fresh) { grant.token = fresh.token; grant.renewAt = fresh.renewAt; });
        }
        return ready.then(function () { req.setHeader('Authorization', 'Bearer ' + grant.token); });
      },
      refused: function (status) {
        if (status !== 403 || renewed) return false;
        renewed = true;
        stale = true;
        return true;
      },
      accepted: function () { renewed = false; }
    };
  }

  // `vid` and `name`: the video to upload into (a stuck card's, or a new one's).
  function startUpload(file, vid, fresh) {
    if (!MEDIA) return beginUpload(file, vid, fresh, { endpoint: ENDPOINT, refused: function () { return false; }, accepted: function () {} });
    return uploadToken(vid).then(function (grant) {
      return beginUpload(file, vid, fresh, tokenOptions(vid, grant));
    });
  }

  function beginUpload(file, vid, fresh, via) {
    var upload = new tus.Upload(file, {
      endpoint: via.endpoint,
      onBeforeRequest: via.onBeforeRequest,
      onAfterResponse: function (_req, res) { if (res.getStatus() < 400) via.accepted(); },
      // Chunks of 2 MiB: every PATCH that completes is durable on the server, so a dropped
      // connection loses at most one chunk, and the bar moves in steps even on a fast network.
      chunkSize: 2 * 1024 * 1024,
      // Retries after a dropped connection resume from the server's offset (tus 1.0.0 core);
      // a refusal (4xx) is not retried.
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      // An upload token the media origin refused (expired) is renewed once and the request
      // tried again.
      onShouldRetry: function (err) {
        var status = err && err.originalResponse ? err.originalResponse.getStatus() : 0;
        if (via.refused(status)) return true;
        return !(status >= 400 && status < 500 && status !== 409 && status !== 423);
      },
      metadata: { filename: file.name, filetype: file.type || 'application/octet-stream', video_id: vid },
      // The fingerprint (file name, size, type, date) lets a reload find and resume this upload.
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: showProgress,
      onError: function (err) {
        if (!current || current.upload !== upload) return;
        var response = err && err.originalResponse;
        var status = response ? response.getStatus() : 0;
        var msg = (response && response.getBody()) || '';
        try { msg = JSON.parse(msg).error || msg; } catch (_) { /* not JSON */ }
        if (status === 415) {
          // Refused for what it is: resuming would not help.
          upload.abort(true).catch(function () {});
          fileProblem(msg || REFUSED);
          say('Nothing was uploaded.', true);
        } else if (status >= 400 && status < 500) {
          say((msg || 'The upload was refused.') + (/[.!?]$/.test(msg) ? '' : '.'), true);
        } else {
          say('The upload stopped: the connection to the site was lost. Choose the same file again (or use Resume on its card) to go on from where it stopped.', true);
        }
        finish();
        refreshList();
      },
      onSuccess: function () {
        showProgress(file.size, file.size);
        say('Uploaded. Processing the video…');
        // The full bar stays until the next upload starts.
        current = null;
        button.disabled = false;
        form.reset();
        watching.add(vid);
        refreshList().then(poll);
      }
    });
    current = { upload: upload, vid: vid, started: Date.now(), sentAtStart: null };
    button.disabled = true;
    progress.hidden = false;
    detail.textContent = '';
    bar.value = 0;
    percent.textContent = '0%';
    var resume = fresh ? Promise.resolve(null) : upload.findPreviousUploads().then(function (previous) {
      return previous.filter(function (p) { return p.metadata && p.metadata.video_id === vid; })[0] || null;
    });
    return resume.then(function (prev) {
      if (prev) {
        upload.resumeFromPreviousUpload(prev);
        say('Resuming your earlier upload of this file…');
      } else {
        say('Uploading…');
      }
      markUploading();
      upload.start();
    });
  }

  // A pending video this upload can go on into: the stored upload of the same file whose video
  // still waits for it.
  function pendingFor(file) {
    var probe = new tus.Upload(file, { endpoint: ENDPOINT });
    return probe.findPreviousUploads().then(function (previous) {
      var tries = previous
        .filter(function (p) { return p.metadata && p.metadata.video_id; })
        .map(function (p) {
          return api('GET', '/user/' + enc(me) + '/videos/' + enc(p.metadata.video_id))
            .then(function (v) { return v.state === 'pending' ? v : null; })
            .catch(function () { return null; });
        });
      return Promise.all(tries);
    }).then(function (found) { return found.filter(Boolean)[0] || null; });
  }

  function ready() {
    if (typeof tus === 'undefined' || !tus.isSupported) {
      say('This browser cannot upload files here; try a current browser.', true);
      return false;
    }
    return !current;
  }

  fileInput.addEventListener('change', function () {
    fileProblem('');
    var file = fileInput.files[0];
    if (!file) return;
    checkType(file).then(function (ok) {
      if (!ok) { fileProblem(REFUSED); target = null; return; }
      if (target && ready()) {
        // A stuck card's Resume or Retry: this file goes into that video.
        var t = target;
        target = null;
        startUpload(file, t.vid, t.fresh).catch(function (err) { say('Could not start the upload: ' + err.message, true); finish(); });
      }
    });
  });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var file = fileInput.files[0];
    var name = nameInput.value.trim();
    var description = descriptionInput.value;
    var checked = form.querySelector('input[name=visibility]:checked');
    var visibility = checked ? checked.value : 'public';
    if (!file || !name) { say('Choose a file and give it a title.', true); return; }
    if (!ready()) return;
    checkType(file).then(function (ok) {
      if (!ok) { fileProblem(REFUSED); return null; }
      fileProblem('');
      return pendingFor(file).then(function (pending) {
        if (pending) {
          // The same file again: go on into its video, with the title just typed (and the
          // description, if one was typed). Who can watch it stays as chosen at the start: a
          // form reset by a reload must never make a private video public.
          var edit = { name: name };
          if (description.trim()) edit.description = description;
          return api('PATCH', '/user/' + enc(me) + '/videos/' + enc(pending.id), edit)
            .then(function () { return startUpload(file, pending.id, false); });
        }
        var created = { name: name, description: description, visibility: visibility };
        return api('POST', '/user/' + enc(me) + '/videos', created).then(function (v) {
          return startUpload(file, v.id, true).then(refreshList);
        });
      });
    }).catch(function (err) {
      say('Could not start the upload: ' + err.message, true);
      finish();
    });
  });

  // Resume, Retry and Delete on a stuck card ("Waiting for upload").
  document.getElementById('videos').addEventListener('click', function (e) {
    var b = e.target.closest('button');
    if (!b || !b.dataset.vid) return;
    var vid = b.dataset.vid;
    if (b.classList.contains('delete-pending')) {
      if (!window.confirm('Delete this video? Its upload has not finished.')) return;
      api('DELETE', '/user/' + enc(me) + '/videos/' + enc(vid)).then(function () {
        say('The video was deleted.');
        return refreshList();
      }, function (err) { say('Could not delete the video: ' + err.message, true); });
      return;
    }
    if (!ready()) return;
    // Resume goes on from what the server has; Retry sends the file again from its start.
    target = { vid: vid, fresh: b.classList.contains('retry') };
    say(target.fresh ? 'Choose the file to upload again.' : 'Choose the same file again to resume its upload.');
    fileInput.value = '';
    fileInput.click();
  });
})();
