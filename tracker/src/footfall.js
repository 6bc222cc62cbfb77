/*
 * footfall.js: the Footfall tracker. One source, two builds (scripts/build_tracker.py):
 * EXT=false gives footfall.js (pageviews, SPA, custom events, identify, batching, offline
 * queue, retry, sessions); EXT=true gives footfall.ext.js, which adds outbound links,
 * downloads, forms, 404, scroll depth / engaged time, page load time and script errors.
 *
 * Delivery is at-least-once, storage exactly-once: every event gets a client UUID and a
 * timestamp when it is tracked and stays in the localStorage queue until the server has
 * answered for it; the server drops event ids it has already stored.
 *
 * Rules: ES2017 at most (checked by the build test), no globals but window.footfall, and
 * nothing may throw into the host page (every entry point goes through `safe`).
 */
/* global EXT */
(function (w, d, nav) {
  'use strict';
  var safe = function (f) {
    return function () {
      try {
        return f.apply(this, arguments);
      } catch (e) { /* never into the host page */ }
    };
  };
  safe(function () {
    var script = d.currentScript || d.querySelector('script[data-site]');
    var attr = function (n) { return script.getAttribute('data-' + n); };
    var on = function (n) { return attr(n) === 'true'; };
    var loc = w.location;
    var key = attr('site');
    var endpoint = (attr('api') || new URL(script.src).origin).replace(/\/$/, '') + '/api/events';
    var hashMode = on('hash');
    var timeout = (+attr('session-timeout') || 30) * 6e4;
    var retries = attr('retries') ? +attr('retries') : 3;
    var MAX = 500, BATCH = 10, WAIT = 5e3, ERRORS = 5;
    var Q = 'footfall_q', S = 'footfall_s', V = 'footfall_v', U = 'footfall_u';
    var store = {};
    var ls;
    try { ls = w.localStorage; ls.getItem(Q); } catch (e) { ls = 0; }
    var get = function (k) {
      try { return JSON.parse(ls ? ls.getItem(k) : store[k]); } catch (e) { return null; }
    };
    var set = function (k, v) {
      v = JSON.stringify(v);
      try { ls ? ls.setItem(k, v) : (store[k] = v); } catch (e) { store[k] = v; }
    };
    var uuid = function () {
      return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, function (c) {
        return (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16);
      });
    };
    // "Don't count my own visits": a page opened with #footfall-ignore sets the flag in this
    // browser (#footfall-unignore clears it); while it is "true", nothing is sent.
    var IG = 'footfall_ignore', hash = loc.hash;
    if (ls && hash == '#footfall-ignore') ls.setItem(IG, 'true');
    if (ls && hash == '#footfall-unignore') ls.removeItem(IG);
    var dnt = ls && ls.getItem(IG) === 'true' ||
      on('respect-dnt') && (nav.doNotTrack == '1' || w.doNotTrack == '1' || nav.globalPrivacyControl);
    var visitor = on('persist') ? get(V) || uuid() : 0;
    if (visitor) set(V, visitor);
    var user = get(U) || {};
    var last, timer, busy, again, ok, tries = 0;

    var session = function () {
      var s = get(S), now = Date.now();
      if (!s || now - s.t > timeout) s = { id: uuid() };
      s.t = now;
      set(S, s);
      return s.id;
    };
    var path = function () { return loc.pathname + (hashMode ? loc.hash : ''); };

    var send = function () {
      clearTimeout(timer);
      timer = 0;
      var q = get(Q) || [];
      if (busy) again = 1;
      if (busy || dnt || !q.length) return;
      again = 0;
      busy = 1;
      var ids = q.map(function (e) { return e.event_id; });
      fetch(endpoint, { method: 'POST', body: JSON.stringify({ api_key: key, events: q }) })
        .then(function (r) {
          // 4xx other than 429: the server judged these events; retrying cannot help.
          if (r.status > 499 || r.status == 429) throw 0;
          set(Q, (get(Q) || []).filter(function (e) { return ids.indexOf(e.event_id) < 0; }));
          busy = 0;
          ok = 1;
          tries = 0;
          // A send asked for while this one was in flight (e.g. flush()) goes now.
          if ((get(Q) || []).length) timer = setTimeout(send, again ? 0 : WAIT);
        })
        .catch(function () {
          busy = ok = 0;
          // Backoff 1, 2, 4 ... 30 s; after `retries` the batch waits for `online` or a reload.
          if (tries < retries) timer = setTimeout(send, Math.min(30, 1 << tries++) * 1e3);
        });
    };

    var push = function (e) {
      if (dnt) return;
      var q = get(Q) || [];
      q.push(e);
      set(Q, q.slice(-MAX));
      if (q.length >= BATCH) send();
      else if (!timer && !busy) timer = setTimeout(send, WAIT);
    };

    var event = function (type, extra) {
      var e = {
        event_type: type,
        event_id: uuid(),
        timestamp: Date.now(),
        path: path().slice(0, 2048),
        url: loc.href.slice(0, 2048),
        referrer: d.referrer.slice(0, 2048),
        title: d.title.slice(0, 512),
        screen: screen.width + 'x' + screen.height,
        language: nav.language,
        session_id: session()
      };
      if (visitor) e.visitor_id = visitor;
      if (user.id) e.user_id = user.id;
      if (user.props) e.user_props = user.props;
      for (var k in extra) if (extra[k] != null) e[k] = extra[k];
      push(e);
      return e;
    };

    var api = {
      track: function (name, props, userProps) {
        event(name, { metadata: props, user_props: userProps && Object.assign({}, user.props, userProps) });
      },
      trackPageView: function (extra) {
        if (EXT) leave(1);
        if (EXT) errors = {};
        last = path();
        event('pageview', extra);
        if (EXT) start();
      },
      trackOutbound: function (url) {
        api.track('Outbound Link: Click', { url: url });
      },
      identify: function (id, props) {
        user = id == null ? {} : { id: '' + id, props: props || user.props };
        set(U, user);
      },
      flush: function () {
        tries = 0;
        send();
      }
    };

    var auto = function () { if (path() !== last) api.trackPageView(); };

    var beacon = function () {
      var q = get(Q) || [];
      if (dnt || !q.length) return;
      var body = JSON.stringify({ api_key: key, events: q });
      var sent = nav.sendBeacon && nav.sendBeacon(endpoint, body);
      if (!sent) fetch(endpoint, { method: 'POST', body: body, keepalive: true }).catch(function () {});
      // Keep the events when the server was not known to be up: the next load resends them
      // and the server drops the ids it already has.
      else if (ok) set(Q, []);
    };

    /* ---- extended build: all of it inside `if (EXT)`, so the default build drops it -- */
    var engaged, since, depth, start, leave, errors;
    if (EXT) {
      errors = {};
      var scroll = function () {
        var h = d.documentElement, b = d.body;
        var total = Math.max(h.scrollHeight, b ? b.scrollHeight : 0);
        depth = Math.max(depth, Math.min(100, Math.round(total ? (w.scrollY + h.clientHeight) * 100 / total : 100)));
      };
      start = function () {
        engaged = depth = 0;
        since = d.visibilityState == 'visible' ? Date.now() : 0;
        scroll();
      };
      leave = function (all) {
        if (!on('engagement') || !last) return;
        if (since) engaged += Date.now() - since;
        since = 0;
        // Engaged time since the last engagement event of this pageview, and the deepest
        // scroll so far; sent for the page being left (before an SPA's next pageview).
        if (engaged || all) {
          event('engagement', { interactive: false, engaged_ms: Math.min(engaged, 864e5), scroll_depth: depth, path: last.slice(0, 2048) });
        }
        engaged = 0;
      };
      if (!dnt) {
        if (on('engagement')) {
          w.addEventListener('scroll', safe(scroll), { passive: true });
          d.addEventListener('visibilitychange', safe(function () {
            if (d.visibilityState == 'visible') since = Date.now();
          }));
        }
        d.addEventListener('click', safe(function (e) {
          var a = e.target;
          while (a && !(a.href && a.host !== undefined)) a = a.parentNode;
          if (!a) return;
          if (on('downloads') && /\.(pdf|xlsx?|docx?|txt|rtf|csv|exe|key|pps|pptx?|7z|pkg|rar|gz|zip|avi|mov|mp4|mpe?g|wmv|midi?|mp3|wav|wma|dmg|iso|msi)$/i.test(a.pathname)) {
            api.track('File Download', { url: a.href });
          } else if (on('outbound') && /^https?:$/.test(a.protocol) && a.host !== loc.host) {
            api.trackOutbound(a.href);
          }
        }), true);
        if (on('errors')) {
          // Uncaught errors as "JS Error" events: each message, source and line once per
          // pageview, and at most ERRORS of them, so an error thrown in a loop or on every
          // animation frame costs a few events, not a flood that pushes pageviews out of
          // the offline queue.
          w.addEventListener('error', safe(function (e) {
            var m = ('' + (e.message || 'Error')).slice(0, 300), src = ('' + (e.filename || '')).slice(0, 300);
            var k = m + '|' + src + '|' + e.lineno, n = Object.keys(errors).length;
            if (errors[k] || n >= ERRORS) return;
            errors[k] = 1;
            api.track('JS Error', { message: m, source: src, line: e.lineno || 0 });
          }));
        }
        if (on('forms')) {
          d.addEventListener('submit', safe(function (e) {
            var f = e.target;
            api.track('Form: Submission', { form: f.id || f.getAttribute('name') || f.getAttribute('action') || path() });
          }), true);
        }
      }
    }

    var F = w.footfall;
    var dispatch = safe(function (a) {
      var f = api[a[0]];
      if (f) f.apply(api, [].slice.call(a, 1));
    });
    var pub = function () { dispatch(arguments); };
    for (var name in api) pub[name] = safe(api[name]);
    pub.q = { push: dispatch };
    w.footfall = pub;

    var leaveAll = safe(function () {
      if (!last && !dnt) auto();
      leave();
      beacon();
    });
    w.addEventListener('pagehide', leaveAll);
    d.addEventListener('visibilitychange', function () { if (d.visibilityState == 'hidden') leaveAll(); });
    w.addEventListener('online', pub.flush);

    var first = safe(function () {
      // Calls queued before the script loaded come first (an identify, or a manual
      // trackPageView that makes the automatic one a no-op).
      if (F && F.q) [].forEach.call(F.q, dispatch);
      if (attr('auto') !== 'false' && !last) {
        var extra = 0;
        if (EXT) {
          var nt = on('load-time') && performance.getEntriesByType('navigation')[0];
          if (nt && nt.loadEventEnd > 0) extra = { load_time_ms: Math.min(6e5, Math.round(nt.loadEventEnd)) };
        }
        api.trackPageView(extra);
      }
      if (EXT && (on('404') || d.querySelector('meta[name="footfall:404"]'))) api.track('404', { path: path() });
      if ((get(Q) || []).length) send();
    });
    if (attr('auto') !== 'false') {
      var h = w.history;
      ['pushState', 'replaceState'].forEach(function (k) {
        var orig = h[k];
        h[k] = function () {
          var r = orig.apply(this, arguments);
          safe(auto)();
          return r;
        };
      });
      w.addEventListener('popstate', safe(auto));
      if (hashMode) w.addEventListener('hashchange', safe(auto));
    }
    if (EXT && on('load-time') && d.readyState != 'complete') {
      // Wait for the load event so that the first pageview carries its load time.
      w.addEventListener('load', function () { setTimeout(first); });
    } else {
      first();
    }
  })();
})(window, document, navigator);
