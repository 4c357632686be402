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

  if (hasErrors) {
    // The page came back with errors: take the focus to their summary, so a screen reader reads it
    // and the keyboard starts from the list of links to each field (the focus was left on <body>).
    var summary = document.getElementById("erreurs") || document.getElementById("alerte");
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
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
  // « Nous avons compris : … » under each job, from the same resolver that routes the request.
  var understandTimers = {};
  function understand(input) {
    var out = document.getElementById(input.id + "-compris");
    var q = input.value.trim();
    if (!out) return;
    clearTimeout(understandTimers[input.id]);
    if (q.length < 2) { out.textContent = ""; return; }
    understandTimers[input.id] = setTimeout(function () {
      var naf = document.getElementById("naf");
      var url = "/api/v1/autocomplete/comprendre?q=" + encodeURIComponent(q) +
        (naf && naf.value.trim() ? "&naf=" + encodeURIComponent(naf.value.trim()) : "");
      fetch(url, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (u) {
          out.textContent = "";
          if (!u || input.value.trim() !== q) return;
          out.className = "fr-message mlp-compris " + (u.status === "inconnu" ? "fr-message--error" : "fr-message--info");
          out.appendChild(document.createTextNode(u.message + " "));
          if (u.status === "corrige" && u.correction) {
            var fix = document.createElement("button");
            fix.type = "button";
            fix.className = "fr-btn fr-btn--tertiary-no-outline fr-btn--sm";
            fix.textContent = "Remplacer par « " + u.correction + " »";
            fix.addEventListener("click", function () { input.value = u.correction; understand(input); input.focus(); });
            out.appendChild(fix);
          }
        })
        .catch(function () { out.textContent = ""; });
    }, 350);
  }
  // « Nous avons compris : mars. Vos dates (mars) tombent pendant la PFMP des 1re du lycée choisi. »
  var period = document.getElementById("periode");
  var periodOut = document.getElementById("periode-compris");
  var periodTimer = null;
  function understandPeriod() {
    var q = period.value.trim();
    clearTimeout(periodTimer);
    if (q.length < 3) { periodOut.textContent = ""; return; }
    periodTimer = setTimeout(function () {
      var uai = period.getAttribute("data-uai") || "";
      fetch("/api/v1/autocomplete/periode?q=" + encodeURIComponent(q) + (uai ? "&uai=" + encodeURIComponent(uai) : ""),
            { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (u) { periodOut.textContent = u && period.value.trim() === q ? u.message : ""; })
        .catch(function () { periodOut.textContent = ""; });
    }, 350);
  }
  if (period && periodOut) {
    period.addEventListener("input", understandPeriod);
    if (period.value.trim()) understandPeriod();
  }

  form.querySelectorAll("[data-autocomplete=metiers]").forEach(function (input) {
    input.addEventListener("input", function () { understand(input); });
    input.addEventListener("change", function () { understand(input); });
    if (input.value.trim()) understand(input);
  });

  // Outside the pilot académies, the company is told before it sends (GET /api/v1/pilote).
  var place = document.getElementById("lieu");
  var pilotBox = document.getElementById("pilote");
  var pilotSeen = document.getElementById("pilote_vu");
  var pilotTimer = null;
  function checkPilot() {
    clearTimeout(pilotTimer);
    pilotTimer = setTimeout(function () {
      var q = place.value.trim();
      var insee = document.getElementById("commune_insee").value;
      if (q.length < 2 && !insee) { pilotBox.textContent = ""; pilotSeen.value = ""; return; }
      fetch("/api/v1/pilote?commune=" + encodeURIComponent(q) + "&insee=" + encodeURIComponent(insee),
            { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p || place.value.trim() !== q) return;
          pilotBox.textContent = "";
          pilotSeen.value = "";
          if (!p.notice) return;
          var notice = document.createElement("div");
          notice.className = "fr-notice fr-notice--info fr-mb-2w";
          notice.innerHTML = '<div class="fr-container"><div class="fr-notice__body"><p class="fr-notice__title" id="pilote-texte"></p></div></div>';
          notice.querySelector("p").textContent = p.notice;
          pilotBox.appendChild(notice);
          pilotSeen.value = p.academie || "national";
        })
        .catch(function () { /* the server shows the notice on a confirmation step */ });
    }, 250);
  }
  if (place && pilotBox && pilotSeen) {
    place.addEventListener("input", checkPilot);
    place.addEventListener("change", checkPilot);
    if (place.value.trim()) checkPilot();
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
