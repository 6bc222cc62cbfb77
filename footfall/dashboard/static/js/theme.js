// Dark mode: follows prefers-color-scheme until the user picks one with the toggle,
// which is remembered in localStorage. Loaded as a classic script in <head> so the page
// never flashes the wrong theme.
(function () {
  var KEY = 'footfall-theme';
  var root = document.documentElement;
  function stored() { try { return localStorage.getItem(KEY); } catch (e) { return null; } }
  function apply(theme) {
    if (theme === 'dark' || theme === 'light') root.setAttribute('data-theme', theme);
    else root.removeAttribute('data-theme');
  }
  apply(stored());
  function current() {
    var t = root.getAttribute('data-theme');
    if (t) return t;
    return window.matchMedia && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }
  document.addEventListener('DOMContentLoaded', function () {
    var button = document.getElementById('theme-toggle');
    if (!button) return;
    button.setAttribute('aria-pressed', String(current() === 'dark'));
    button.addEventListener('click', function () {
      var next = current() === 'dark' ? 'light' : 'dark';
      try { localStorage.setItem(KEY, next); } catch (e) { /* private mode */ }
      apply(next);
      button.setAttribute('aria-pressed', String(next === 'dark'));
      document.dispatchEvent(new CustomEvent('footfall:theme', { detail: next }));
    });
  });
})();
