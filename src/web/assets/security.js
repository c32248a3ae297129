// The account security page: two-factor authentication (TOTP) and passkeys. Every action is a
// call to the API with the session cookie; nothing happens on page load but reading.
(function () {
  'use strict';
  var status = document.getElementById('status');

  function show(kind, text) {
    status.className = 'status ' + kind;
    status.textContent = text;
    status.hidden = false;
  }

  function problemText(body, fallback) {
    if (!body) return fallback;
    var parts = [body.title || fallback];
    if (body.detail && body.detail !== body.title) parts.push(body.detail);
    return parts.join(' — ');
  }

  function call(method, url, payload) {
    var init = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (payload !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    return fetch(url, init).then(function (res) {
      if (res.status === 204) return { ok: true, status: 204, body: null };
      return res.json().catch(function () { return null; }).then(function (body) { return { ok: res.ok, status: res.status, body: body }; });
    });
  }

  function failed(result, fallback) {
    if (result.status === 401) {
      window.location.assign('/sign-in?next=' + encodeURIComponent(window.location.pathname));
      return;
    }
    show('error', problemText(result.body, fallback));
  }

  var totpStatus = document.getElementById('totp-status');
  var totpStart = document.getElementById('totp-start');
  var totpSetup = document.getElementById('totp-setup');
  var confirmForm = document.getElementById('totp-confirm-form');
  var codesBox = document.getElementById('recovery-codes-box');

  function refreshStatus() {
    return call('GET', '/api/v1/users/me/mfa').then(function (result) {
      if (!result.ok) return failed(result, 'Could not read your settings.');
      var s = result.body;
      totpStatus.textContent = s.totp_enabled
        ? 'Two-factor authentication is on (' + s.recovery_codes_remaining + ' recovery codes left).'
        : s.required
          ? 'A group you belong to requires two-factor authentication: turn it on to continue.'
          : 'Two-factor authentication is off.';
      totpStart.hidden = s.totp_enabled;
    });
  }

  totpStart.addEventListener('click', function () {
    totpStart.disabled = true;
    call('POST', '/api/v1/users/me/mfa/totp').then(function (result) {
      totpStart.disabled = false;
      if (!result.ok) return failed(result, 'Could not start.');
      // The QR code is an SVG document made by this server.
      document.getElementById('totp-qr').innerHTML = result.body.qr_svg;
      document.getElementById('totp-secret').textContent = result.body.secret;
      totpSetup.hidden = false;
      document.getElementById('totp-code').focus();
    });
  });

  confirmForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var code = document.getElementById('totp-code').value.trim();
    call('POST', '/api/v1/users/me/mfa/totp/confirm', { code: code }).then(function (result) {
      if (!result.ok) return failed(result, 'The code was not accepted.');
      totpSetup.hidden = true;
      var list = document.getElementById('recovery-codes');
      list.textContent = '';
      result.body.recovery_codes.forEach(function (c) {
        var li = document.createElement('li');
        li.textContent = c;
        list.appendChild(li);
      });
      codesBox.hidden = false;
      show('ok', 'Two-factor authentication is on. Store your recovery codes somewhere safe: they are shown only now.');
      refreshStatus();
    });
  });

  var passkeyList = document.getElementById('passkey-list');
  function refreshPasskeys() {
    return call('GET', '/api/v1/users/me/passkeys').then(function (result) {
      if (!result.ok) return;
      passkeyList.textContent = '';
      result.body.items.forEach(function (p) {
        var li = document.createElement('li');
        li.textContent = p.name + ' — added ' + p.created_at.slice(0, 10) + (p.last_used_at ? ', last used ' + p.last_used_at.slice(0, 10) : '');
        var remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'inline';
        remove.textContent = 'Remove';
        remove.addEventListener('click', function () {
          call('DELETE', '/api/v1/users/me/passkeys/' + p.id).then(function (r) {
            if (!r.ok) return failed(r, 'Could not remove the passkey.');
            show('ok', 'Passkey removed.');
            refreshPasskeys();
          });
        });
        li.appendChild(remove);
        passkeyList.appendChild(li);
      });
      document.getElementById('passkeys-empty').hidden = result.body.items.length > 0;
    });
  }

  var addPasskey = document.getElementById('passkey-add');
  addPasskey.addEventListener('click', function () {
    if (!window.GatehouseWebAuthn.supported()) return show('error', 'This browser does not support passkeys.');
    addPasskey.disabled = true;
    var name = document.getElementById('passkey-name').value.trim();
    call('POST', '/api/v1/users/me/passkeys/options')
      .then(function (result) {
        if (!result.ok) throw result;
        return window.GatehouseWebAuthn.create(result.body);
      })
      .then(function (credential) {
        return call('POST', '/api/v1/users/me/passkeys', { response: credential, name: name || undefined });
      })
      .then(function (result) {
        addPasskey.disabled = false;
        if (!result.ok) return failed(result, 'The passkey was not registered.');
        show('ok', 'Passkey "' + result.body.name + '" added. You can now sign in with it, without a password.');
        refreshPasskeys();
      })
      .catch(function (error) {
        addPasskey.disabled = false;
        if (error && error.body !== undefined) return failed(error, 'The passkey was not registered.');
        show('error', 'No passkey was created' + (error && error.message ? ': ' + error.message : '.'));
      });
  });

  refreshStatus();
  refreshPasskeys();
})();
