/* semisynth: tell the rater when an answer did not reach the server. Argilla's UI moves on to the next record
   even when saving the response failed (server stopped or restarting), and says nothing: the answer is lost
   while the rater believes it was submitted. This banner stays until clicked; the record stays pending. */
(function () {
  var RESPONSES = /(^|\/)api\/v1\/(records\/[^/?]+\/responses|responses\/[^/?]+|me\/datasets\/[^/?]+\/records\/responses\/bulk|records\/responses\/bulk)/;

  function warn(why) {
    var el = document.getElementById("semisynth-unsaved");
    if (!el) {
      el = document.createElement("div");
      el.id = "semisynth-unsaved";
      el.setAttribute("role", "alert");
      el.title = "click to hide";
      el.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:2147483647;background:#b00020;color:#fff;" +
        "padding:12px 16px;font:600 15px/1.4 sans-serif;text-align:center;cursor:pointer";
      el.addEventListener("click", function () { el.remove(); });
      (document.body || document.documentElement).appendChild(el);
    }
    el.textContent = "Your last answer was NOT saved (" + why + "). It is still in your Pending queue: " +
      "when the server is back, reload the page and answer it again.";
  }

  function check(method, url, status) {
    if (method === "GET" || !RESPONSES.test(url)) return;
    if (status === 0) warn("the server did not answer");
    else if (status >= 500) warn("the server failed with " + status);
  }

  var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__semisynth = [String(method).toUpperCase(), String(url)];
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    var req = this, m = this.__semisynth;
    if (m) req.addEventListener("loadend", function () { check(m[0], m[1], req.status); });
    return send.apply(this, arguments);
  };

  if (window.fetch) {
    var fetch0 = window.fetch;
    window.fetch = function (input, init) {
      var url = String((input && input.url) || input);
      var method = String((init && init.method) || (input && input.method) || "GET").toUpperCase();
      return fetch0.apply(this, arguments).then(function (r) { check(method, url, r.status); return r; },
                                                function (e) { check(method, url, 0); throw e; });
    };
  }
})();
