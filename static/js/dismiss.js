/* /open/: select rows and dismiss them with a note. Posts JSON to the API with the page's
 * CSRF token (the session is the credential), then reloads to show the list without them. */
(function () {
  "use strict";
  var box = document.querySelector("[data-dismiss]");
  if (!box) { return; }
  var button = box.querySelector("[data-dismiss-button]");
  var note = box.querySelector("[data-note]");
  var status = box.querySelector("[data-dismiss-status]");
  var all = document.querySelector("[data-select-all]");

  function selected() {
    return Array.prototype.filter.call(document.querySelectorAll("[data-ref]"), function (c) {
      return c.checked;
    });
  }
  function update() {
    button.disabled = selected().length === 0 || note.value.trim() === "";
  }
  function csrf() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  document.addEventListener("change", function (event) {
    if (event.target === all) {
      document.querySelectorAll("[data-ref]").forEach(function (c) { c.checked = all.checked; });
    }
    update();
  });
  note.addEventListener("input", update);
  button.addEventListener("click", function () {
    var refs = selected().map(function (c) {
      var ref = { endpoint: c.dataset.endpoint };
      if (c.dataset.orderId) { ref.order_id = c.dataset.orderId; } else { ref.waybill = c.dataset.waybill; }
      return ref;
    });
    button.disabled = true;
    status.textContent = "Dismissing " + refs.length + "…";
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ refs: refs, note: note.value.trim() })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (!answer.ok) {
        status.textContent = answer.body.error || "Could not dismiss.";
        update();
        return;
      }
      status.textContent = answer.body.dismissed + " dismissed, " + answer.body.not_open + " no longer open.";
      window.location.reload();
    }).catch(function () {
      status.textContent = "Could not reach the server.";
      update();
    });
  });
})();
