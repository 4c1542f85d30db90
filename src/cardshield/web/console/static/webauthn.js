// cardshield console: security keys (WebAuthn).
// A form marked data-webauthn="create" (adding a key) or "get" (signing in) carries the
// server's options as JSON in data-options. On submit the browser is asked for a
// credential; its answer goes into the form's hidden "credential" field as JSON (the
// layout the server's webauthn library reads) and the form is submitted as usual.
"use strict";
(function () {
  function fromBase64url(text) {
    let b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    const binary = atob(b64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromBase64url(c.id) });
    });
  }

  function creationOptions(o) {
    o.challenge = fromBase64url(o.challenge);
    o.user.id = fromBase64url(o.user.id);
    o.excludeCredentials = withIds(o.excludeCredentials);
    return o;
  }

  function requestOptions(o) {
    o.challenge = fromBase64url(o.challenge);
    o.allowCredentials = withIds(o.allowCredentials);
    return o;
  }

  function answer(credential, kind) {
    const r = credential.response;
    const out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(r.clientDataJSON) },
    };
    if (kind === "create") {
      out.response.attestationObject = toBase64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toBase64url(r.userHandle);
      }
    }
    return JSON.stringify(out);
  }

  async function ceremony(form, kind, status) {
    const options = JSON.parse(form.getAttribute("data-options"));
    status.textContent = "Touch your security key.";
    const credential = kind === "create"
      ? await navigator.credentials.create({ publicKey: creationOptions(options) })
      : await navigator.credentials.get({ publicKey: requestOptions(options) });
    form.querySelector("input[name=credential]").value = answer(credential, kind);
    status.textContent = "Checking…";
    form.submit();
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    const kind = form.getAttribute && form.getAttribute("data-webauthn");
    if (kind !== "create" && kind !== "get") {
      return;
    }
    event.preventDefault();
    const status = form.querySelector("[data-webauthn-status]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      status.textContent = "This browser cannot use security keys here.";
      return;
    }
    ceremony(form, kind, status).catch(function (error) {
      status.textContent = "The security key did not answer (" + error.name + "). Try again.";
    });
  });
})();
