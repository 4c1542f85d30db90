// The shop's checkout script. It never touches card data: the card is typed into
// cardshield's frame, tokenize() hands back a single-use token, and only the token is
// sent to the shop's server, which charges it with its secret key.
(function () {
  'use strict';

  const root = document.getElementById('checkout');
  const form = document.getElementById('pay-form');
  const button = document.getElementById('pay-button');
  const errors = document.getElementById('card-errors');

  function show(message) {
    errors.textContent = message || '';
    root.classList.toggle('has-error', Boolean(message));
  }

  const cs = Cardshield(root.dataset.key);
  const card = cs.fields({
    style: {
      base: { fontSize: '16px', color: '#1f2937', '::placeholder': { color: '#9ca3af' } },
      invalid: { color: '#b91c1c' },
    },
  });
  card.on('ready', function () {
    root.dataset.state = 'ready';
    button.disabled = false;
  });
  // The button stays usable while the card is typed: tokenize() answers an incomplete card
  // with the field's error, shown inside the frame (toggling it on every change would let a
  // click that blurs the frame land on a button that is briefly disabled).
  card.on('change', function (e) {
    root.dataset.complete = e.complete ? 'true' : 'false';
    if (e.error) show(e.error.message);
    else if (root.dataset.state !== 'declined') show('');
  });
  card.on('error', function (e) { show(e.message); });
  card.mount('#card-element');

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    button.disabled = true;
    show('');
    root.dataset.state = 'paying';
    const result = await card.tokenize();
    if (result.error) {
      root.dataset.state = 'ready';
      show(result.error.message);
      button.disabled = false;
      return;
    }
    let response;
    let body = {};
    try {
      response = await fetch(root.dataset.payUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: result.token.id }),
        credentials: 'same-origin',
      });
      body = await response.json();
    } catch (err) {
      root.dataset.state = 'ready';
      show('The shop could not be reached. Please try again.');
      button.disabled = false;
      return;
    }
    if (response.ok && body.redirect) {
      root.dataset.state = 'redirecting';
      window.location.assign(body.redirect);
      return;
    }
    root.dataset.state = 'declined';
    root.dataset.declineCode = body.decline_code || body.error || '';
    card.showDecline(body.decline_code || 'card_declined');  // shown inside the fields
    show(body.message || 'The payment failed. Please try another card.');
    button.disabled = false;
  });
})();
