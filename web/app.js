// Photo check: upload a product-review photo straight to S3 with a presigned POST, then poll the API for
// the ResNet50 prediction and moderation verdict. Plain browser JavaScript, no build step, no dependencies.
// Everything that comes from the API or S3 reaches the DOM through textContent, never innerHTML.
(function () {
  "use strict";

  var MAX_BYTES = 10 * 1024 * 1024;
  var POLL_INTERVAL_MS = 750;
  var POLL_TIMEOUT_MS = 120 * 1000;
  // Polling survives a few blips (a cold Lambda, a dropped connection) before giving up.
  var MAX_CONSECUTIVE_POLL_ERRORS = 5;
  var REQUEST_TIMEOUT_MS = 30 * 1000;
  var FEEDBACK_LABEL_MAX = 200;
  var FEEDBACK_COMMENT_MAX = 1000;

  var TYPES_BY_EXTENSION = {
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    jpe: "image/jpeg",
    png: "image/png",
    gif: "image/gif",
    webp: "image/webp",
    bmp: "image/bmp",
    tif: "image/tiff",
    tiff: "image/tiff",
    heic: "image/heic",
    heif: "image/heif"
  };
  var ALLOWED_TYPES = [
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff", "image/heic", "image/heif"
  ];
  var VERDICTS = {
    allow: { text: "Can be shown", className: "badge-allow" },
    review: { text: "Needs review", className: "badge-review" },
    block: { text: "Blocked", className: "badge-block" }
  };

  var el = {
    dropZone: document.getElementById("drop-zone"),
    fileInput: document.getElementById("file-input"),
    progressWrap: document.getElementById("progress-wrap"),
    progress: document.getElementById("progress"),
    progressText: document.getElementById("progress-text"),
    status: document.getElementById("status"),
    error: document.getElementById("error"),
    result: document.getElementById("result"),
    untrainedWarning: document.getElementById("untrained-warning"),
    preview: document.getElementById("preview"),
    previewCaption: document.getElementById("preview-caption"),
    verdict: document.getElementById("verdict"),
    prediction: document.getElementById("prediction"),
    predictionScore: document.getElementById("prediction-score"),
    labelsBody: document.querySelector("#labels tbody"),
    model: document.getElementById("model"),
    safety: document.getElementById("safety"),
    imageId: document.getElementById("image-id"),
    feedbackForm: document.getElementById("feedback-form"),
    correctLabel: document.getElementById("correct-label"),
    comment: document.getElementById("comment"),
    feedbackSubmit: document.getElementById("feedback-submit"),
    feedbackStatus: document.getElementById("feedback-status"),
    again: document.getElementById("again")
  };

  // A run is one photo from choice to result. Starting another run makes the old one's callbacks no-ops.
  var run = 0;
  var busy = false;
  var previewUrl = null;
  var currentImageId = null;

  var apiUrl = readApiUrl();
  if (apiUrl === null) {
    showError(
      "This page is not configured: config.js is missing or does not set window.PHOTOMOD_CONFIG.apiUrl. " +
      "Start the local stack (it writes web/config.js) and reload."
    );
    setInputEnabled(false);
    return;
  }

  el.fileInput.addEventListener("change", function () {
    var file = el.fileInput.files && el.fileInput.files[0];
    if (file) {
      startRun(file);
    }
  });
  wireDropZone();
  el.feedbackForm.addEventListener("submit", onFeedbackSubmit);
  el.again.addEventListener("click", function () {
    resetPage();
    el.fileInput.focus();
  });

  // ---- configuration -------------------------------------------------------------------------------

  function readApiUrl() {
    var config = window.PHOTOMOD_CONFIG;
    if (!config || typeof config.apiUrl !== "string" || config.apiUrl.trim() === "") {
      return null;
    }
    return config.apiUrl.trim().replace(/\/+$/, "");
  }

  // ---- choosing a file -----------------------------------------------------------------------------

  function wireDropZone() {
    ["dragenter", "dragover"].forEach(function (name) {
      el.dropZone.addEventListener(name, function (event) {
        event.preventDefault();
        if (event.dataTransfer) {
          event.dataTransfer.dropEffect = busy ? "none" : "copy";
        }
        if (!busy) {
          el.dropZone.classList.add("drag-over");
        }
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
      if (busy) {
        return;
      }
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || files.length === 0) {
        showError("Nothing to upload: drop a photo file.");
        return;
      }
      startRun(files[0]);
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
    return match ? TYPES_BY_EXTENSION[match[1].toLowerCase()] || type : type;
  }

  // Returns an error message, or null when the file may be uploaded. The API checks again.
  function validationError(file, contentType) {
    if (ALLOWED_TYPES.indexOf(contentType) === -1) {
      return "\u201c" + file.name + "\u201d is not a supported image (" + (contentType || "unknown type") +
        "). Choose a JPEG, PNG, GIF, WebP, BMP, TIFF or HEIC photo.";
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

  // ---- one run: create upload, send to S3, poll for the result ------------------------------------

  function startRun(file) {
    if (busy) {
      return;
    }
    resetPage();
    var contentType = contentTypeOf(file);
    var problem = validationError(file, contentType);
    if (problem) {
      showError(problem);
      el.fileInput.value = "";
      return;
    }

    var thisRun = ++run;
    var stillCurrent = function () { return thisRun === run; };
    setBusy(true);
    previewUrl = URL.createObjectURL(file);
    setStatus("Preparing upload\u2026");

    createUpload(file, contentType)
      .then(function (upload) {
        if (!stillCurrent()) { return null; }
        currentImageId = upload.image_id;
        setStatus("Uploading\u2026");
        showProgress(0);
        return uploadToS3(upload.upload, file, stillCurrent).then(function () { return upload; });
      })
      .then(function (upload) {
        if (!upload || !stillCurrent()) { return null; }
        hideProgress();
        setStatus("Classifying\u2026");
        return pollForResult(upload.result_url, stillCurrent);
      })
      .then(function (prediction) {
        if (!prediction || !stillCurrent()) { return; }
        if (prediction.status === "done") {
          setStatus("Done.");
          showResult(prediction, file);
        } else {
          var err = prediction.error || {};
          setStatus("");
          showError(
            "We could not classify this photo: " + (err.message || "unknown error") +
            " (code: " + (err.code || "unknown") + ")."
          );
        }
      })
      .catch(function (error) {
        if (!stillCurrent()) { return; }
        hideProgress();
        setStatus("");
        showError(error && error.message ? error.message : String(error));
      })
      .then(function () {
        if (stillCurrent()) {
          setBusy(false);
          // Cleared so that choosing the same file again still fires "change".
          el.fileInput.value = "";
          el.again.hidden = false;
        }
      });
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
        throw new Error("The API answered POST /uploads without image_id, upload.url or result_url.");
      }
      return body;
    });
  }

  // XMLHttpRequest rather than fetch: fetch has no upload progress events.
  function uploadToS3(upload, file, stillCurrent) {
    return new Promise(function (resolve, reject) {
      var form = new FormData();
      var fields = upload.fields || {};
      Object.keys(fields).forEach(function (name) {
        form.append(name, fields[name]);
      });
      // S3 ignores every form field that comes after the file, so the file goes last.
      form.append("file", file, file.name);

      var xhr = new XMLHttpRequest();
      xhr.open("POST", upload.url);
      xhr.upload.onprogress = function (event) {
        if (stillCurrent() && event.lengthComputable) {
          showProgress(Math.round((event.loaded / event.total) * 100));
        }
      };
      xhr.onload = function () {
        if (xhr.status === 200 || xhr.status === 201 || xhr.status === 204) {
          showProgress(100);
          resolve();
          return;
        }
        reject(new Error(s3ErrorMessage(xhr)));
      };
      xhr.onerror = function () {
        reject(new Error(
          "The upload to storage failed before it got an answer (network error or CORS refused by " +
          hostOf(upload.url) + ")."
        ));
      };
      xhr.ontimeout = function () {
        reject(new Error("The upload to storage timed out."));
      };
      xhr.timeout = 5 * 60 * 1000;
      xhr.send(form);
    });
  }

  function s3ErrorMessage(xhr) {
    var message = "Storage rejected the upload (HTTP " + xhr.status + ")";
    var text = xhr.responseText || "";
    if (text) {
      try {
        var xml = new DOMParser().parseFromString(text, "application/xml");
        var code = xml.getElementsByTagName("Code")[0];
        var detail = xml.getElementsByTagName("Message")[0];
        if (detail && detail.textContent) {
          message += ": " + detail.textContent.trim();
        }
        if (code && code.textContent) {
          message += " (" + code.textContent.trim() + ")";
        }
      } catch (ignored) {
        // Not XML: the status alone has to do.
      }
    }
    return message + ".";
  }

  function pollForResult(resultUrl, stillCurrent) {
    var deadline = Date.now() + POLL_TIMEOUT_MS;
    var consecutiveErrors = 0;
    var lastProblem = "";

    return new Promise(function (resolve, reject) {
      function again() {
        if (!stillCurrent()) {
          resolve(null);
          return;
        }
        if (Date.now() >= deadline) {
          reject(new Error(
            "Still no result after " + Math.round(POLL_TIMEOUT_MS / 1000) + " s. " +
            "The photo was uploaded; try again later." + (lastProblem ? " Last problem: " + lastProblem : "")
          ));
          return;
        }
        window.setTimeout(poll, POLL_INTERVAL_MS);
      }

      function poll() {
        if (!stillCurrent()) {
          resolve(null);
          return;
        }
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

  function onFeedbackSubmit(event) {
    event.preventDefault();
    var label = el.correctLabel.value.trim();
    var comment = el.comment.value.trim();
    if (!label) {
      setFeedbackStatus("Please say what the photo shows.", true);
      el.correctLabel.setAttribute("aria-invalid", "true");
      el.correctLabel.focus();
      return;
    }
    if (label.length > FEEDBACK_LABEL_MAX) {
      setFeedbackStatus("The label can be at most " + FEEDBACK_LABEL_MAX + " characters.", true);
      el.correctLabel.setAttribute("aria-invalid", "true");
      el.correctLabel.focus();
      return;
    }
    if (comment.length > FEEDBACK_COMMENT_MAX) {
      setFeedbackStatus("The comment can be at most " + FEEDBACK_COMMENT_MAX + " characters.", true);
      el.comment.setAttribute("aria-invalid", "true");
      el.comment.focus();
      return;
    }
    el.correctLabel.removeAttribute("aria-invalid");
    el.comment.removeAttribute("aria-invalid");

    var imageId = currentImageId;
    var thisRun = run;
    el.feedbackSubmit.disabled = true;
    setFeedbackStatus("Sending\u2026", false);
    requestJson("POST", apiUrl + "/predictions/" + encodeURIComponent(imageId) + "/feedback", {
      correct_label: label,
      comment: comment
    }).then(function (reply) {
      if (thisRun !== run) { return; }
      if (reply.status === 201 || reply.status === 200) {
        setFeedbackStatus("Thanks \u2014 feedback recorded", false);
        el.correctLabel.value = "";
        el.comment.value = "";
      } else {
        setFeedbackStatus(apiErrorMessage("Feedback was not recorded", reply), true);
      }
    }).catch(function (error) {
      if (thisRun !== run) { return; }
      setFeedbackStatus(error && error.message ? error.message : String(error), true);
    }).then(function () {
      if (thisRun === run) {
        el.feedbackSubmit.disabled = false;
      }
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
          throw new Error("The service at " + hostOf(url) + " did not answer within " +
            Math.round(REQUEST_TIMEOUT_MS / 1000) + " s.");
        }
        throw new Error("Could not reach the service at " + hostOf(url) + " (network error or CORS refused).");
      }
    );
  }

  function apiErrorMessage(prefix, reply) {
    var err = reply.body && reply.body.error;
    if (err && err.message) {
      return prefix + ": " + err.message + (err.code ? " (" + err.code + ")" : "") + ".";
    }
    return prefix + " (HTTP " + reply.status + ").";
  }

  function hostOf(url) {
    try { return new URL(url).host; } catch (ignored) { return String(url); }
  }

  // ---- rendering -----------------------------------------------------------------------------------

  function showResult(prediction, file) {
    var labels = Array.isArray(prediction.labels) ? prediction.labels : [];
    var model = prediction.model || {};

    el.result.setAttribute("data-image-id", prediction.image_id || currentImageId || "");
    el.imageId.textContent = prediction.image_id || currentImageId || "";

    el.preview.src = previewUrl;
    el.previewCaption.textContent = file.name;

    var verdict = VERDICTS[prediction.verdict];
    el.verdict.className = "badge " + (verdict ? verdict.className : "badge-unknown");
    el.verdict.textContent = verdict ? verdict.text : "Unknown verdict: " + String(prediction.verdict);
    el.verdict.setAttribute("data-verdict", String(prediction.verdict));

    el.prediction.textContent = humanLabel(prediction.prediction);
    el.prediction.setAttribute("data-label", String(prediction.prediction));
    el.predictionScore.textContent = typeof prediction.score === "number" ? "(" + percent(prediction.score) + ")" : "";

    el.labelsBody.textContent = "";
    labels.forEach(function (item, index) {
      el.labelsBody.appendChild(labelRow(item, index + 1));
    });

    el.model.textContent = "Model: " + (model.name || "unknown") + ", weights: " + (model.weights || "unknown");
    el.safety.textContent = safetyText(prediction.safety);
    el.safety.setAttribute("data-top-class", prediction.safety ? String(prediction.safety.top_class) : "");
    el.untrainedWarning.hidden = model.weights !== "untrained";

    el.result.hidden = false;
  }

  // The explicit-content model's five probabilities, most likely first, e.g. "neutral 93%, drawing 7%, ...".
  function safetyText(safety) {
    if (!safety || !safety.probabilities) {
      return "not checked (no safety model on this stack)";
    }
    var scores = safety.probabilities;
    return Object.keys(scores)
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

  function resetPage() {
    run += 1; // orphan any callbacks of the previous run
    setBusy(false);
    hideError();
    hideProgress();
    setStatus("");
    el.result.hidden = true;
    el.result.removeAttribute("data-image-id");
    el.untrainedWarning.hidden = true;
    el.labelsBody.textContent = "";
    el.verdict.textContent = "";
    el.verdict.className = "badge";
    el.verdict.removeAttribute("data-verdict");
    el.prediction.textContent = "";
    el.prediction.removeAttribute("data-label");
    el.predictionScore.textContent = "";
    el.model.textContent = "";
    el.safety.textContent = "";
    el.imageId.textContent = "";
    el.preview.removeAttribute("src");
    el.previewCaption.textContent = "";
    el.feedbackForm.reset();
    el.feedbackSubmit.disabled = false;
    setFeedbackStatus("", false);
    el.again.hidden = true;
    if (previewUrl) {
      URL.revokeObjectURL(previewUrl);
      previewUrl = null;
    }
    currentImageId = null;
  }

  function setBusy(value) {
    busy = value;
    setInputEnabled(!value);
    el.dropZone.setAttribute("aria-busy", value ? "true" : "false");
  }

  function setInputEnabled(enabled) {
    el.fileInput.disabled = !enabled;
    el.dropZone.classList.toggle("disabled", !enabled);
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

  function showProgress(value) {
    el.progressWrap.hidden = false;
    el.progress.value = value;
    el.progress.textContent = value + "%";
    el.progressText.textContent = value + "%";
  }

  function hideProgress() {
    el.progressWrap.hidden = true;
    el.progress.value = 0;
  }

  function setFeedbackStatus(text, isError) {
    el.feedbackStatus.textContent = text;
    el.feedbackStatus.classList.toggle("is-error", Boolean(isError));
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
