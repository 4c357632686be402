/* Progressive enhancement of /demande: one step at a time, and autocomplete.
   Without this script the four steps are simply shown one under the other. */
(function () {
  "use strict";
  var form = document.getElementById("form-demande");
  if (!form) return;
  var steps = Array.prototype.slice.call(form.querySelectorAll(".mlp-step"));
  var hasErrors = form.getAttribute("data-has-errors") === "oui";

  function show(index, focus) {
    steps.forEach(function (step, i) { step.hidden = i !== index; });
    if (focus) {
      var title = steps[index].querySelector("h2");
      if (title) title.focus();
    }
  }

  function button(id, label, cls, onClick) {
    var b = document.createElement("button");
    b.id = id;
    b.type = "button";
    b.className = "fr-btn " + cls + " fr-mr-2w fr-mt-2w";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  if (!hasErrors && steps.length > 1) {
    steps.forEach(function (step, i) {
      var nav = document.createElement("div");
      nav.className = "mlp-step-nav";
      if (i > 0) nav.appendChild(button("etape-" + (i + 1) + "-precedente", "Étape précédente", "fr-btn--secondary", function () { show(i - 1, true); }));
      if (i < steps.length - 1) nav.appendChild(button("etape-" + (i + 1) + "-suivante", "Étape suivante", "", function () { show(i + 1, true); }));
      step.appendChild(nav);
    });
    show(0, false);
  }

  // Autocomplete through intake's same-origin proxy; free text always stays allowed.
  var timers = {};
  function complete(input) {
    var kind = input.getAttribute("data-autocomplete");
    var list = document.getElementById(input.getAttribute("list"));
    var q = input.value.trim();
    if (!list || q.length < 2) return;
    clearTimeout(timers[input.id]);
    timers[input.id] = setTimeout(function () {
      fetch("/api/v1/autocomplete/" + kind + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (items) {
          list.innerHTML = "";
          items.forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.value;
            if (item.code) option.setAttribute("data-code", item.code);
            list.appendChild(option);
          });
        })
        .catch(function () { /* catalog down: free text */ });
    }, 200);
  }
  form.querySelectorAll("[data-autocomplete]").forEach(function (input) {
    input.addEventListener("input", function () {
      if (input.getAttribute("data-autocomplete") === "communes") {
        var hidden = document.getElementById("commune_insee");
        var match = null;
        document.getElementById("liste-communes").querySelectorAll("option").forEach(function (o) {
          if (o.value === input.value) match = o;
        });
        hidden.value = match ? match.getAttribute("data-code") || "" : "";
      }
      complete(input);
    });
  });
})();
