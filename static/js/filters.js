/* The filter bar: "custom" shows the start/end fields, a preset range applies at once, and
 * empty fields stay out of the address so a shared link reads cleanly. */
(function () {
  "use strict";

  function setup(form) {
    var custom = form.querySelector("[data-custom-range]");
    var range = form.querySelector("select[name=range]");

    function isCustom() {
      return range && range.value === "custom";
    }

    if (range) {
      range.addEventListener("change", function () {
        if (custom) {
          custom.hidden = !isCustom();
        }
        if (!isCustom()) {
          form.requestSubmit();
        }
      });
    }

    form.addEventListener("formdata", function (event) {
      var data = event.formData;
      Array.from(data.keys()).forEach(function (name) {
        var kept = data.getAll(name).filter(function (value) {
          return value !== "";
        });
        if (!isCustom() && (name === "start" || name === "end")) {
          kept = [];
        }
        data.delete(name);
        kept.forEach(function (value) {
          data.append(name, value);
        });
      });
    });
  }

  document.querySelectorAll("form[data-filters]").forEach(setup);
})();
