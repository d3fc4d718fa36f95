// Enlist console: no framework, nothing fetched but this console's own
// endpoints. Bound here rather than in inline handlers (the CSP allows
// no inline script).
document.addEventListener('click', function (e) {
  var t = e.target.closest('[data-copy]');
  if (t) {
    navigator.clipboard.writeText(document.getElementById(t.dataset.copy).textContent).then(function () {
      var was = t.textContent;
      t.textContent = 'Copied';
      setTimeout(function () { t.textContent = was; }, 1500);
    });
  }
});
document.addEventListener('submit', function (e) {
  var m = e.target.dataset.confirm;
  if (m && !confirm(m)) { e.preventDefault(); }
});
// A new key's first request: poll its health every 3 s, at most 200 times.
document.querySelectorAll('[data-wait-key]').forEach(function (el) {
  var n = 0;
  (function poll() {
    if (n++ >= 200) { return; }
    fetch(el.dataset.base + '/keys/' + el.dataset.waitKey + '/health', { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (h) {
        if (h.state === 'waiting') { setTimeout(poll, 3000); return; }
        el.className = 'badge ' + h.state;
        el.textContent = 'Your identity provider reached ' + el.dataset.product + ' with this key at ' + h.lastRequest + ': ' + h.words + '.';
      })
      .catch(function () { setTimeout(poll, 3000); });
  })();
});
