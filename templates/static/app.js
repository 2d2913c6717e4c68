// Clipshare page scripts: confirmation for destructive forms, "Copy link" on the watch page,
// and in the studio the resumable tus upload with a progress bar and live updates of videos that
// are still processing. The session lives in an HttpOnly cookie: nothing here reads it;
// same-origin requests carry it by themselves.
(function () {
  'use strict';

  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
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
  var enc = encodeURIComponent;
  var form = document.getElementById('upload-form');
  var nameInput = document.getElementById('upload-name');
  var descriptionInput = document.getElementById('upload-description');
  var fileInput = document.getElementById('upload-file');
  var button = document.getElementById('upload-button');
  var progress = document.getElementById('upload-progress');
  var bar = document.getElementById('upload-bar');
  var percent = document.getElementById('upload-percent');
  var statusLine = document.getElementById('upload-status');
  // Videos whose state this page is waiting to see change.
  var watching = new Set();
  var pollTimer = null;

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle('error', !!isError);
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
        document.getElementById('videos').innerHTML = fresh.innerHTML;
        var empty = document.getElementById('no-videos');
        if (empty && fresh.children.length > 0) empty.remove();
      });
  }

  function poll() {
    if (pollTimer) return;
    pollTimer = window.setInterval(function () {
      if (watching.size === 0) { window.clearInterval(pollTimer); pollTimer = null; return; }
      watching.forEach(function (vid) {
        api('GET', '/user/' + enc(me) + '/videos/' + enc(vid)).then(function (v) {
          var li = document.querySelector('li[data-video-id="' + vid + '"]');
          var shown = li ? li.dataset.state : '';
          if (v.state === 'ready' || v.state === 'failed') watching.delete(vid);
          if (v.state !== shown) {
            refreshList();
            // The status line under the form follows the upload it reported on.
            if (v.state === 'ready') say('"' + v.name + '" is ready to watch.');
            if (v.state === 'failed') say('"' + v.name + '" could not be processed: ' + (v.failure_reason || 'unknown reason'), true);
          }
        }).catch(function () { watching.delete(vid); });
      });
    }, 2000);
  }

  document.querySelectorAll('li[data-state="uploaded"]').forEach(function (li) {
    watching.add(li.dataset.videoId);
  });
  if (watching.size > 0) poll();

  function showProgress(sent, total) {
    var p = total > 0 ? Math.floor((sent / total) * 100) : 0;
    bar.value = p;
    percent.textContent = p + '%';
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var file = fileInput.files[0];
    var name = nameInput.value.trim();
    var description = descriptionInput.value;
    var checked = form.querySelector('input[name=visibility]:checked');
    var visibility = checked ? checked.value : 'public';
    if (!file || !name) { say('Choose a file and give it a title.', true); return; }
    if (typeof tus === 'undefined' || !tus.isSupported) {
      say('This browser cannot upload files here; try a current browser.', true);
      return;
    }
    button.disabled = true;
    progress.hidden = false;
    showProgress(0, 1);
    var vid = null;
    var upload = new tus.Upload(file, {
      endpoint: '/files/',
      // Chunks of 2 MiB: every PATCH that completes is durable on the server, so a dropped
      // connection loses at most one chunk, and the bar moves in steps even on a fast network.
      chunkSize: 2 * 1024 * 1024,
      // Retries after a dropped connection resume from the server's offset (tus 1.0.0 core).
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      metadata: { filename: file.name, filetype: file.type || 'application/octet-stream' },
      // The fingerprint (file name, size, type, date) lets a reload find and resume this upload.
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: showProgress,
      onError: function (err) {
        var msg = (err && err.originalResponse && err.originalResponse.getBody()) || String(err);
        try { msg = JSON.parse(msg).error || msg; } catch (_) { /* not JSON */ }
        say('Upload failed: ' + msg + ' Choose the same file again to resume.', true);
        button.disabled = false;
      },
      onSuccess: function () {
        showProgress(1, 1);
        say('Uploaded. Processing the video…');
        button.disabled = false;
        form.reset();
        watching.add(vid);
        refreshList().then(poll);
      }
    });
    upload.findPreviousUploads().then(function (previous) {
      // Resume an earlier, unfinished upload of the same file if its video still waits for it.
      var tries = previous
        .filter(function (p) { return p.metadata && p.metadata.video_id; })
        .map(function (p) {
          return api('GET', '/user/' + enc(me) + '/videos/' + enc(p.metadata.video_id))
            .then(function (v) { return v.state === 'pending' ? p : null; })
            .catch(function () { return null; });
        });
      return Promise.all(tries);
    }).then(function (found) {
      var prev = found.filter(Boolean)[0];
      if (prev) {
        vid = prev.metadata.video_id;
        upload.resumeFromPreviousUpload(prev);
        say('Resuming your earlier upload of this file…');
        return;
      }
      say('Uploading…');
      var created = { name: name, description: description, visibility: visibility };
      return api('POST', '/user/' + enc(me) + '/videos', created).then(function (v) {
        vid = v.id;
        // Show the new video's card ("waiting for upload") while its bytes go up.
        refreshList();
      });
    }).then(function () {
      upload.options.metadata.video_id = vid;
      upload.start();
    }).catch(function (err) {
      say('Could not start the upload: ' + err.message, true);
      button.disabled = false;
    });
  });
})();
