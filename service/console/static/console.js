// Small conveniences only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A select marked data-autosubmit submits its form when changed (language, matrix store).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // A checkbox marked data-check-all="<name>" ticks or clears every box of that name.
  for (const box of document.querySelectorAll("input[data-check-all]")) {
    box.addEventListener("change", () => {
      const name = box.dataset.checkAll;
      for (const other of box.form.querySelectorAll(`input[name="${name}"]`)) {
        other.checked = box.checked;
      }
    });
  }
});
