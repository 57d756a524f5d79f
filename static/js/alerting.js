/* The alerting pages: times in the viewer's own zone (named), a confirmation before a delete,
 * the channel form showing only the chosen kind's inputs, and the focus on the first error.
 * A static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function localText(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      " " + pad(date.getHours()) + ":" + pad(date.getMinutes()) + " (" + zone + ")";
  }

  function localTimes() {
    if (!zone) {
      return;
    }
    document.querySelectorAll("time[data-local]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date.getTime())) {
        el.textContent = localText(date);
      }
    });
    document.querySelectorAll("[data-zone-name]").forEach(function (el) {
      el.textContent = zone;
    });
    // "Silence until" is typed in the viewer's zone: the server reads it in that zone.
    document.querySelectorAll("input[data-viewer-zone]").forEach(function (el) {
      el.value = zone;
    });
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  function channelKinds() {
    var select = document.querySelector("[data-kind-select]");
    if (!select) {
      return;
    }
    function show() {
      document.querySelectorAll("fieldset[data-kind]").forEach(function (set) {
        var chosen = set.getAttribute("data-kind") === select.value;
        set.hidden = !chosen;
        set.disabled = !chosen;
      });
    }
    select.addEventListener("change", show);
    show();
  }

  function focusFirstError() {
    var first = document.querySelector("[aria-invalid=true]");
    if (first) {
      var target = first.matches("fieldset") ? first.querySelector("input") || first : first;
      target.focus();
    }
  }

  function start() {
    localTimes();
    confirmations();
    channelKinds();
    focusFirstError();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
