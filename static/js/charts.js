/* Draws every server-built Plotly figure on the page and turns a click into its drill-down.
 *
 * <div data-figure="overview-chart"></div> reads the figure {data, layout, config} from
 * <script type="application/json" id="overview-chart"> (Django's json_script). Each point's
 * customdata, when it is a same-site path, is the URL of the events behind that point.
 *
 * A figure the page does not wait for names its address instead (data-figure-url, answering
 * {"figure": ... or null}): it shows its loading text until the answer comes, then is drawn
 * as any other, or says data-empty (no figure) or data-error (the request failed) in its place.
 */
(function () {
  "use strict";

  function isLocalPath(value) {
    return typeof value === "string" && value.charAt(0) === "/" && value.charAt(1) !== "/";
  }

  function drillDown(event) {
    var point = event && event.points && event.points[0];
    if (point && isLocalPath(point.customdata)) {
      window.location.href = point.customdata;
    }
  }

  var NARROW = 600; // px: phones get the figure's "narrow" layout overrides

  function merged(base, extra) {
    var out = Object.assign({}, base);
    Object.keys(extra || {}).forEach(function (key) {
      var value = extra[key];
      var plain = value && typeof value === "object" && !Array.isArray(value);
      out[key] = plain && base[key] && typeof base[key] === "object" ? merged(base[key], value) : value;
    });
    return out;
  }

  function draw(element) {
    var source = document.getElementById(element.getAttribute("data-figure"));
    if (!source) {
      return;
    }
    var figure = JSON.parse(source.textContent);
    var config = Object.assign({ responsive: true, displaylogo: false }, figure.config || {});
    var layout = figure.layout || {};
    if (figure.narrow && window.innerWidth < NARROW) {
      layout = merged(layout, figure.narrow);
    }
    if (layout.height) {
      // The box takes the figure's own height, so the plot never overlaps the caption below.
      element.style.height = layout.height + "px";
    }
    Plotly.newPlot(element, figure.data, layout, config).then(function () {
      element.setAttribute("data-drawn", "true");
    });
    element.on("plotly_click", drillDown);
  }

  function settle(element, text, state) {
    // Not a figure any more: what waits for every figure to be drawn does not wait for it.
    element.removeAttribute("data-figure");
    element.removeAttribute("aria-busy");
    element.removeAttribute("role");
    element.setAttribute("data-state", state);
    element.className = state === "error" ? "chart-error" : "empty";
    element.textContent = text;
  }

  function fetchAndDraw(element) {
    fetch(element.getAttribute("data-figure-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        if (!answer.figure) {
          settle(element, element.getAttribute("data-empty"), "empty");
          return;
        }
        var source = document.createElement("script");
        source.type = "application/json";
        source.id = element.getAttribute("data-figure");
        source.textContent = JSON.stringify(answer.figure);
        element.after(source);
        element.textContent = "";
        element.removeAttribute("aria-busy");
        element.setAttribute("data-state", "drawn");
        draw(element);
      })
      .catch(function () {
        settle(element, element.getAttribute("data-error"), "error");
      });
  }

  function drawAll() {
    if (typeof Plotly === "undefined") {
      return;
    }
    document.querySelectorAll("[data-figure]").forEach(function (element) {
      if (element.hasAttribute("data-figure-url")) {
        fetchAndDraw(element);
      } else {
        draw(element);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
