// Small conveniences only: every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A select marked data-autosubmit submits its form when changed (language, matrix store).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  // Amounts in their store's currency, and instants in the viewer's own time with how
  // long until (or since) each, in the page's language (the server's text is UTC).
  const lang = document.documentElement.lang || "en";
  for (const amount of document.querySelectorAll("[data-amount][data-currency]")) {
    const value = Number(amount.dataset.amount);
    if (Number.isFinite(value)) {
      amount.textContent = new Intl.NumberFormat(lang, {
        style: "currency", currency: amount.dataset.currency}).format(value);
    }
  }
  const relative = new Intl.RelativeTimeFormat(lang, {numeric: "always", style: "narrow"});
  for (const time of document.querySelectorAll("time[datetime]")) {
    const when = new Date(time.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    let text = when.toLocaleString(lang, {dateStyle: "medium", timeStyle: "short"});
    if (time.hasAttribute("data-relative")) {
      const seconds = (when.getTime() - Date.now()) / 1000;
      const [amount, unit] = Math.abs(seconds) < 3600 ? [seconds / 60, "minute"]
        : Math.abs(seconds) < 86400 * 2 ? [seconds / 3600, "hour"] : [seconds / 86400, "day"];
      text += ` (${relative.format(Math.round(amount), unit)})`;
    }
    time.textContent = text;
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
