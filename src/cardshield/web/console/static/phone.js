// Agent screen: one WebSocket per call; shows only the masked view the server sends.
(function () {
  "use strict";
  const root = document.getElementById("phone-capture");
  if (!root) return;
  let socket = null;
  const send = (msg) => socket && socket.readyState === 1 && socket.send(JSON.stringify(msg));
  function show(view) {
    if (view.type === "error") {
      document.getElementById("phone-outcome").textContent = "Error: " + view.code;
      return;
    }
    for (const [name, field] of Object.entries(view.fields)) {
      const row = document.querySelector('tr[data-field="' + name + '"]');
      row.querySelector(".display").textContent = field.display;
      row.querySelector(".status").textContent = field.status;
      if (name === "card") document.getElementById("phone-brand").textContent = field.brand || "";
    }
    document.getElementById("phone-charge").disabled = !view.ready;
    document.getElementById("phone-outcome").textContent = view.outcome || "";
  }
  document.getElementById("phone-call-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const call = document.getElementById("phone-call").value.trim();
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const csrf = encodeURIComponent(root.dataset.csrf);
    if (socket) socket.close();
    socket = new WebSocket(scheme + location.host + "/console/phone/live/" +
      encodeURIComponent(call) + "?csrf=" + csrf);
    socket.onopen = () => send({ action: "start" });
    socket.onmessage = (event) => show(JSON.parse(event.data));
    const opened = socket;
    socket.onclose = (event) => {
      if (event.code !== 1008 || socket !== opened) return;
      // The session ended (sign-out, idle timeout, account change): sign in again.
      document.getElementById("phone-charge").disabled = true;
      document.getElementById("phone-outcome").textContent =
        "Your session has ended. Sign in again to continue.";
      location.assign("/console/login?next=" + encodeURIComponent(location.pathname + location.search));
    };
  });
  document.querySelectorAll("[data-rerequest]").forEach((button) =>
    button.addEventListener("click", () => send({ action: "rerequest", field: button.dataset.rerequest })));
  document.getElementById("phone-cancel").addEventListener("click", () => send({ action: "cancel" }));
  document.getElementById("phone-charge-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send({ action: "charge", amount: parseInt(document.getElementById("phone-amount").value, 10),
      currency: document.getElementById("phone-currency").value });
  });
})();
