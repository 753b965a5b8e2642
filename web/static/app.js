// Changeflow's progressive enhancement. Every page works without it: forms post the plain way.
(function () {
  "use strict";

  // required_if: show a field only when the field it depends on has one of the listed values.
  function wireRequiredIf(form) {
    form.querySelectorAll("[data-required-if]").forEach(function (wrapper) {
      var source = form.querySelector('[name="' + wrapper.dataset.requiredIf + '"]');
      if (!source) return;
      var values = wrapper.dataset.requiredValues.split("|");
      var control = wrapper.querySelector("input, select, textarea");
      function update() {
        var applies = values.indexOf(source.value) !== -1;
        // Keep a field that holds a value or an error visible, so nothing typed is hidden.
        var keep = wrapper.classList.contains("has-error") || (control && control.value);
        wrapper.hidden = !applies && !keep;
        if (control) control.required = applies;
      }
      source.addEventListener("change", update);
      update();
    });
  }

  // A confirmation before destructive posts (the server also requires the confirmation box).
  function wireConfirm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(wireRequiredIf);
    document.querySelectorAll("form[data-confirm]").forEach(wireConfirm);
  });
})();
