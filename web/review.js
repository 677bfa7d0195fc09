// Review queue: moderators allow or block the photos the model or a shopper flagged.
// Moderators sign in with their own account (staff-auth.js: Cognito, tokens in memory only, refreshed before they
// expire); every request carries the ID token as Authorization. A decision takes the photo off the
// page at once and is sent only when its undo window has passed, so "Undo" never needs a second request.
// Everything from the API reaches the DOM through textContent or attributes, never innerHTML.
(function () {
  "use strict";

  var GROUP = "moderators";
  var REQUEST_TIMEOUT_MS = 30 * 1000;
  var config = window.PHOTOMOD_CONFIG || {};
  // Both can be set in config.js (e.g. by a test); the API allows pages of 1 to 100.
  var PAGE_SIZE = setting(config.reviewPageSize, 24, 1, 100);
  var UNDO_MS = setting(config.undoSeconds, 5, 0, 60) * 1000;
  var messages = window.PHOTOMOD_MESSAGES;
  var DECISIONS = { allow: "Allowed", block: "Blocked" };

  var el = {
    signIn: document.getElementById("sign-in"),
    signInForm: document.getElementById("sign-in-form"),
    username: document.getElementById("username"),
    password: document.getElementById("password"),
    signedInAs: document.getElementById("signed-in-as"),
    error: document.getElementById("error"),
    queueSection: document.getElementById("queue-section"),
    count: document.getElementById("queue-count"),
    refresh: document.getElementById("refresh"),
    signOut: document.getElementById("sign-out"),
    empty: document.getElementById("empty"),
    queue: document.getElementById("queue"),
    more: document.getElementById("more"),
    toast: document.getElementById("toast"),
    toastText: document.getElementById("toast-text"),
    undo: document.getElementById("undo")
  };

  var apiUrl = typeof config.apiUrl === "string" && config.apiUrl.trim() ? config.apiUrl.trim().replace(/\/+$/, "") : null;
  var nextCursor = null;
  // Decisions still inside their undo window, oldest first: {imageId, decision, card, nextSibling, timer}.
  var pending = [];
  // Bumped by every (re)load, so an answer to an older load is ignored.
  var generation = 0;

  if (apiUrl === null) {
    showError("This page is not configured: config.js is missing or does not set window.PHOTOMOD_CONFIG.apiUrl. " +
      "Start the local stack (it writes web/config.js) and reload.");
    return;
  }

  var staff = window.PHOTOMOD_STAFF_AUTH.createSession({
    cognitoEndpoint: config.cognitoEndpoint,
    clientId: config.clientId,
    group: GROUP,
    onSignedOut: function (message) { if (message) { signOut(message); } }
  });

  el.signInForm.addEventListener("submit", onSignIn);
  el.signOut.addEventListener("click", function () { signOut(""); });
  el.refresh.addEventListener("click", function () { loadQueue(false); });
  el.more.addEventListener("click", function () { loadQueue(true); });
  el.undo.addEventListener("click", undoLast);
  el.queue.addEventListener("click", onQueueClick);
  el.queue.addEventListener("keydown", onQueueKey);
  document.addEventListener("keydown", function (event) {
    if (isPlainKey(event, "u") && !isTyping(event.target) && pending.length) {
      event.preventDefault();
      undoLast();
    }
  });
  // Leaving the page ends the undo windows: the decisions are sent now, not lost.
  window.addEventListener("pagehide", function () { flushPending(true); });

  showSignIn();

  function setting(value, fallback, low, high) {
    return typeof value === "number" && value >= low && value <= high ? value : fallback;
  }

  // ---- signing in -----------------------------------------------------------------------------------

  function onSignIn(event) {
    event.preventDefault();
    var username = el.username.value.trim();
    var password = el.password.value;
    el.username.removeAttribute("aria-invalid");
    el.password.removeAttribute("aria-invalid");
    if (!username || !password) {
      var missing = !username ? el.username : el.password;
      missing.setAttribute("aria-invalid", "true");
      showError(!username ? "Enter your user name." : "Enter your password.");
      missing.focus();
      return;
    }
    hideError();
    var button = el.signInForm.querySelector("button[type=submit]");
    button.disabled = true;
    staff.signIn(username, password).then(function (user) {
      button.disabled = false;
      el.password.value = "";
      el.signedInAs.textContent = "Signed in as " + user.username;
      showQueue();
      loadQueue(false);
    }, function (error) {
      button.disabled = false;
      el.password.value = "";
      el.password.setAttribute("aria-invalid", "true");
      showError(error.message);
      el.password.focus();
    });
  }

  function signOut(message) {
    flushPending(false);
    if (staff.signedIn()) { staff.signOut(""); }
    generation += 1;
    el.queue.textContent = "";
    el.signedInAs.textContent = "";
    hideToast();
    showSignIn();
    if (message) {
      showError(message);
    } else {
      hideError();
    }
  }

  function showSignIn() {
    el.queueSection.hidden = true;
    el.signIn.hidden = false;
    (el.username.value ? el.password : el.username).focus();
  }

  function showQueue() {
    el.signIn.hidden = true;
    el.queueSection.hidden = false;
  }

  // ---- loading the queue --------------------------------------------------------------------------

  function loadQueue(append) {
    var thisLoad = ++generation;
    var url = apiUrl + "/reviews?limit=" + PAGE_SIZE + (append && nextCursor ? "&cursor=" + encodeURIComponent(nextCursor) : "");
    setBusy(true);
    hideError();
    el.count.textContent = append ? "Loading more\u2026" : "Loading the queue\u2026";
    request("GET", url).then(function (reply) {
      if (thisLoad !== generation) { return; }
      if (reply.status !== 200) {
        clearCount();
        handleFailure(reply, "The queue could not be loaded");
        return;
      }
      var body = reply.body || {};
      var items = Array.isArray(body.items) ? body.items : [];
      if (!append) {
        el.queue.textContent = "";
      }
      items.forEach(function (item) {
        // The queue's index is eventually consistent: skip photos already shown or just decided.
        if (!cardFor(item.image_id) && !isPending(item.image_id)) {
          el.queue.appendChild(renderCard(item));
        }
      });
      nextCursor = body.next_cursor || null;
      updateCount();
      if (!append) {
        focusCard(el.queue.firstElementChild);
      }
    }).catch(function (error) {
      if (thisLoad === generation) {
        clearCount();
        showError("The queue could not be loaded: " + error.message);
      }
    }).then(function () {
      if (thisLoad === generation) { setBusy(false); }
    });
  }

  function setBusy(busy) {
    el.queue.setAttribute("aria-busy", busy ? "true" : "false");
    el.refresh.disabled = busy;
    el.more.disabled = busy;
  }

  function updateCount() {
    var shown = el.queue.children.length;
    el.empty.hidden = shown > 0 || Boolean(nextCursor);
    el.more.hidden = !nextCursor;
    el.count.textContent = shown === 0 ? (nextCursor ? "" : "The queue is empty.") :
      shown + (shown === 1 ? " photo" : " photos") + " shown" + (nextCursor ? ", more waiting." : ".");
  }

  // After a failed load: neither "empty" nor a count, the error says what happened.
  function clearCount() {
    el.count.textContent = "";
    el.empty.hidden = true;
  }

  // ---- one photo ----------------------------------------------------------------------------------

  function renderCard(item) {
    var id = String(item.image_id);
    var card = document.createElement("li");
    card.className = "review-card";
    card.tabIndex = 0;
    card.setAttribute("data-image-id", id);
    // The decision applies to the version shown here; the API refuses it if the photo was replaced since.
    card.setAttribute("data-object-version", item.object_version || "");
    card.setAttribute("data-testid", "review-card");
    card.setAttribute("aria-labelledby", "title-" + id);

    var title = humanLabel(item.prediction) || "Unlabelled photo";
    var image = document.createElement("img");
    image.className = "review-photo";
    image.loading = "lazy";
    image.alt = "Photo under review" + (item.original_filename ? ": " + item.original_filename : "");
    if (typeof item.image_url === "string" && /^https?:\/\//.test(item.image_url)) {
      image.src = item.image_url;
    }
    card.appendChild(image);

    var body = document.createElement("div");
    body.className = "review-body";

    var heading = document.createElement("h3");
    heading.id = "title-" + id;
    heading.textContent = title;
    if (typeof item.score === "number") {
      var score = document.createElement("span");
      score.className = "prediction-score";
      score.textContent = " " + percent(item.score);
      heading.appendChild(score);
    }
    body.appendChild(heading);

    var reasons = Array.isArray(item.verdict_reasons) ? item.verdict_reasons : [];
    var reasonList = document.createElement("ul");
    reasonList.className = "reasons";
    reasonList.setAttribute("aria-label", "Why it is here");
    (reasons.length ? reasons : [null]).forEach(function (reason) {
      var line = document.createElement("li");
      line.textContent = reason ? messages.reasonText(reason) : "Sent to review (no reason recorded)";
      if (reason && reason.category) { line.setAttribute("data-category", String(reason.category)); }
      reasonList.appendChild(line);
    });
    body.appendChild(reasonList);

    var labels = Array.isArray(item.labels) ? item.labels : [];
    if (labels.length) {
      var top = document.createElement("p");
      top.className = "meta top-labels";
      top.textContent = "Model's top labels: " + labels.slice(0, 5).map(function (label) {
        return humanLabel(label.label) + " " + percent(label.score);
      }).join(", ");
      body.appendChild(top);
    }
    var read = textRead(item.text);
    if (read) {
      var lines = document.createElement("p");
      lines.className = "meta text-read";
      lines.textContent = read;  // the photo's own text: never markup
      body.appendChild(lines);
    }
    var explicit = explicitScores(item.safety, reasons);
    if (explicit) {
      var scores = document.createElement("p");
      scores.className = "meta explicit-scores";
      scores.textContent = explicit;
      body.appendChild(scores);
    }
    if (item.model && item.model.weights === "untrained") {
      var warning = document.createElement("p");
      warning.className = "meta untrained";
      warning.textContent = "Untrained model weights: labels are random.";
      body.appendChild(warning);
    }
    var about = document.createElement("p");
    about.className = "meta";
    about.textContent = [item.original_filename, formatTime(item.classified_at)].filter(Boolean).join(" \u00b7 ");
    body.appendChild(about);

    var buttons = document.createElement("div");
    buttons.className = "decision-buttons";
    buttons.appendChild(decisionButton("allow", "Allow", title));
    buttons.appendChild(decisionButton("block", "Block", title));
    body.appendChild(buttons);

    card.appendChild(body);
    return card;
  }

  function decisionButton(decision, text, title) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "decision decision-" + decision;
    button.setAttribute("data-decision", decision);
    button.setAttribute("aria-keyshortcuts", decision === "allow" ? "A" : "B");
    button.textContent = text;
    // Visible text stays short; the accessible name says which photo.
    button.setAttribute("aria-label", text + " \u201c" + title + "\u201d");
    return button;
  }

  // ---- deciding -----------------------------------------------------------------------------------

  function onQueueClick(event) {
    var button = event.target.closest("button[data-decision]");
    if (button) {
      decide(button.closest(".review-card"), button.getAttribute("data-decision"));
    }
  }

  function onQueueKey(event) {
    var card = event.target.closest(".review-card");
    if (!card || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var key = event.key;
    if (isPlainKey(event, "a")) {
      event.preventDefault();
      decide(card, "allow");
    } else if (isPlainKey(event, "b")) {
      event.preventDefault();
      decide(card, "block");
    } else if (key === "ArrowRight" || key === "ArrowLeft" || key === "ArrowDown" || key === "ArrowUp") {
      event.preventDefault();
      var cards = Array.prototype.slice.call(el.queue.children);
      var step = key === "ArrowRight" ? 1 : key === "ArrowLeft" ? -1 : (key === "ArrowDown" ? 1 : -1) * columns(cards);
      var index = Math.max(0, Math.min(cards.length - 1, cards.indexOf(card) + step));
      focusCard(cards[index]);
    } else if (key === "Home" || key === "End") {
      event.preventDefault();
      focusCard(key === "Home" ? el.queue.firstElementChild : el.queue.lastElementChild);
    }
  }

  // How many cards sit side by side in the grid: those on the first card's row.
  function columns(cards) {
    var top = cards.length ? cards[0].offsetTop : 0;
    var count = cards.filter(function (card) { return card.offsetTop === top; }).length;
    return Math.max(1, count);
  }

  function decide(card, decision) {
    if (!card || !DECISIONS[decision]) { return; }
    var imageId = card.getAttribute("data-image-id");
    var entry = {
      imageId: imageId, objectVersion: card.getAttribute("data-object-version"), decision: decision,
      card: card, nextSibling: card.nextElementSibling, timer: 0
    };
    var following = card.nextElementSibling || card.previousElementSibling;
    card.remove();
    entry.timer = window.setTimeout(function () { send(entry); }, UNDO_MS);
    pending.push(entry);
    updateCount();
    showToast(DECISIONS[decision] + " \u201c" + card.querySelector("h3").firstChild.textContent + "\u201d.");
    if (following) {
      focusCard(following);
    } else {
      el.undo.focus();
    }
  }

  function undoLast() {
    var entry = pending.pop();
    if (!entry) { return; }
    window.clearTimeout(entry.timer);
    restore(entry);
    hideToastIfIdle();
    focusCard(entry.card);
  }

  function restore(entry) {
    if (entry.nextSibling && entry.nextSibling.parentNode === el.queue) {
      el.queue.insertBefore(entry.card, entry.nextSibling);
    } else {
      el.queue.appendChild(entry.card);
    }
    updateCount();
  }

  function flushPending(leaving) {
    pending.splice(0).forEach(function (entry) {
      window.clearTimeout(entry.timer);
      send(entry, leaving);
    });
  }

  function send(entry, leaving) {
    var index = pending.indexOf(entry);
    if (index !== -1) { pending.splice(index, 1); }
    hideToastIfIdle();
    var url = apiUrl + "/reviews/" + encodeURIComponent(entry.imageId);
    var body = { decision: entry.decision, object_version: entry.objectVersion };
    request("POST", url, body, leaving).then(function (reply) {
      if (reply.status === 200) { return; }
      var code = reply.body && reply.body.error && reply.body.error.code;
      if (code === "not_in_review" || code === "version_changed") {
        // Another moderator decided first, or the photo was replaced (its new version is judged on its own and
        // appears on a reload if it needs review); the photo stays off this page.
        showError(messages.errorText(code));
        return;
      }
      restore(entry);
      handleFailure(reply, "The decision was not saved");
    }).catch(function (error) {
      restore(entry);
      showError("The decision was not saved: " + error.message);
    });
  }

  function isPending(imageId) {
    return pending.some(function (entry) { return entry.imageId === imageId; });
  }

  // ---- HTTP -----------------------------------------------------------------------------------------

  // Resolves with {status, body} for any HTTP answer; rejects (with a readable message) when none came.
  function request(method, url, payload, keepalive) {
    return staff.idToken().then(function (token) {
      return callApi(method, url, payload, keepalive, token);
    }, function () {
      return { status: 401, body: null };
    });
  }

  function callApi(method, url, payload, keepalive, token) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var options = { method: method, headers: { Accept: "application/json", Authorization: token } };
    if (controller) { options.signal = controller.signal; }
    if (keepalive) { options.keepalive = true; }
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (ignored) { body = null; }
        return { status: response.status, body: body };
      });
    }).then(function (reply) {
      window.clearTimeout(timer);
      return reply;
    }, function (error) {
      window.clearTimeout(timer);
      throw new Error(error && error.name === "AbortError"
        ? "the service at " + hostOf(url) + " did not answer in time."
        : "could not reach the service at " + hostOf(url) + " (network error).");
    });
  }

  function handleFailure(reply, prefix) {
    // API Gateway's Cognito authorizer answers a missing, expired or refused token itself: 401 {"message": ...}.
    if (reply.status === 401) {
      signOut("Your session has ended. Sign in again.");
      return;
    }
    if (reply.status === 403 && reply.body && reply.body.error && reply.body.error.code === "not_in_group") {
      signOut("Your account is not in the moderators group, so it cannot use this page. Ask an administrator.");
      return;
    }
    if (reply.status === 429) {
      showError(prefix + ": too many requests right now. Wait a moment and try again.");
      return;
    }
    var code = reply.body && reply.body.error && reply.body.error.code;
    showError(prefix + ": " + messages.errorText(code, "the service answered HTTP " + reply.status + "."));
  }

  function hostOf(url) {
    try { return new URL(url).host; } catch (ignored) { return String(url); }
  }

  // ---- small helpers --------------------------------------------------------------------------------

  function focusCard(card) {
    if (card) { card.focus(); }
  }

  function isPlainKey(event, letter) {
    return !event.altKey && !event.ctrlKey && !event.metaKey && String(event.key).toLowerCase() === letter;
  }

  function isTyping(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
  }

  function showToast(text) {
    el.toastText.textContent = text + " ";
    el.toast.hidden = false;
  }

  function hideToast() {
    el.toast.hidden = true;
    el.toastText.textContent = "";
  }

  function hideToastIfIdle() {
    if (!pending.length) {
      hideToast();
    }
  }

  function showError(text) {
    el.error.textContent = text;
    el.error.hidden = false;
  }

  function hideError() {
    el.error.textContent = "";
    el.error.hidden = true;
  }

  function humanLabel(label) {
    return String(label === undefined || label === null ? "" : label).replace(/_/g, " ");
  }

  // Both explicit-content models' scores and the policy's rule that fired, e.g.
  // "Explicit content: nsfwjs porn 91%, hentai 1%, sexy 5% · Open-NSFW 1% · rule: nsfwjs confident + Open-NSFW low".
  // What the text check read in the photo, line by line ("" when it read nothing or did not run).
  function textRead(text) {
    var lines = text && Array.isArray(text.lines) ? text.lines : [];
    if (!lines.length) { return ""; }
    return "Text in the photo: " + lines.map(function (line) {
      return "\u201c" + String(line.text) + "\u201d";
    }).join(", ") + (text.truncated ? " (and more)" : "");
  }

  function explicitScores(safety, reasons) {
    if (!safety || !safety.probabilities) { return ""; }
    var scores = safety.probabilities;
    var parts = ["nsfwjs " + ["porn", "hentai", "sexy"].map(function (name) {
      return name + " " + percent(scores[name]);
    }).join(", ")];
    var second = safety.second_opinion;
    parts.push(second && typeof second.nsfw === "number" ? "Open-NSFW " + percent(second.nsfw) : "Open-NSFW not run");
    // The explicit table's cell (nsfwjs_<band>+open_nsfw_<band>); the checks' reasons have rules of their own.
    var fired = reasons.filter(function (reason) {
      return reason && typeof reason.rule === "string" && reason.rule.indexOf("nsfwjs_") === 0;
    });
    if (fired.length) {
      parts.push("rule: " + fired[0].rule.replace(/_/g, " ").replace("+", " + ").replace("open nsfw", "Open-NSFW"));
    }
    return "Explicit content: " + parts.join(" \u00b7 ");
  }

  function percent(score) {
    var value = typeof score === "number" && isFinite(score) ? Math.max(0, Math.min(1, score)) * 100 : 0;
    return value.toFixed(1) + "%";
  }

  function formatTime(iso) {
    if (!iso) { return ""; }
    var date = new Date(iso);
    return isNaN(date.getTime()) ? String(iso) : "classified " + date.toLocaleString();
  }

  function cardFor(imageId) {
    return Array.prototype.find.call(el.queue.children, function (card) {
      return card.getAttribute("data-image-id") === imageId;
    });
  }
})();
