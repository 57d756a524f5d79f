/* The rule form's preview: as fields change, the form is sent (debounced) to the API's
 * POST /api/v1/alerts/rules/preview/ as the API's own JSON body, and the answer redrawn: the
 * chart, "would have fired N times in 14 days, longest 3 h", or the field at fault.
 *
 * The body is built as the server builds it from a submitted form (alerts/forms.py rule_body):
 * lists for pickers, booleans for boxes, numbers in the stored unit (a threshold typed in
 * percent is divided by the metric's scale from the one table, alerts/metrics.py). */
(function () {
  "use strict";

  var form = document.querySelector("[data-rule-form]");
  if (!form) {
    return;
  }
  var units = JSON.parse(document.getElementById("metric-units").textContent);
  var chart = document.querySelector("[data-preview-chart]");
  var words = document.querySelector("[data-preview-words]");
  var failure = document.querySelector("[data-preview-error]");
  var spinner = document.querySelector("[data-preview-spinner]");
  var DELAY_MS = 400;
  var timer = null;
  var asked = 0;

  function csrfToken() {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function metricName() {
    return form.elements.metric ? form.elements.metric.value : "";
  }

  function number(text, scaled) {
    var trimmed = text.trim();
    if (trimmed === "") {
      return null;
    }
    var value = Number(trimmed);
    if (isNaN(value)) {
      return trimmed; // the API names the field: "A valid number is required."
    }
    var unit = units[metricName()];
    return scaled && unit ? value / unit.scale : value;
  }

  function body() {
    var out = {};
    form.querySelectorAll("[data-field]").forEach(function (box) {
      var name = box.getAttribute("data-field");
      var select = box.querySelector("select");
      var boxes = box.querySelectorAll("input[type=checkbox]");
      var input = box.querySelector("input[type=text]");
      if (select && select.multiple) {
        out[name] = Array.from(select.selectedOptions).map(function (o) { return o.value; });
      } else if (select) {
        out[name] = select.value;
      } else if (box.classList.contains("field-checks")) {
        out[name] = Array.from(boxes).filter(function (b) { return b.checked; })
          .map(function (b) { return b.value; });
      } else if (box.classList.contains("field-checkbox")) {
        out[name] = boxes[0].checked;
      } else if (input && box.classList.contains("field-number")) {
        var value = number(input.value, input.hasAttribute("data-scaled"));
        if (value !== null || input.hasAttribute("data-scaled")) {
          out[name] = value;
        }
      } else if (input) {
        out[name] = input.value;
      }
    });
    if (!out.name) {
      out.name = "preview";
    }
    return out;
  }

  function clearErrors() {
    form.querySelectorAll("[data-preview-marked]").forEach(function (el) {
      el.textContent = "";
      el.removeAttribute("data-preview-marked");
    });
    failure.hidden = true;
  }

  function showErrors(detail) {
    var names = Object.keys(detail || {});
    var parts = names.map(function (name) {
      var reasons = [].concat(detail[name]).map(function (r) {
        return typeof r === "object" ? JSON.stringify(r) : String(r);
      }).join(" ");
      var slot = form.querySelector('[data-error-for="' + name + '"]');
      if (slot) {
        slot.textContent = reasons;
        slot.setAttribute("data-preview-marked", "");
      }
      var label = form.querySelector('label[for="id_' + name + '"]');
      return (label ? label.textContent.replace("(required)", "").trim() : name) + ": " + reasons;
    });
    failure.textContent = "No preview: " + parts.join("; ");
    failure.hidden = false;
    words.textContent = "";
  }

  function draw(answer) {
    words.textContent = "This rule " + answer.summary + ".";
    if (answer.figure) {
      var figure = answer.figure;
      chart.style.height = (figure.layout.height || 220) + "px";
      Plotly.react(chart, figure.data, figure.layout,
        Object.assign({ responsive: true, displaylogo: false }, figure.config || {}));
      chart.setAttribute("data-drawn", String(asked));
    } else {
      Plotly.purge(chart);
      chart.style.height = "0";
      words.textContent += " No calls matched its filters in these days.";
    }
  }

  function preview() {
    var mine = ++asked;
    var threshold = form.elements.threshold;
    if (threshold && threshold.value.trim() === "") {
      clearErrors();
      words.textContent = "Type a threshold to replay the rule over the last 14 days.";
      return;
    }
    spinner.hidden = false;
    form.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body())
    }).then(function (response) {
      return response.json().then(function (answer) {
        return { ok: response.ok, answer: answer };
      });
    }).then(function (result) {
      if (mine !== asked) {
        return; // a newer question is on its way
      }
      clearErrors();
      if (result.ok) {
        draw(result.answer);
      } else {
        showErrors(result.answer.detail || { form: [result.answer.error] });
      }
    }).catch(function () {
      if (mine === asked) {
        failure.textContent = "The preview could not be reached; try again.";
        failure.hidden = false;
      }
    }).finally(function () {
      if (mine === asked) {
        spinner.hidden = true;
        form.removeAttribute("aria-busy");
      }
    });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, DELAY_MS);
  }

  function showUnit() {
    var chosen = metricName();
    // A field that means something for some metrics only (its data-only-for) shows with them;
    // one holding an error stays in sight.
    form.querySelectorAll("[data-only-for]").forEach(function (box) {
      var metrics = box.getAttribute("data-only-for").split(" ");
      box.hidden = metrics.indexOf(chosen) < 0 && !box.classList.contains("has-error");
    });
    form.querySelectorAll("fieldset.section").forEach(function (set) {
      set.hidden = !set.querySelector("[data-field]:not([hidden])");
    });
    var unit = units[chosen] || { suffix: "", help: "" };
    form.querySelectorAll("[data-unit]").forEach(function (el) { el.textContent = unit.suffix; });
    var help = form.querySelector("[data-metric-help]");
    if (help) {
      help.textContent = unit.help;
    }
  }

  form.addEventListener("input", later);
  form.addEventListener("change", function (event) {
    if (event.target.name === "metric") {
      showUnit();
    }
    later();
  });
  showUnit();
  preview();
})();
