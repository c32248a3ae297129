// Gatehouse's small pages: each form posts JSON to the API and shows the outcome.
// Nothing acts on page load, so link scanners that prefetch emailed links change nothing.
(function () {
  'use strict';
  var params = new URLSearchParams(window.location.search);
  var token = params.get('token');
  // A sign-in finished elsewhere (e.g. a social login callback) that waits for its second factor.
  var pendingMfa = params.get('mfa_token');
  if (token || pendingMfa) {
    // Keep the secret out of the address bar, history and any later Referer.
    window.history.replaceState(null, '', window.location.pathname);
  }

  function show(el, kind, text) {
    el.className = 'status ' + kind;
    el.textContent = text;
    el.hidden = false;
  }

  function problemText(body, fallback) {
    if (!body) return fallback;
    var parts = [body.title || fallback];
    if (body.detail && body.detail !== body.title) parts.push(body.detail);
    return parts.join(' — ');
  }

  function post(url, payload) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify(payload),
    }).then(function (res) {
      if (res.status === 204) return { ok: true, body: null };
      return res
        .json()
        .catch(function () { return null; })
        .then(function (body) { return { ok: res.ok, body: body }; });
    });
  }

  function wire(form, buildPayload, url, successText) {
    var status = document.getElementById('status');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var payload = buildPayload();
      if (!payload) return;
      var button = form.querySelector('button');
      button.disabled = true;
      post(url, payload)
        .then(function (result) {
          if (result.ok) {
            show(status, 'ok', successText);
            form.hidden = true;
          } else {
            show(status, 'error', problemText(result.body, 'Something went wrong.'));
            button.disabled = false;
          }
        })
        .catch(function () {
          show(status, 'error', 'The server could not be reached. Try again.');
          button.disabled = false;
        });
    });
  }

  var verifyForm = document.getElementById('verify-form');
  if (verifyForm) {
    if (!token) show(document.getElementById('status'), 'error', 'This link has no token. Open the link from the email again.');
    wire(verifyForm, function () { return token ? { token: token } : null; }, '/api/v1/auth/verify-email',
      'Your email address is confirmed. You can now sign in.');
  }

  var confirmEmailForm = document.getElementById('confirm-email-form');
  if (confirmEmailForm) {
    if (!token) show(document.getElementById('status'), 'error', 'This link has no token. Open the link from the email again.');
    wire(confirmEmailForm, function () { return token ? { token: token } : null; }, '/api/v1/auth/confirm-email',
      'Your email address was changed. Sign in with the new address from now on.');
  }

  var resetForm = document.getElementById('reset-form');
  if (resetForm) {
    if (!token) show(document.getElementById('status'), 'error', 'This link has no token. Open the link from the email again.');
    wire(resetForm, function () {
      var password = document.getElementById('password').value;
      var confirm = document.getElementById('confirm').value;
      if (password !== confirm) {
        show(document.getElementById('status'), 'error', 'The two passwords differ.');
        return null;
      }
      return token ? { token: token, password: password } : null;
    }, '/api/v1/auth/password/reset', 'Your password was changed and you were signed out everywhere. Sign in with the new password.');
  }

  var signInForm = document.getElementById('sign-in-form');
  if (signInForm) {
    // Back to the page that sent the visitor here, but only ever to a page of this site.
    var next = '/jobs';
    var asked = params.get('next');
    if (asked) {
      try {
        var target = new URL(asked, window.location.origin);
        if (target.origin === window.location.origin) next = target.pathname + target.search;
      } catch { /* keep the default */ }
    }
    var signInStatus = document.getElementById('status');
    // Back from a provider whose verified email has an account here: prove that account to link it.
    var linking = params.get('link');
    if (linking) {
      var notice = document.getElementById('link-notice');
      fetch('/api/v1/auth/oauth/link', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
        .then(function (result) {
          if (!result.ok) {
            show(signInStatus, 'error', problemText(result.body, 'This link has expired. Sign in with the provider again.'));
            linking = null;
            return;
          }
          var email = document.getElementById('email');
          email.value = result.body.email;
          email.readOnly = true;
          document.getElementById('link-text').textContent =
            'An account with the email address ' + result.body.email + ' already exists. Enter its password to link your ' +
            result.body.provider.display_name + ' account to it, or confirm by email.';
          notice.hidden = false;
        })
        .catch(function () { show(signInStatus, 'error', 'The server could not be reached. Try again.'); });
      document.getElementById('link-by-email').addEventListener('click', function () {
        post('/api/v1/auth/oauth/link/email', {}).then(function (result) {
          if (result.ok) {
            show(signInStatus, 'ok', 'We sent a confirmation link to the account\u2019s email address. Open it to link the accounts, then sign in with the provider.');
            signInForm.hidden = true;
            notice.hidden = true;
          } else {
            show(signInStatus, 'error', problemText(result.body, 'Sending the link failed.'));
          }
        });
      });
    }
    var mfaForm = document.getElementById('mfa-form');
    var mfaToken = pendingMfa;
    if (mfaToken) {
      signInForm.hidden = true;
      mfaForm.hidden = false;
    }
    var signedIn = function () {
      show(signInStatus, 'ok', 'Signed in.');
      window.location.assign(next);
    };
    signInForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var button = signInForm.querySelector('button');
      button.disabled = true;
      var request = linking
        ? post('/api/v1/auth/oauth/link', { password: document.getElementById('password').value })
        : post('/api/v1/auth/login', {
          email: document.getElementById('email').value,
          password: document.getElementById('password').value,
        });
      request
        .then(function (result) {
          if (result.ok) {
            if (linking && result.body && result.body.redirect) next = result.body.redirect;
            signedIn();
          } else if (result.body && result.body.code === 'mfa_required') {
            // The password was right; the second step asks for a code.
            mfaToken = result.body.mfa_token;
            signInForm.hidden = true;
            mfaForm.hidden = false;
            signInStatus.hidden = true;
            document.getElementById('mfa-code').focus();
          } else {
            show(signInStatus, 'error', problemText(result.body, 'Signing in failed.'));
            button.disabled = false;
          }
        })
        .catch(function () {
          show(signInStatus, 'error', 'The server could not be reached. Try again.');
          button.disabled = false;
        });
    });
    mfaForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var value = document.getElementById('mfa-code').value.trim();
      var payload = /^\d{6}$/.test(value) ? { mfa_token: mfaToken, code: value } : { mfa_token: mfaToken, recovery_code: value };
      post('/api/v1/auth/mfa', payload)
        .then(function (result) {
          if (result.ok) return signedIn();
          if (result.body && result.body.code === 'invalid_token') {
            // Expired or used up: start again from the password.
            mfaForm.hidden = true;
            signInForm.hidden = false;
            signInForm.querySelector('button').disabled = false;
          }
          show(signInStatus, 'error', problemText(result.body, 'The code was not accepted.'));
        })
        .catch(function () {
          show(signInStatus, 'error', 'The server could not be reached. Try again.');
        });
    });
    var passkeyButton = document.getElementById('passkey-sign-in');
    passkeyButton.addEventListener('click', function () {
      if (!window.GatehouseWebAuthn || !window.GatehouseWebAuthn.supported()) {
        show(signInStatus, 'error', 'This browser does not support passkeys.');
        return;
      }
      passkeyButton.disabled = true;
      post('/api/v1/auth/passkey/options', {})
        .then(function (result) {
          if (!result.ok) throw new Error(problemText(result.body, 'Could not start.'));
          return window.GatehouseWebAuthn.get(result.body);
        })
        .then(function (credential) { return post('/api/v1/auth/passkey', { response: credential }); })
        .then(function (result) {
          passkeyButton.disabled = false;
          if (result.ok) return signedIn();
          show(signInStatus, 'error', problemText(result.body, 'Signing in with the passkey failed.'));
        })
        .catch(function (error) {
          passkeyButton.disabled = false;
          show(signInStatus, 'error', 'No passkey was used' + (error && error.message ? ': ' + error.message : '.'));
        });
    });
  }

  var linkAccountForm = document.getElementById('link-account-form');
  if (linkAccountForm) {
    if (!token) show(document.getElementById('status'), 'error', 'This link has no token. Open the link from the email again.');
    wire(linkAccountForm, function () { return token ? { token: token } : null; }, '/api/v1/auth/oauth/link/confirm',
      'The accounts are linked. You can now sign in with the provider.');
  }

  var forgotForm = document.getElementById('forgot-form');
  if (forgotForm) {
    wire(forgotForm, function () { return { email: document.getElementById('email').value }; },
      '/api/v1/auth/password/forgot', 'If this email has an account, a reset link is on its way. Check your inbox.');
  }
})();
