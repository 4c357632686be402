/* Inside the form embedded in a partner's site (/integrer/{slug}): tell the parent page the height
   of this page, so that its snippet sizes the frame to the content (no inner scroll bar). Only a
   height and the page's name are sent, to whichever page frames this one (targetOrigin "*"):
   nothing private. Without JavaScript the frame keeps the height the snippet gives it and scrolls. */
(function () {
  "use strict";
  if (window.parent === window) return;
  var last = 0;
  var page = document.body.getAttribute("data-page") || "";

  function height() {
    var body = document.body;
    var style = window.getComputedStyle(body);
    return Math.ceil(body.getBoundingClientRect().height + parseFloat(style.marginTop) + parseFloat(style.marginBottom));
  }

  function send(fresh) {
    var h = height();
    if (!fresh && Math.abs(h - last) < 2) return;
    last = h;
    window.parent.postMessage({ type: "monlyceepro:hauteur", hauteur: h, page: page, nouvellePage: !!fresh }, "*");
  }

  send(true);
  window.addEventListener("load", function () { send(false); });
  if (window.ResizeObserver) {
    new ResizeObserver(function () { send(false); }).observe(document.body);
  } else {
    setInterval(function () { send(false); }, 500);
  }
})();
