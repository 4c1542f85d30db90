/* cardshield hosted fields: the script of the frame page (served from the cardshield origin).
 *
 * The card data typed here never leaves this frame except in one request: POST /v1/tokens on
 * this same origin. The parent page is told only state (ready, complete, empty, brand, error
 * codes, focus) and, after tokenize, the token with brand, last 4 and expiry. Messages go only
 * to the parent origin the server checked against the publishable key, and only messages
 * from that origin and from the parent window itself are accepted.
 */
'use strict';

(function () {
  const rules = window.CardshieldRules;
  const digitsOf = rules.digitsOf;
  const form = document.getElementById('cs-form');
  const KEY = form.dataset.key;
  const PARENT = form.dataset.parent;
  const POSTAL = form.dataset.postal === '1';

  const BRAND_NAMES = {
    visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover',
    jcb: 'JCB', diners: 'Diners Club', unionpay: 'UnionPay', maestro: 'Maestro'
  };
  const MESSAGES = {
    incomplete_number: 'Your card number is incomplete.',
    invalid_number: 'Your card number is not valid.',
    incorrect_number: 'Your card number is incorrect.',
    unsupported_brand: 'This card brand is not accepted.',
    incomplete_expiry: 'The expiry date is incomplete.',
    invalid_expiry: 'The expiry month is not valid.',
    expired_card: 'This card has expired.',
    incomplete_cvc: 'The security code is incomplete.',
    invalid_cvc: 'The security code is not valid.',
    incomplete_postal_code: 'The postal code is incomplete.',
    network_error: 'The card could not be sent. Check your connection and try again.',
    busy: 'The card is already being processed.',
    api_error: 'The card could not be processed. Please try again.',
    // Declines the merchant page passes on after charging (showDecline): fixed wording here,
    // never text from the page, so the page cannot put words into the trusted frame.
    card_declined: 'Your card was declined. Please try another card.',
    insufficient_funds: 'Your card has insufficient funds. Please try another card.',
    incorrect_cvc: 'The security code is incorrect.',
    authentication_required: 'Your bank could not confirm this payment. Please try again.'
  };
  // Decline codes the shopper can act on in one field; every other code is a generic decline.
  const DECLINE_CODES = {
    card_declined: 'card_declined', insufficient_funds: 'insufficient_funds',
    incorrect_cvc: 'incorrect_cvc', expired_card: 'expired_card',
    incorrect_number: 'incorrect_number', authentication_required: 'authentication_required'
  };
  const FIELD_OF_CODE = {
    incomplete_number: 'number', invalid_number: 'number', incorrect_number: 'number',
    unsupported_brand: 'number', incomplete_expiry: 'expiry', invalid_expiry: 'expiry',
    expired_card: 'expiry', incomplete_cvc: 'cvc', invalid_cvc: 'cvc',
    incomplete_postal_code: 'postal', incorrect_cvc: 'cvc'
  };

  const inputs = {
    number: document.getElementById('cs-number'),
    expiry: document.getElementById('cs-expiry'),
    cvc: document.getElementById('cs-cvc'),
    postal: POSTAL ? document.getElementById('cs-postal') : null
  };
  const FIELDS = POSTAL ? ['number', 'expiry', 'cvc', 'postal'] : ['number', 'expiry', 'cvc'];
  const touched = {};
  const serverError = {};
  let formError = null;
  let busy = false;
  let lastChange = '';

  // ---- field state ----------------------------------------------------------------------------

  function numberState() {
    const digits = digitsOf(inputs.number.value);
    const typed = rules.brandForPrefix(digits);
    const full = rules.brandFor(digits);
    const brand = full ? full[0] : typed ? typed[0] : null;
    let error = null;
    let definite = false;
    let complete = false;
    if (!digits) {
      error = 'incomplete_number';
    } else if (!rules.couldMatch(digits)) {
      error = 'unsupported_brand';
      definite = true;
    } else if (!full) {
      const max = rules.maxDigits(digits);
      error = digits.length >= max ? 'invalid_number' : 'incomplete_number';
      definite = digits.length >= max;
    } else if (!rules.luhnValid(digits)) {
      error = 'incorrect_number';
      definite = digits.length >= rules.typicalLength(brand);
    } else {
      complete = true;
    }
    return { empty: !digits, complete: complete, error: error, definite: definite, brand: brand };
  }

  function expiryParts() {
    const raw = inputs.expiry.value;
    const full = /^\s*(\d{1,2})\s*\/\s*(\d{4})\s*$/.exec(raw);
    if (full) return { month: Number(full[1]), year: Number(full[2]), typed: 4 };
    const d = digitsOf(raw).slice(0, 4);
    return {
      month: d.length >= 2 ? Number(d.slice(0, 2)) : null,
      year: d.length === 4 ? 2000 + Number(d.slice(2)) : null,
      typed: d.length
    };
  }

  function expiryState() {
    const p = expiryParts();
    let error = null;
    let definite = false;
    if (p.month !== null && (p.month < 1 || p.month > 12)) {
      error = 'invalid_expiry';
      definite = true;
    } else if (p.year === null) {
      error = 'incomplete_expiry';
    } else {
      const now = new Date();
      const thisMonth = now.getFullYear() * 12 + now.getMonth() + 1;
      if (p.year * 12 + p.month < thisMonth) {
        error = 'expired_card';
        definite = true;
      }
    }
    return {
      empty: p.typed === 0, complete: error === null, error: error, definite: definite,
      month: p.month, year: p.year
    };
  }

  function cvcLength(brand) {
    return brand === 'amex' ? 4 : brand ? 3 : null;
  }

  function cvcState(brand) {
    const d = digitsOf(inputs.cvc.value);
    const want = cvcLength(brand);
    let error = null;
    if (!d) error = 'incomplete_cvc';
    else if (want === null ? d.length < 3 : d.length < want) error = 'incomplete_cvc';
    else if (want !== null && d.length > want) error = 'invalid_cvc';
    return { empty: !d, complete: error === null, error: error, definite: error === 'invalid_cvc' };
  }

  function postalState() {
    const v = inputs.postal.value.trim();
    const error = v.replace(/[^0-9A-Za-z]/g, '').length >= 3 ? null : 'incomplete_postal_code';
    return { empty: !v, complete: error === null, error: error, definite: false };
  }

  function states() {
    const number = numberState();
    const out = {
      number: number, expiry: expiryState(), cvc: cvcState(number.brand)
    };
    if (POSTAL) out.postal = postalState();
    return out;
  }

  // The error a field shows now: a server answer first, then its own check once it has been
  // left (or a tokenize was attempted), or at once when more typing cannot fix it.
  function visibleError(field, st) {
    if (serverError[field]) return serverError[field];
    if (!st.error || st.empty && !touched[field]) return null;
    return touched[field] || st.definite ? st.error : null;
  }

  // ---- rendering and messages -------------------------------------------------------------

  function post(type, payload) {
    const message = Object.assign({ cardshield: 1, type: type }, payload || {});
    window.parent.postMessage(message, PARENT);
  }

  function render() {
    const st = states();
    let firstError = null;
    for (const field of FIELDS) {
      const code = visibleError(field, st[field]);
      const input = inputs[field];
      input.setAttribute('aria-invalid', code ? 'true' : 'false');
      document.getElementById(input.id + '-error').textContent = code ? messageFor(code) : '';
      if (code && !firstError) firstError = code;
    }
    const brandEl = document.getElementById('cs-brand');
    const brand = st.number.brand;
    brandEl.dataset.brand = brand || '';
    brandEl.textContent = brand ? BRAND_NAMES[brand] : '';
    inputs.cvc.maxLength = cvcLength(brand) || 4;
    inputs.cvc.placeholder = brand === 'amex' ? 'CID' : 'CVC';
    document.getElementById('cs-form-error').textContent = formError ? messageFor(formError) : '';
    const error = firstError || formError;
    const change = {
      complete: FIELDS.every(function (f) { return st[f].complete; }) && !firstError,
      empty: FIELDS.every(function (f) { return st[f].empty; }),
      brand: brand,
      error: error ? { code: error, message: messageFor(error) } : null
    };
    const key = JSON.stringify(change);
    if (key !== lastChange) {
      lastChange = key;
      post('change', change);
    }
    return st;
  }

  function messageFor(code) {
    return MESSAGES[code] || MESSAGES.api_error;
  }

  // ---- input formatting ---------------------------------------------------------------------

  // Reformat a field and put the caret back after the same number of digits.
  function reformat(input, format) {
    const caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    const digitsBefore = digitsOf(input.value.slice(0, caret)).length;
    const next = format(input.value);
    if (next === input.value) return;
    input.value = next;
    if (document.activeElement !== input) return;
    let pos = 0;
    for (let seen = 0; pos < next.length && seen < digitsBefore; pos++) {
      if (/\d/.test(next[pos])) seen++;
    }
    if (digitsBefore === digitsOf(next).length) pos = next.length;
    input.setSelectionRange(pos, pos);
  }

  function formatNumberField(value) {
    const digits = digitsOf(value).slice(0, rules.maxDigits(digitsOf(value)));
    const typed = rules.brandForPrefix(digits);
    return rules.formatNumber(digits, typed ? typed[0] : null);
  }

  function formatExpiryField(deleting) {
    return function (value) {
      const full = /^\s*(\d{1,2})\s*\/\s*(\d{2})?(\d{2})\s*$/.exec(value);
      let d = full ? full[1].padStart(2, '0') + full[3] : digitsOf(value).slice(0, 4);
      if (d.length === 1 && d > '1') d = '0' + d;
      if (d.length > 2) return d.slice(0, 2) + ' / ' + d.slice(2);
      // The separator appears as the month is completed, and goes away again on delete.
      return d.length === 2 && !deleting ? d + ' / ' : d;
    };
  }

  function onInput(field, event) {
    const input = inputs[field];
    delete serverError[field];
    formError = null;
    const deleting = !!(event.inputType && event.inputType.indexOf('delete') === 0);
    if (field === 'number') reformat(input, formatNumberField);
    else if (field === 'expiry') reformat(input, formatExpiryField(deleting));
    else if (field === 'cvc') reformat(input, function (v) { return digitsOf(v).slice(0, 4); });
    else input.value = input.value.replace(/[^0-9A-Za-z \-]/g, '').slice(0, 10);
    render();
  }

  // ---- tokenization -------------------------------------------------------------------------

  function tokenRequestBody(st) {
    const card = {
      number: digitsOf(inputs.number.value),
      exp_month: st.expiry.month,
      exp_year: st.expiry.year,
      cvc: digitsOf(inputs.cvc.value)
    };
    if (POSTAL) card.postal_code = inputs.postal.value.trim();
    return JSON.stringify({ card: card });
  }

  async function tokenize(id) {
    if (busy) {
      post('result', { id: id, error: { code: 'busy', message: messageFor('busy') } });
      return;
    }
    for (const field of FIELDS) touched[field] = true;
    const st = render();
    for (const field of FIELDS) {
      const code = visibleError(field, st[field]);
      if (code) {
        post('result', { id: id, error: { code: code, message: messageFor(code) } });
        return;
      }
    }
    busy = true;
    let code = null;
    let message = null;
    let token = null;
    try {
      const response = await fetch('/v1/tokens', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + KEY },
        body: tokenRequestBody(st),
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'no-referrer'
      });
      const body = await response.json().catch(function () { return null; });
      if (response.ok && body && typeof body.id === 'string' && body.card) {
        token = {
          id: body.id,
          card: {
            brand: String(body.card.brand), last4: String(body.card.last4),
            exp_month: Number(body.card.exp_month), exp_year: Number(body.card.exp_year)
          }
        };
      } else {
        const err = body && body.error ? body.error : {};
        code = typeof err.code === 'string' ? err.code : 'api_error';
        message = MESSAGES[code] ||
          (typeof err.message === 'string' ? err.message.slice(0, 200) : messageFor(code));
      }
    } catch (e) {
      code = 'network_error';
      message = messageFor(code);
    } finally {
      busy = false;
    }
    if (token) {
      post('result', { id: id, token: token });
      return;
    }
    // The shopper sees our own wording (a generic one for codes that are not about the card);
    // the merchant's page gets the code and the API's message, for its developers.
    const field = FIELD_OF_CODE[code];
    if (field) serverError[field] = code;
    else formError = code;
    render();
    post('result', { id: id, error: { code: code, message: message } });
  }

  // ---- wiring -------------------------------------------------------------------------------

  function applyStyle() {
    let style = {};
    try {
      style = JSON.parse(form.dataset.style || '{}');
    } catch (e) {
      style = {};
    }
    for (const name of Object.keys(style)) {
      // The server already reduced the style to an allow-list; names are checked again here.
      if (/^--cs-[a-z-]+$/.test(name)) {
        document.documentElement.style.setProperty(name, String(style[name]));
      }
    }
  }

  function onMessage(event) {
    if (event.origin !== PARENT || event.source !== window.parent) return;
    const m = event.data;
    if (!m || typeof m !== 'object' || m.cardshield !== 1) return;
    if (m.type === 'tokenize' && typeof m.id === 'string' && m.id.length <= 64) tokenize(m.id);
    if (m.type === 'decline' && typeof m.code === 'string') showDecline(m.code);
  }

  // A decline from the processor, after the merchant's server charged the token: shown at
  // the field it is about (or under the form) until the shopper edits that field.
  function showDecline(code) {
    const known = Object.prototype.hasOwnProperty.call(DECLINE_CODES, code);
    const shown = known ? DECLINE_CODES[code] : 'card_declined';
    const field = FIELD_OF_CODE[shown];
    if (field) serverError[field] = shown;
    else formError = shown;
    render();
  }

  function framedByParent() {
    if (window.parent === window) return false;
    const ancestors = window.location.ancestorOrigins;
    return !ancestors || ancestors.length === 0 || ancestors[0] === PARENT;
  }

  function start() {
    // Outside the merchant page the server allowed, the fields stay disabled and silent.
    if (!framedByParent()) return;
    applyStyle();
    for (const field of FIELDS) {
      const input = inputs[field];
      input.disabled = false;
      input.addEventListener('input', function (e) { onInput(field, e); });
      // Autofill fires input in Chromium; change covers browsers that only send that.
      input.addEventListener('change', function (e) { onInput(field, e); });
      input.addEventListener('focus', function () { post('focus', { field: field }); });
      input.addEventListener('blur', function () {
        touched[field] = !!input.value || touched[field] || false;
        render();
        post('blur', { field: field });
      });
    }
    form.addEventListener('submit', function (e) { e.preventDefault(); });
    window.addEventListener('message', onMessage);
    const report = function () {
      post('resize', { height: Math.ceil(document.documentElement.scrollHeight) });
    };
    post('ready', {});
    render();
    report();
    if (typeof ResizeObserver === 'function') new ResizeObserver(report).observe(document.body);
  }

  start();
}());
