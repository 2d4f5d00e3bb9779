/* The machines overview, kept live: polls live.json every few seconds and updates each card in place.
 *
 * Plain JavaScript, no framework. Everything written into the page goes through textContent, never HTML.
 * Polling pauses while the tab is hidden and resumes at once when it comes back. A bad answer (an error
 * status, a login page, broken JSON) never throws out of a poll: the indicator says so and the next poll
 * tries again.
 */
(function () {
  "use strict";

  var PERIOD_MS = 3000;
  var TIMEOUT_MS = 8000;
  var STATE = /^[a-z]+$/;
  var status = document.querySelector("[data-live-url]");
  if (!status || !window.fetch) {
    return;
  }
  var url = status.getAttribute("data-live-url");
  var stateText = status.querySelector(".live-state");
  var timeText = status.querySelector(".live-time");
  var timer = null;
  var busy = false;
  var stopped = false;

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(date) {
    return two(date.getHours()) + ":" + two(date.getMinutes()) + ":" + two(date.getSeconds());
  }

  function show(kind, words, time) {
    status.hidden = false;
    status.className = "live-status " + kind;
    if (stateText.textContent !== words) {
      stateText.textContent = words; // a role=status region: only real changes are announced
    }
    timeText.textContent = time ? " · updated " + time : "";
  }

  function setText(card, selector, text) {
    var node = card.querySelector(selector);
    if (node && node.textContent !== text) {
      node.textContent = text;
    }
    return node;
  }

  function updateBadge(card, machine) {
    var badge = card.querySelector(".badge");
    if (badge && STATE.test(machine.state)) {
      badge.className = "badge state-" + machine.state;
      badge.textContent = String(machine.state_label || machine.state);
      card.setAttribute("data-state", machine.state);
    }
    var since = setText(card, ".since", "for " + String(machine.since_age || ""));
    if (since) {
      since.title = String(machine.since || "");
    }
    card.classList.toggle("unavailable", machine.available === false);
    var flag = card.querySelector(".flag-unavailable");
    if (flag) {
      flag.hidden = machine.available !== false;
    }
  }

  function updateJob(card, machine) {
    var job = card.querySelector(".job");
    if (job) {
      job.hidden = !machine.job;
      setText(job, ".job-name", machine.job ? String(machine.job) : "");
    }
    var progress = card.querySelector(".progress");
    var pct = Number(machine.progress_pct);
    if (progress) {
      var known = machine.progress_pct !== null && machine.progress_pct !== undefined && isFinite(pct);
      progress.hidden = !known;
      if (known) {
        var bar = progress.querySelector("progress");
        if (bar) {
          bar.value = pct;
          bar.textContent = pct + " %";
        }
        setText(progress, ".pct", pct + " %");
      }
    }
  }

  function updateReadings(card, machine) {
    var box = card.querySelector(".readings");
    if (!box || !Array.isArray(machine.readings)) {
      return;
    }
    var fresh = document.createDocumentFragment();
    machine.readings.forEach(function (reading) {
      var item = document.createElement("span");
      item.className = "reading";
      item.setAttribute("data-metric", String(reading.name));
      var label = document.createElement("span");
      label.className = "label";
      label.textContent = String(reading.label);
      item.appendChild(label);
      item.appendChild(document.createTextNode(" " + String(reading.text)));
      fresh.appendChild(item);
    });
    box.replaceChildren(fresh);
  }

  function updateCard(machine) {
    if (!machine || typeof machine.id !== "string") {
      return;
    }
    var card = document.querySelector('li.machine[data-machine="' + machine.id.replace(/[^a-z0-9-]/g, "") + '"]');
    if (!card) {
      return; // added since the page loaded: it appears on the next reload
    }
    updateBadge(card, machine);
    updateJob(card, machine);
    updateReadings(card, machine);
    setText(card, ".seen", String(machine.last_seen || ""));
  }

  function apply(body) {
    if (!body || !Array.isArray(body.machines)) {
      throw new Error("live.json without a machines list");
    }
    body.machines.forEach(function (machine) {
      try {
        updateCard(machine);
      } catch (err) {
        // one odd machine must not keep the others stale
      }
    });
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = null;
    if (!stopped && !document.hidden) {
      timer = window.setTimeout(poll, delay);
    }
  }

  function poll() {
    if (busy || stopped) {
      return;
    }
    busy = true;
    var aborter = window.AbortController ? new AbortController() : null;
    var guard = aborter ? window.setTimeout(function () { aborter.abort(); }, TIMEOUT_MS) : null;
    fetch(url, {
      credentials: "same-origin", cache: "no-store", redirect: "manual",
      headers: { Accept: "application/json" }, signal: aborter ? aborter.signal : undefined
    }).then(function (response) {
      if (response.status === 401 || response.type === "opaqueredirect") {
        stopped = true;
        throw new Error("signed out");
      }
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("application/json") !== 0) {
        throw new Error("bad answer " + response.status);
      }
      return response.json();
    }).then(function (body) {
      apply(body);
      showUnlessHidden("ok", "live", clock(new Date()));
    }).catch(function () {
      if (stopped) {
        show("lost", "signed out: reload the page to log in again", "");
      } else {
        showUnlessHidden("lost", "connection lost, retrying", "");
      }
    }).then(function () {
      window.clearTimeout(guard);
      busy = false;
      schedule(PERIOD_MS);
    });
  }

  // A poll answered after the tab was hidden keeps the indicator at paused: nothing polls until it is shown.
  function showUnlessHidden(kind, words, time) {
    if (document.hidden) {
      show("paused", "paused while the tab is hidden", "");
    } else {
      show(kind, words, time);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      schedule(0); // clears the timer: nothing runs while hidden
      if (!stopped) {
        show("paused", "paused while the tab is hidden", "");
      }
    } else {
      schedule(0);
    }
  });

  show("ok", "live", clock(new Date()));  // the page itself was rendered just now
  schedule(PERIOD_MS);
})();
