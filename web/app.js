// Photo check: upload product-review photos straight to S3 with presigned POSTs, then poll the API for each
// photo's ResNet50 prediction and moderation verdict. Plain browser JavaScript, no build step, no dependencies.
// Everything that comes from the API or S3 reaches the DOM through textContent, never innerHTML.
// Plain words for API codes live in messages.js (window.PHOTOMOD_MESSAGES), shared with the review page; the
// image types taken in formats.js (window.PHOTOMOD_FORMATS), generated from the service's table.
(function () {
  "use strict";

  var MAX_BYTES = 10 * 1024 * 1024;
  // Photos uploaded and polled at the same time; the rest wait their turn.
  var MAX_PARALLEL = 3;
  var POLL_INTERVAL_MS = 750;
  var POLL_TIMEOUT_MS = 120 * 1000;
  // Polling survives a few blips (a cold Lambda, a dropped connection) before giving up.
  var MAX_CONSECUTIVE_POLL_ERRORS = 5;
  var REQUEST_TIMEOUT_MS = 30 * 1000;
  var FEEDBACK_LABEL_MAX = 200;
  var FEEDBACK_COMMENT_MAX = 1000;

  // The types the service takes: formats.js, generated from the service's one table (make web-formats).
  var FORMATS = window.PHOTOMOD_FORMATS;

  var VERDICTS = {
    allow: { text: "Can be shown", className: "badge-allow" },
    review: { text: "Needs review", className: "badge-review" },
    block: { text: "Blocked", className: "badge-block" }
  };
  var messages = window.PHOTOMOD_MESSAGES;

  var el = {
    dropZone: document.getElementById("drop-zone"),
    fileInput: document.getElementById("file-input"),
    status: document.getElementById("status"),
    error: document.getElementById("error"),
    photos: document.getElementById("photos"),
    list: document.getElementById("photo-list"),
    template: document.getElementById("photo-template"),
    fileHelp: document.getElementById("file-help")
  };
  el.fileInput.accept = FORMATS.contentTypes.concat(Object.keys(FORMATS.typesByExtension).map(function (extension) {
    return "." + extension;
  })).join(",");
  el.fileHelp.textContent = FORMATS.inWords + ", up to 10 MB each.";

  var nextPhotoNumber = 1;
  var waiting = [];
  var running = 0;

  var apiUrl = readApiUrl();
  if (apiUrl === null) {
    showError(
      "This page is not configured: config.js is missing or does not set window.PHOTOMOD_CONFIG.apiUrl. " +
      "Start the local stack (it writes web/config.js) and reload."
    );
    el.fileInput.disabled = true;
    el.dropZone.classList.add("disabled");
    return;
  }

  el.fileInput.addEventListener("change", function () {
    var files = Array.prototype.slice.call(el.fileInput.files || []);
    // Cleared so that choosing the same file again still fires "change".
    el.fileInput.value = "";
    addPhotos(files);
  });
  wireDropZone();

  // ---- configuration -------------------------------------------------------------------------------

  function readApiUrl() {
    var config = window.PHOTOMOD_CONFIG;
    if (!config || typeof config.apiUrl !== "string" || config.apiUrl.trim() === "") {
      return null;
    }
    return config.apiUrl.trim().replace(/\/+$/, "");
  }

  // ---- choosing files ------------------------------------------------------------------------------

  function wireDropZone() {
    ["dragenter", "dragover"].forEach(function (name) {
      el.dropZone.addEventListener(name, function (event) {
        event.preventDefault();
        if (event.dataTransfer) {
          event.dataTransfer.dropEffect = "copy";
        }
        el.dropZone.classList.add("drag-over");
      });
    });
    ["dragleave", "dragend"].forEach(function (name) {
      el.dropZone.addEventListener(name, function () {
        el.dropZone.classList.remove("drag-over");
      });
    });
    el.dropZone.addEventListener("drop", function (event) {
      event.preventDefault();
      el.dropZone.classList.remove("drag-over");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || files.length === 0) {
        showError("Nothing to upload: drop photo files.");
        return;
      }
      addPhotos(Array.prototype.slice.call(files));
    });
    // A photo dropped beside the drop zone would otherwise make the browser navigate away to the file.
    window.addEventListener("dragover", function (event) { event.preventDefault(); });
    window.addEventListener("drop", function (event) { event.preventDefault(); });
  }

  function contentTypeOf(file) {
    var type = (file.type || "").toLowerCase();
    if (type && type !== "application/octet-stream") {
      return type;
    }
    var match = /\.([A-Za-z0-9]+)$/.exec(file.name || "");
    return match ? FORMATS.typesByExtension[match[1].toLowerCase()] || type : type;
  }

  // Returns an error message, or null when the file may be uploaded. The API checks again.
  function validationError(file, contentType) {
    if (FORMATS.contentTypes.indexOf(contentType) === -1) {
      return "\u201c" + file.name + "\u201d is not a supported image (" + (contentType || "unknown type") +
        "). Choose a " + FORMATS.inWords + " photo.";
    }
    if (file.size === 0) {
      return "\u201c" + file.name + "\u201d is empty. Choose another photo.";
    }
    if (file.size > MAX_BYTES) {
      return "\u201c" + file.name + "\u201d is " + formatMegabytes(file.size) +
        "; the limit is 10 MB. Choose a smaller photo.";
    }
    return null;
  }

  // Every chosen file gets its card at once, with its preview; uploads start as slots free up.
  function addPhotos(files) {
    hideError();
    if (!files.length) {
      return;
    }
    var batch = { photos: [], settled: 0 };
    files.forEach(function (file) {
      var photo = createPhoto(file, batch);
      batch.photos.push(photo);
      var problem = validationError(file, photo.contentType);
      if (problem) {
        failPhoto(photo, problem);
      } else {
        setPhotoStatus(photo, "Waiting to upload\u2026");
        waiting.push(photo);
      }
    });
    el.photos.hidden = false;
    setStatus(files.length === 1 ? "1 photo added." : files.length + " photos added.");
    startWaiting();
  }

  function startWaiting() {
    while (running < MAX_PARALLEL && waiting.length) {
      running += 1;
      checkPhoto(waiting.shift()).then(function () {
        running -= 1;
        startWaiting();
      });
    }
  }

  // ---- one photo's card ----------------------------------------------------------------------------

  function createPhoto(file, batch) {
    var number = nextPhotoNumber++;
    var node = el.template.content.firstElementChild.cloneNode(true);
    var photo = {
      number: number,
      file: file,
      contentType: contentTypeOf(file),
      batch: batch,
      imageId: null,
      previewUrl: null,
      node: node,
      find: function (selector) { return node.querySelector(selector); }
    };
    node.id = "photo-" + number;
    linkLabel(photo, ".inappropriate", ".inappropriate-label", "inappropriate");
    linkLabel(photo, ".correct-label", ".correct-label-label", "correct-label");
    linkLabel(photo, ".comment", ".comment-label", "comment");
    linkLabel(photo, ".progress", ".progress-label", "progress");
    photo.find(".photo-heading").textContent = file.name || "Photo " + number;
    photo.find(".photo-heading").id = "photo-" + number + "-heading";
    node.setAttribute("aria-labelledby", "photo-" + number + "-heading");
    showPreview(photo);
    photo.find(".feedback").addEventListener("submit", function (event) { onFeedbackSubmit(event, photo); });
    el.list.appendChild(node);
    return photo;
  }

  function linkLabel(photo, inputSelector, labelSelector, name) {
    var id = "photo-" + photo.number + "-" + name;
    photo.find(inputSelector).id = id;
    photo.find(labelSelector).setAttribute("for", id);
  }

  // The shopper sees the photo as soon as it is chosen; the browser decodes it locally, nothing is sent.
  function showPreview(photo) {
    var image = photo.find(".preview-image");
    var caption = photo.find(".preview-caption");
    caption.textContent = photo.file.name;
    image.alt = "Preview of " + (photo.file.name || "your photo");
    if (FORMATS.contentTypes.indexOf(photo.contentType) === -1) {
      image.hidden = true;
      return;
    }
    photo.previewUrl = URL.createObjectURL(photo.file);
    image.addEventListener("error", function () {
      image.hidden = true;
      // HEIC and TIFF: most browsers cannot draw them (Safari can), the service can still check them.
      caption.textContent = photo.file.name + (FORMATS.browserDisplays.indexOf(photo.contentType) === -1
        ? " (no preview in this browser)" : " (the browser could not draw a preview: the file may be damaged)");
    });
    image.src = photo.previewUrl;
  }

  // ---- one photo: create upload, send to S3, poll for the result ------------------------------------

  function checkPhoto(photo) {
    setPhotoStatus(photo, "Preparing upload\u2026");
    return createUpload(photo.file, photo.contentType)
      .then(function (upload) {
        photo.imageId = upload.image_id;
        photo.node.setAttribute("data-image-id", upload.image_id);
        setPhotoStatus(photo, "Uploading\u2026");
        showProgress(photo, 0);
        return uploadToS3(upload.upload, photo).then(function () { return upload; });
      })
      .then(function (upload) {
        hideProgress(photo);
        setPhotoStatus(photo, "Checking the photo\u2026");
        return pollForResult(upload.result_url);
      })
      .then(function (prediction) {
        if (prediction.status === "done") {
          setPhotoStatus(photo, "");
          showResult(photo, prediction);
          settle(photo, (VERDICTS[prediction.verdict] || { text: "checked" }).text + ".");
        } else {
          var err = prediction.error || {};
          failPhoto(photo, "We could not check this photo. " + messages.errorText(err.code, err.message));
        }
      })
      .catch(function (error) {
        hideProgress(photo);
        failPhoto(photo, error && error.message ? error.message : String(error));
      });
  }

  function failPhoto(photo, text) {
    setPhotoStatus(photo, "");
    var error = photo.find(".photo-error");
    error.textContent = text;
    error.hidden = false;
    photo.node.classList.add("is-failed");
    settle(photo, "not checked: " + text);
  }

  // One photo reached its end. When the whole batch has, focus moves to the first photo's result.
  function settle(photo, summary) {
    photo.batch.settled += 1;
    setStatus((photo.file.name || "Photo " + photo.number) + ": " + summary);
    if (photo.batch.settled === photo.batch.photos.length) {
      photo.batch.photos[0].find(".photo-heading").focus();
    }
  }

  function createUpload(file, contentType) {
    return requestJson("POST", apiUrl + "/uploads", {
      filename: file.name,
      content_type: contentType,
      size: file.size
    }).then(function (reply) {
      if (reply.status !== 201 && reply.status !== 200) {
        throw new Error(apiErrorMessage("The upload was refused", reply));
      }
      var body = reply.body || {};
      if (!body.image_id || !body.upload || !body.upload.url || !body.result_url) {
        throw new Error("The service answered in a way this page does not understand. Reload the page and try again.");
      }
      return body;
    });
  }

  // XMLHttpRequest rather than fetch: fetch has no upload progress events.
  function uploadToS3(upload, photo) {
    return new Promise(function (resolve, reject) {
      var form = new FormData();
      var fields = upload.fields || {};
      Object.keys(fields).forEach(function (name) {
        form.append(name, fields[name]);
      });
      // S3 ignores every form field that comes after the file, so the file goes last.
      form.append("file", photo.file, photo.file.name);

      var xhr = new XMLHttpRequest();
      xhr.open("POST", upload.url);
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) {
          showProgress(photo, Math.round((event.loaded / event.total) * 100));
        }
      };
      xhr.onload = function () {
        if (xhr.status === 200 || xhr.status === 201 || xhr.status === 204) {
          showProgress(photo, 100);
          resolve();
          return;
        }
        reject(new Error(s3ErrorMessage(xhr)));
      };
      xhr.onerror = function () {
        reject(new Error("The upload failed: the connection to " + hostOf(upload.url) + " was lost or refused. " +
          "Check your connection and try again."));
      };
      xhr.ontimeout = function () {
        reject(new Error("The upload took too long and was stopped. Check your connection and try again."));
      };
      xhr.timeout = 5 * 60 * 1000;
      xhr.send(form);
    });
  }

  function s3ErrorMessage(xhr) {
    var code = "";
    try {
      var xml = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
      var node = xml.getElementsByTagName("Code")[0];
      code = node && node.textContent ? node.textContent.trim() : "";
    } catch (ignored) {
      // Not XML: the status alone has to do.
    }
    if (code === "EntityTooLarge") {
      return messages.errorText("file_too_large");
    }
    if (code === "AccessDenied" || code === "ExpiredToken" || code === "RequestTimeTooSkewed") {
      return "The upload link expired or was refused. Choose the photo again.";
    }
    return "Storage refused the upload (HTTP " + xhr.status + (code ? ", " + code : "") + "). Try again.";
  }

  function pollForResult(resultUrl) {
    var deadline = Date.now() + POLL_TIMEOUT_MS;
    var consecutiveErrors = 0;
    var lastProblem = "";

    return new Promise(function (resolve, reject) {
      function again() {
        if (Date.now() >= deadline) {
          reject(new Error(
            "Still no result after " + Math.round(POLL_TIMEOUT_MS / 1000) + " s. " +
            "The photo was uploaded; look again later." + (lastProblem ? " Last problem: " + lastProblem : "")
          ));
          return;
        }
        window.setTimeout(poll, POLL_INTERVAL_MS);
      }

      function poll() {
        requestJson("GET", resultUrl).then(function (reply) {
          var body = reply.body || {};
          // 404: the upload event has not reached the classifier yet, so no record exists. Keep waiting.
          if (reply.status === 404) {
            consecutiveErrors = 0;
            again();
            return;
          }
          if (reply.status !== 200) {
            if (reply.status >= 400 && reply.status < 500) {
              reject(new Error(apiErrorMessage("Could not get the result", reply)));
              return;
            }
            throw new Error(apiErrorMessage("Could not get the result", reply));
          }
          consecutiveErrors = 0;
          if (body.status === "done" || body.status === "failed") {
            resolve(body);
            return;
          }
          again();
        }).catch(function (error) {
          consecutiveErrors += 1;
          lastProblem = error && error.message ? error.message : String(error);
          if (consecutiveErrors >= MAX_CONSECUTIVE_POLL_ERRORS) {
            reject(new Error(lastProblem));
            return;
          }
          again();
        });
      }

      poll();
    });
  }

  // ---- feedback ------------------------------------------------------------------------------------

  function onFeedbackSubmit(event, photo) {
    event.preventDefault();
    var labelInput = photo.find(".correct-label");
    var commentInput = photo.find(".comment");
    var inappropriate = photo.find(".inappropriate").checked;
    var label = labelInput.value.trim();
    var comment = commentInput.value.trim();
    var problem = null;
    var invalid = null;
    if (!label && !inappropriate) {
      problem = "Say what the photo shows, or tick \u201cinappropriate\u201d to report it.";
      invalid = labelInput;
    } else if (label.length > FEEDBACK_LABEL_MAX) {
      problem = "The label can be at most " + FEEDBACK_LABEL_MAX + " characters.";
      invalid = labelInput;
    } else if (comment.length > FEEDBACK_COMMENT_MAX) {
      problem = "The comment can be at most " + FEEDBACK_COMMENT_MAX + " characters.";
      invalid = commentInput;
    }
    labelInput.removeAttribute("aria-invalid");
    commentInput.removeAttribute("aria-invalid");
    if (problem) {
      setFeedbackStatus(photo, problem, true);
      invalid.setAttribute("aria-invalid", "true");
      invalid.focus();
      return;
    }

    var submit = photo.find(".feedback-submit");
    submit.disabled = true;
    setFeedbackStatus(photo, "Sending\u2026", false);
    requestJson("POST", apiUrl + "/predictions/" + encodeURIComponent(photo.imageId) + "/feedback", {
      correct_label: label,
      comment: comment,
      inappropriate: inappropriate
    }).then(function (reply) {
      if (reply.status === 201 || reply.status === 200) {
        var sentToReview = Boolean(reply.body && reply.body.sent_to_review);
        setFeedbackStatus(photo, sentToReview
          ? "Thanks \u2014 feedback recorded. The photo is hidden until a moderator has looked at it."
          : "Thanks \u2014 feedback recorded", false);
        photo.find(".feedback").reset();
        if (sentToReview) {
          showVerdict(photo, "review");
        }
      } else {
        setFeedbackStatus(photo, apiErrorMessage("Your feedback was not recorded", reply), true);
      }
    }).catch(function (error) {
      setFeedbackStatus(photo, error && error.message ? error.message : String(error), true);
    }).then(function () {
      submit.disabled = false;
    });
  }

  // ---- HTTP helpers --------------------------------------------------------------------------------

  // Resolves with {status, body} for any HTTP answer (body is null unless it is JSON);
  // rejects only when no answer arrived.
  function requestJson(method, url, payload) {
    // fetch never times out by itself; a hung API must not leave the page waiting forever.
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var options = { method: method, headers: { Accept: "application/json" } };
    if (controller) {
      options.signal = controller.signal;
    }
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    return fetch(url, options).then(
      function (response) {
        return response.text().then(function (text) {
          var body = null;
          if (text) {
            try { body = JSON.parse(text); } catch (ignored) { body = null; }
          }
          return { status: response.status, body: body };
        });
      }
    ).then(
      function (reply) {
        window.clearTimeout(timer);
        return reply;
      },
      function (error) {
        window.clearTimeout(timer);
        if (error && error.name === "AbortError") {
          throw new Error("The service did not answer within " + Math.round(REQUEST_TIMEOUT_MS / 1000) +
            " s. Try again in a moment.");
        }
        throw new Error("Could not reach the service at " + hostOf(url) + ". Check your connection and try again.");
      }
    );
  }

  // The friendly text of the API's error code (messages.js); the API's own words only for a code it lacks.
  function apiErrorMessage(prefix, reply) {
    var err = (reply.body && reply.body.error) || {};
    if (reply.status === 429) {
      return prefix + ": too many requests right now. Wait a moment and try again.";
    }
    var fallback = err.message ? err.message : "the service answered HTTP " + reply.status + ".";
    return prefix + ". " + messages.errorText(err.code, fallback);
  }

  function hostOf(url) {
    try { return new URL(url).host; } catch (ignored) { return String(url); }
  }

  // ---- rendering a result: one function per part, so a new part is one more call in showResult ------

  function showResult(photo, prediction) {
    photo.node.setAttribute("data-image-id", prediction.image_id || photo.imageId || "");
    photo.find(".image-id").textContent = prediction.image_id || photo.imageId || "";
    showVerdict(photo, prediction.verdict);
    showReasons(photo, prediction.verdict_reasons);
    showPrediction(photo, prediction);
    showLabels(photo, prediction.labels);
    showModel(photo, prediction.model);
    showSafety(photo, prediction.safety);
    photo.find(".result").hidden = false;
    photo.find(".feedback").hidden = false;
  }

  function showVerdict(photo, verdictCode) {
    var badge = photo.find(".verdict");
    var verdict = VERDICTS[verdictCode];
    badge.className = "badge verdict " + (verdict ? verdict.className : "badge-unknown");
    badge.textContent = verdict ? verdict.text : "Unknown verdict: " + String(verdictCode);
    badge.setAttribute("data-verdict", String(verdictCode));
  }

  function showReasons(photo, reasons) {
    var list = photo.find(".reasons");
    list.textContent = "";
    (Array.isArray(reasons) ? reasons : []).forEach(function (reason) {
      var item = document.createElement("li");
      item.textContent = messages.reasonText(reason);
      item.setAttribute("data-category", String(reason && reason.category));
      list.appendChild(item);
    });
    list.hidden = list.children.length === 0;
  }

  function showPrediction(photo, prediction) {
    var label = photo.find(".prediction");
    label.textContent = humanLabel(prediction.prediction);
    label.setAttribute("data-label", String(prediction.prediction));
    photo.find(".prediction-score").textContent =
      typeof prediction.score === "number" ? "(" + percent(prediction.score) + ")" : "";
  }

  function showLabels(photo, labels) {
    var body = photo.find(".labels tbody");
    body.textContent = "";
    (Array.isArray(labels) ? labels : []).forEach(function (item, index) {
      body.appendChild(labelRow(item, index + 1));
    });
  }

  function showModel(photo, model) {
    model = model || {};
    photo.find(".model").textContent = "Model: " + (model.name || "unknown") + ", weights: " + (model.weights || "unknown");
    photo.find(".untrained-warning").hidden = model.weights !== "untrained";
  }

  // The explicit-content model's five probabilities, most likely first, e.g. "neutral 92.9%, drawing 6.8%, ...".
  function showSafety(photo, safety) {
    var line = photo.find(".safety");
    line.setAttribute("data-top-class", safety ? String(safety.top_class) : "");
    if (!safety || !safety.probabilities) {
      line.textContent = "not checked (no safety model on this stack)";
      return;
    }
    var scores = safety.probabilities;
    line.textContent = Object.keys(scores)
      .sort(function (a, b) { return scores[b] - scores[a]; })
      .map(function (name) { return name + " " + percent(scores[name]); })
      .join(", ") + (safety.model ? " (" + safety.model.name + " " + safety.model.version + ")" : "");
  }

  function labelRow(item, rank) {
    var row = document.createElement("tr");
    row.setAttribute("data-label", String(item.label));

    var rankCell = document.createElement("td");
    rankCell.className = "rank";
    rankCell.textContent = String(rank);

    var labelCell = document.createElement("td");
    labelCell.className = "label";
    labelCell.textContent = humanLabel(item.label);
    if (item.wnid) {
      labelCell.title = String(item.wnid);
    }

    var scoreCell = document.createElement("td");
    scoreCell.className = "score";
    var bar = document.createElement("span");
    bar.className = "bar";
    bar.setAttribute("aria-hidden", "true");
    var fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.width = clampPercent(item.score) + "%";
    bar.appendChild(fill);
    var value = document.createElement("span");
    value.className = "score-value";
    value.textContent = percent(item.score);
    scoreCell.appendChild(bar);
    scoreCell.appendChild(value);

    row.appendChild(rankCell);
    row.appendChild(labelCell);
    row.appendChild(scoreCell);
    return row;
  }

  // ---- small helpers -------------------------------------------------------------------------------

  function setPhotoStatus(photo, text) {
    photo.find(".photo-status").textContent = text;
  }

  function setStatus(text) {
    el.status.textContent = text;
  }

  function showError(text) {
    el.error.textContent = text;
    el.error.hidden = false;
  }

  function hideError() {
    el.error.textContent = "";
    el.error.hidden = true;
  }

  function showProgress(photo, value) {
    photo.find(".progress-wrap").hidden = false;
    var progress = photo.find(".progress");
    progress.value = value;
    progress.textContent = value + "%";
    photo.find(".progress-text").textContent = value + "%";
  }

  function hideProgress(photo) {
    photo.find(".progress-wrap").hidden = true;
  }

  function setFeedbackStatus(photo, text, isError) {
    var status = photo.find(".feedback-status");
    status.textContent = text;
    status.classList.toggle("is-error", Boolean(isError));
  }

  function humanLabel(label) {
    return String(label === undefined || label === null ? "" : label).replace(/_/g, " ");
  }

  function clampPercent(score) {
    var value = typeof score === "number" && isFinite(score) ? score * 100 : 0;
    return Math.max(0, Math.min(100, value));
  }

  function percent(score) {
    return clampPercent(score).toFixed(1) + "%";
  }

  function formatMegabytes(bytes) {
    // Rounded up, so a file just over the limit never reads as "10.0 MB".
    return (Math.ceil((bytes / (1024 * 1024)) * 10) / 10).toFixed(1) + " MB";
  }
})();
