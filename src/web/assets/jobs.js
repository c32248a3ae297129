// Gatehouse's job pages. /jobs lists your recent jobs; /jobs/{id} shows one job and follows it
// live over Server-Sent Events (/api/v1/events, authenticated by the session cookie; the browser
// reconnects with Last-Event-ID by itself). Nothing acts on page load: only the buttons POST.
// Everything the API returns is written with textContent, never parsed as HTML.
(function () {
  'use strict';

  var status = document.getElementById('status');

  function show(kind, text) {
    status.className = 'status ' + kind;
    status.textContent = text;
    status.hidden = false;
  }

  function showLink(text, linkText, href) {
    show('error', text + ' ');
    var a = document.createElement('a');
    a.href = href;
    a.textContent = linkText;
    status.appendChild(a);
  }

  function problemText(body, fallback) {
    if (!body) return fallback;
    var parts = [body.title || fallback];
    if (body.detail && body.detail !== body.title) parts.push(body.detail);
    return parts.join(' — ');
  }

  /** fetch → {status, ok, body} with the body parsed as JSON when there is one. */
  function api(method, url) {
    return fetch(url, {
      method: method,
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    }).then(function (res) {
      return res
        .json()
        .catch(function () { return null; })
        .then(function (body) { return { status: res.status, ok: res.ok, body: body }; });
    });
  }

  /** Shows the answer to a failed read; false when there is nothing to show the page with. */
  function refused(result, signInNext) {
    if (result.status === 401) {
      showLink('You are not signed in.', 'Sign in', '/sign-in?next=' + encodeURIComponent(signInNext));
    } else if (result.status === 404 || result.status === 400) {
      show('error', 'Job not found. It does not exist or is not yours.');
    } else {
      show('error', problemText(result.body, 'The job could not be loaded.'));
    }
  }

  function time(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  function percent(progress) {
    return Math.round((Number(progress) || 0) * 100) + ' %';
  }

  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }

  // ── /jobs ────────────────────────────────────────────────────────────────────────────
  var list = document.getElementById('jobs-list');
  if (list) {
    api('GET', '/api/v1/jobs?limit=50')
      .then(function (result) {
        if (!result.ok) {
          if (result.status === 401) showLink('You are not signed in.', 'Sign in', '/sign-in?next=/jobs');
          else show('error', problemText(result.body, 'Your jobs could not be loaded.'));
          return;
        }
        var rows = document.getElementById('jobs-rows');
        result.body.items.forEach(function (job) {
          var tr = document.createElement('tr');
          var link = document.createElement('a');
          link.href = '/jobs/' + encodeURIComponent(job.id);
          link.textContent = job.id.slice(0, 8) + '…';
          var first = document.createElement('td');
          first.appendChild(link);
          tr.appendChild(first);
          [job.queue, job.kind, job.state, percent(job.progress), time(job.created_at)].forEach(function (text, i) {
            var td = document.createElement('td');
            td.textContent = text;
            if (i === 2) td.className = 'state state-' + job.state;
            tr.appendChild(td);
          });
          rows.appendChild(tr);
        });
        document.getElementById('jobs-empty').hidden = result.body.items.length > 0;
        list.hidden = false;
      })
      .catch(function () { show('error', 'The server could not be reached. Reload to try again.'); });
  }

  // ── /jobs/{id} ───────────────────────────────────────────────────────────────────────
  var box = document.getElementById('job');
  if (!box) return;
  var jobId = box.getAttribute('data-job-id');
  var jobUrl = '/api/v1/jobs/' + encodeURIComponent(jobId);
  // The highest per-job event sequence number shown: stream replays and snapshots never go back.
  var lastSeq = 0;
  var state = null;

  var ACTIONS = {
    queued: ['pause', 'cancel'],
    running: ['pause', 'cancel'],
    paused: ['resume', 'cancel'],
    failed: ['retry'],
    dead: ['retry'],
    cancelled: ['retry'],
    succeeded: [],
  };

  function renderState(newState, attempt) {
    state = newState;
    var el = document.getElementById('job-state');
    el.textContent = newState;
    el.className = 'state state-' + newState;
    if (attempt !== undefined && attempt !== null) setText('job-attempt', String(attempt));
    var allowed = ACTIONS[newState] || [];
    box.querySelectorAll('button[data-action]').forEach(function (button) {
      var on = allowed.indexOf(button.getAttribute('data-action')) >= 0;
      button.hidden = !on;
      button.disabled = !on;
    });
  }

  function renderProgress(progress, message) {
    var bar = document.getElementById('job-progress');
    bar.value = Number(progress) || 0;
    setText('job-progress-text', percent(progress));
    setText('job-progress-message', message || '');
  }

  function renderMetrics(metrics) {
    var dl = document.getElementById('job-metrics');
    dl.textContent = '';
    var keys = metrics ? Object.keys(metrics) : [];
    keys.forEach(function (key) {
      var dt = document.createElement('dt');
      dt.textContent = key;
      var dd = document.createElement('dd');
      dd.textContent = String(metrics[key]);
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    document.getElementById('job-metrics-box').hidden = keys.length === 0;
  }

  /** The fields only a snapshot of the job carries (timestamps, result, error, files). */
  function renderDetails(job) {
    setText('job-queue', job.queue);
    setText('job-kind', job.kind);
    ['created_at', 'started_at', 'heartbeat_at', 'finished_at'].forEach(function (field) {
      setText('job-' + field, time(job[field]));
    });
    var hasResult = job.result !== null && job.result !== undefined;
    document.getElementById('job-result-box').hidden = !hasResult;
    setText('job-result', hasResult ? JSON.stringify(job.result, null, 2) : '');
    document.getElementById('job-error-box').hidden = !job.error;
    setText('job-error', job.error
      ? job.error.message + (job.error.details !== undefined ? '\n' + JSON.stringify(job.error.details, null, 2) : '')
      : '');
    var files = document.getElementById('job-files');
    files.textContent = '';
    (job.output_files || []).forEach(function (fileId) {
      var li = document.createElement('li');
      var a = document.createElement('a');
      a.href = '/api/v1/files/' + encodeURIComponent(fileId);
      a.textContent = fileId;
      li.appendChild(a);
      files.appendChild(li);
    });
    document.getElementById('job-files-box').hidden = !job.output_files || job.output_files.length === 0;
  }

  /**
   * Applies a snapshot (GET /api/v1/jobs/{id} or an action's answer). `seq` is the newest event
   * the snapshot is known to include; when the stream has already shown a newer one, only the
   * snapshot-only fields are taken so a slow answer never winds progress or state back.
   */
  function renderJob(job, seq) {
    renderDetails(job);
    if (seq >= lastSeq) {
      renderState(job.state, job.attempt);
      renderProgress(job.progress, job.progress_message);
      renderMetrics(job.metrics);
    }
    box.hidden = false;
  }

  function describe(event) {
    var d = event.data || {};
    if (event.type === 'state') {
      var text = (d.from ? d.from + ' → ' : '') + d.state;
      if (d.attempt) text += ' (attempt ' + d.attempt + ')';
      if (d.reason) text += ': ' + d.reason;
      if (d.error && d.error.message) text += ' — ' + d.error.message;
      return text;
    }
    if (event.type === 'progress') return percent(d.progress) + (d.message ? ' — ' + d.message : '');
    if (event.type === 'log') return (d.lines || []).join('\n');
    return JSON.stringify(d);
  }

  function appendEvent(event) {
    var li = document.createElement('li');
    li.className = 'event event-' + event.type;
    li.setAttribute('data-seq', String(event.seq));
    var when = document.createElement('time');
    when.dateTime = event.created_at;
    when.textContent = time(event.created_at);
    var type = document.createElement('span');
    type.className = 'event-type';
    type.textContent = event.type;
    var text = document.createElement('span');
    text.className = 'event-text';
    text.textContent = describe(event);
    li.appendChild(when);
    li.appendChild(type);
    li.appendChild(text);
    document.getElementById('job-events').appendChild(li);
  }

  var refreshing = null;
  var refreshAgain = false;
  /** Re-reads the job (after a state change: result, error, files and timestamps). One at a time. */
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = api('GET', jobUrl)
      .then(function (result) {
        if (result.ok) renderJob(result.body.job, maxSeq(result.body.events));
      })
      .catch(function () { /* the stream goes on; the next state change tries again */ })
      .then(function () {
        refreshing = null;
        if (refreshAgain) {
          refreshAgain = false;
          refresh();
        }
      });
  }

  function maxSeq(events) {
    return events.reduce(function (m, e) { return Math.max(m, e.seq); }, 0);
  }

  function onEvent(event) {
    if (event.seq <= lastSeq) return; // already shown (initial read, or a replay after reconnecting)
    lastSeq = event.seq;
    appendEvent(event);
    var d = event.data || {};
    if (event.type === 'state') {
      renderState(d.state, d.attempt);
      refresh();
    } else if (event.type === 'progress') {
      renderProgress(d.progress, d.message);
      if (d.metrics) renderMetrics(d.metrics);
    }
  }

  function follow(afterId) {
    var live = document.getElementById('live');
    var url = '/api/v1/events?topics=' + encodeURIComponent('job:' + jobId) + (afterId > 0 ? '&last_event_id=' + afterId : '');
    var source = new window.EventSource(url);
    source.onopen = function () {
      live.textContent = 'live';
      live.className = 'live on';
    };
    source.onerror = function () {
      if (source.readyState === window.EventSource.CLOSED) {
        // Refused before the stream started (signed out, job gone): EventSource gives up.
        live.textContent = 'not following — reload to try again';
        live.className = 'live off';
      } else {
        live.textContent = 'reconnecting…';
        live.className = 'live off';
      }
    };
    ['job.state', 'job.progress', 'job.log'].forEach(function (name) {
      source.addEventListener(name, function (message) {
        try {
          onEvent(JSON.parse(message.data));
        } catch { /* a malformed message is skipped */ }
      });
    });
  }

  box.querySelectorAll('button[data-action]').forEach(function (button) {
    button.addEventListener('click', function () {
      var action = button.getAttribute('data-action');
      button.disabled = true;
      api('POST', jobUrl + '/' + action)
        .then(function (result) {
          if (result.ok) {
            status.hidden = true;
            // The answer is the job after the action; its event arrives on the stream too.
            renderJob(result.body, lastSeq);
          } else {
            show('error', problemText(result.body, 'The job could not be changed.'));
            renderState(state);
          }
        })
        .catch(function () {
          show('error', 'The server could not be reached. Try again.');
          renderState(state);
        });
    });
  });

  api('GET', jobUrl)
    .then(function (result) {
      if (!result.ok) {
        refused(result, window.location.pathname);
        return;
      }
      var events = result.body.events;
      events.forEach(function (event) {
        appendEvent(event);
        lastSeq = Math.max(lastSeq, event.seq);
      });
      renderJob(result.body.job, lastSeq);
      // Resume the stream right after the newest event read, so nothing falls in between.
      follow(events.reduce(function (m, e) { return Math.max(m, e.id); }, 0));
    })
    .catch(function () { show('error', 'The server could not be reached. Reload to try again.'); });
})();
