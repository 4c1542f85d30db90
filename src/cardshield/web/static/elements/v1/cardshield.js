/*! cardshield.js v1: hosted card fields for a merchant's checkout page.
 *
 *   const cs = Cardshield('pk_live_...');
 *   const card = cs.fields({ style: { base: { fontSize: '16px' } }, postalCode: false });
 *   card.on('change', (e) => { e.complete; e.brand; e.error && e.error.code; });
 *   card.mount('#card');
 *   const result = await card.tokenize();   // { token: { id, card } } or { error: { code } }
 *   card.showDecline('insufficient_funds');  // after your server's charge was declined
 *
 * The fields live in an iframe served by cardshield; this script never sees the card number
 * or security code. It accepts messages only from the cardshield origin and only from its
 * own iframe, and sends messages only to that origin. Plain ES2020, no dependencies.
 */
(function (global) {
  'use strict';

  const script = document.currentScript;
  const SCRIPT_ORIGIN = script && script.src ? new URL(script.src).origin : null;
  const KEY_SHAPE = /^pk_(live|test)_[0-9A-Za-z]{16,64}$/;
  const EVENTS = ['ready', 'change', 'focus', 'blur', 'error'];
  const FIELDS = ['number', 'expiry', 'cvc', 'postal'];
  const READY_TIMEOUT_MS = 10000;
  const TOKENIZE_TIMEOUT_MS = 30000;
  const MAX_FRAME_HEIGHT = 2000;

  function fail(message) {
    throw new Error('cardshield: ' + message);
  }

  function originOf(value) {
    let url;
    try {
      url = new URL(String(value));
    } catch (e) {
      fail('origin must be an absolute http(s) URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('origin must be http(s)');
    return url.origin;
  }

  function randomId() {
    const bytes = new Uint8Array(12);
    global.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
  }

  function errorResult(code, message) {
    return { error: { code: code, message: message } };
  }

  // Only known fields, with the expected types, ever reach the merchant's handlers.
  function changeEvent(m) {
    const error = m.error && typeof m.error.code === 'string'
      ? { code: m.error.code, message: String(m.error.message || '') } : undefined;
    return {
      complete: m.complete === true,
      empty: m.empty === true,
      brand: typeof m.brand === 'string' ? m.brand : null,
      error: error
    };
  }

  function resultOf(m) {
    if (m.token && typeof m.token.id === 'string' && m.token.card) {
      const c = m.token.card;
      return {
        token: {
          id: m.token.id,
          card: {
            brand: String(c.brand), last4: String(c.last4),
            exp_month: Number(c.exp_month), exp_year: Number(c.exp_year)
          }
        }
      };
    }
    const e = m.error || {};
    return errorResult(String(e.code || 'api_error'), String(e.message || ''));
  }

  function createFields(publishableKey, origin, options) {
    const opts = options || {};
    const handlers = {};
    const pending = new Map();
    let iframe = null;
    let ready = false;
    let destroyed = false;
    let readyTimer = null;
    let state = { complete: false, empty: true, brand: null, error: undefined };

    function emit(type, event) {
      for (const handler of (handlers[type] || []).slice()) {
        try {
          handler(event);
        } catch (e) {
          setTimeout(function () { throw e; });
        }
      }
    }

    function onMessage(event) {
      if (!iframe || event.origin !== origin || event.source !== iframe.contentWindow) return;
      const m = event.data;
      if (!m || typeof m !== 'object' || m.cardshield !== 1) return;
      if (m.type === 'ready') {
        ready = true;
        clearTimeout(readyTimer);
        emit('ready', {});
      } else if (m.type === 'change') {
        state = changeEvent(m);
        emit('change', Object.assign({}, state));
      } else if (m.type === 'focus' || m.type === 'blur') {
        if (FIELDS.indexOf(m.field) >= 0) emit(m.type, { field: m.field });
      } else if (m.type === 'resize') {
        const height = Number(m.height);
        if (height > 0 && height <= MAX_FRAME_HEIGHT) iframe.style.height = height + 'px';
      } else if (m.type === 'result' && typeof m.id === 'string' && pending.has(m.id)) {
        const settle = pending.get(m.id);
        pending.delete(m.id);
        settle(resultOf(m));
      }
    }

    function frameUrl() {
      const parent = global.location.origin;
      if (!parent || parent === 'null') fail('the page must be served over http(s) to mount');
      const params = new URLSearchParams({
        key: publishableKey,
        parent: parent,
        style: JSON.stringify(opts.style || {}),
        postal: opts.postalCode ? '1' : '0'
      });
      return origin + '/elements/v1/frame?' + params.toString();
    }

    const card = {
      mount: function (target) {
        if (destroyed) fail('these fields were destroyed; create new ones');
        if (iframe) fail('these fields are already mounted');
        const host = typeof target === 'string' ? document.querySelector(target) : target;
        if (!host || typeof host.appendChild !== 'function') fail('mount target not found');
        iframe = document.createElement('iframe');
        iframe.title = 'Secure card payment fields';
        iframe.setAttribute('frameborder', '0');
        iframe.setAttribute('scrolling', 'no');
        iframe.setAttribute('allowtransparency', 'true');
        // Set through the CSSOM so a merchant CSP without 'unsafe-inline' still allows it.
        iframe.style.border = '0';
        iframe.style.width = '100%';
        iframe.style.height = '120px';
        iframe.style.display = 'block';
        iframe.style.overflow = 'hidden';
        iframe.src = frameUrl();
        global.addEventListener('message', onMessage);
        readyTimer = setTimeout(function () {
          if (ready || destroyed) return;
          const message = 'the card fields did not load; check that this page\'s origin ' +
            'is one of the publishable key\'s allowed origins';
          console.error('cardshield: ' + message);
          emit('error', { code: 'frame_load_failed', message: message });
        }, READY_TIMEOUT_MS);
        host.appendChild(iframe);
        return card;
      },
      on: function (type, handler) {
        if (EVENTS.indexOf(type) < 0) fail('unknown event ' + String(type));
        if (typeof handler !== 'function') fail('an event handler must be a function');
        (handlers[type] = handlers[type] || []).push(handler);
        return card;
      },
      off: function (type, handler) {
        handlers[type] = (handlers[type] || []).filter(function (h) { return h !== handler; });
        return card;
      },
      tokenize: function () {
        if (destroyed) {
          return Promise.resolve(errorResult('destroyed', 'The fields were destroyed.'));
        }
        if (!iframe || !ready) {
          return Promise.resolve(errorResult('not_ready', 'The card fields are not ready yet.'));
        }
        const id = randomId();
        return new Promise(function (resolve) {
          const timer = setTimeout(function () {
            pending.delete(id);
            resolve(errorResult('timeout', 'The card fields did not answer in time.'));
          }, TOKENIZE_TIMEOUT_MS);
          pending.set(id, function (result) {
            clearTimeout(timer);
            resolve(result);
          });
          iframe.contentWindow.postMessage({ cardshield: 1, type: 'tokenize', id: id }, origin);
        });
      },
      // After the server's charge was declined: the frame shows the decline in the fields
      // (its own wording for known decline codes, a generic one for any other code).
      showDecline: function (code) {
        if (destroyed || !iframe || !ready || typeof code !== 'string') return card;
        const shown = code.slice(0, 64);
        iframe.contentWindow.postMessage({ cardshield: 1, type: 'decline', code: shown }, origin);
        return card;
      },
      get state() {
        return Object.assign({}, state);
      },
      destroy: function () {
        if (destroyed) return;
        destroyed = true;
        clearTimeout(readyTimer);
        global.removeEventListener('message', onMessage);
        for (const settle of pending.values()) {
          settle(errorResult('destroyed', 'The fields were destroyed.'));
        }
        pending.clear();
        if (iframe && iframe.parentNode) iframe.parentNode.removeChild(iframe);
        iframe = null;
        for (const type of Object.keys(handlers)) delete handlers[type];
      }
    };
    return card;
  }

  function Cardshield(publishableKey, options) {
    const opts = options || {};
    if (typeof publishableKey === 'string' && /^sk_/.test(publishableKey)) {
      fail('a secret key (sk_...) must never reach a browser; use a publishable key (pk_...)');
    }
    if (typeof publishableKey !== 'string' || !KEY_SHAPE.test(publishableKey)) {
      fail('a publishable key (pk_...) is required');
    }
    const origin = opts.origin ? originOf(opts.origin) : SCRIPT_ORIGIN;
    if (!origin) fail('cannot tell the cardshield origin; pass { origin }');
    return Object.freeze({
      fields: function (fieldOptions) {
        return createFields(publishableKey, origin, fieldOptions);
      }
    });
  }

  global.Cardshield = Cardshield;
}(window));
