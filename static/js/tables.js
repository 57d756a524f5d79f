/* Wide tables scroll sideways inside .table-wrap; when one does not fit, say so ("scroll →")
 * and fade the cut edge, and stop saying it once scrolled to the end. */
(function () {
  "use strict";

  function update(wrap) {
    var overflowing = wrap.scrollWidth > wrap.clientWidth + 2;
    var atEnd = wrap.scrollLeft + wrap.clientWidth >= wrap.scrollWidth - 2;
    wrap.classList.toggle("scrolls", overflowing && !atEnd);
    var hint = wrap.previousElementSibling;
    if (hint && hint.classList.contains("scroll-hint")) {
      hint.hidden = !overflowing;
    }
  }

  function setup(wrap) {
    var hint = document.createElement("div");
    hint.className = "scroll-hint";
    hint.textContent = "scroll sideways for more columns →";
    hint.hidden = true;
    wrap.parentNode.insertBefore(hint, wrap);
    wrap.addEventListener("scroll", function () { update(wrap); }, { passive: true });
    window.addEventListener("resize", function () { update(wrap); });
    update(wrap);
  }

  document.querySelectorAll(".table-wrap").forEach(setup);
})();
