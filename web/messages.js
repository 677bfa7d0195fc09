// Plain words for what the API says in codes, in one place for every page of the site: error codes become
// sentences a shopper or moderator can act on, and moderation reasons (the policy's category names) become
// short phrases. tests/unit/test_web_messages.py checks that every code the functions can answer is here.
(function () {
  "use strict";

  // The types the service takes, in words (formats.js, loaded first, is generated from the service's table).
  var TYPES_IN_WORDS = window.PHOTOMOD_FORMATS.inWords;

  // Keyed by the `error.code` of an API error body, the `error.code` of a failed classification, or the
  // X-Error-Code header of POST /predict.
  var ERRORS = {
    // POST /uploads: the request for an upload link
    invalid_request: "Something in the request was not accepted.",
    bad_request: "The request was not accepted.",
    unsupported_media_type: "This type of file is not supported. Choose a " + TYPES_IN_WORDS + " photo.",
    declared_size_too_large: "This photo is too large. The limit is 10 MB: choose a smaller photo.",
    file_too_large: "This photo is too large. The limit is 10 MB: choose a smaller photo.",
    missing_file: "No photo was sent. Choose a photo and try again.",
    malformed_request: "The photo could not be read from the request. Try again.",
    method_not_allowed: "This address does not accept that kind of request.",
    route_not_found: "The service does not know this address. The page may be out of date: reload it.",
    internal_error: "Something went wrong on our side. Please try again in a moment.",
    // looking a photo up
    invalid_image_id: "This photo reference is not valid.",
    image_not_found: "We have no photo with this reference. It may have expired: upload it again.",
    missing_key: "No storage key was given.",
    invalid_key: "This storage key is not valid.",
    // the display gate (GET /images/{id})
    image_pending: "The photo is still being checked. Try again in a few seconds.",
    image_failed: "The photo could not be checked, so it will not be shown.",
    image_in_review: "The photo is waiting for a moderator and is not shown yet.",
    image_blocked: "The photo breaks the site's rules and will not be shown.",
    // a failed classification
    empty_file: "The file is empty. Choose another photo.",
    too_large: "The photo is larger than 10 MB. Choose a smaller photo.",
    too_small: "The photo is too small to check. Choose a larger photo.",
    unsupported_format: "This file is not a photo we can read. Choose a " + TYPES_IN_WORDS + " photo.",
    corrupt_image: "The photo is damaged and cannot be opened. Try saving it again or choose another one.",
    decompression_bomb: "The photo has too many pixels to check safely. Choose a smaller photo.",
    object_missing: "The photo was deleted before it could be checked. Upload it again.",
    upload_failed: "The photo could not be stored. Upload it again.",
    upload_not_received: "The photo never arrived: the upload link expired first. Upload it again.",
    retries_exhausted: "Checking the photo failed several times. Upload it again later.",
    too_large_for_memory: "The photo is too large to check. Choose a smaller photo.",
    crashed_classifier: "Checking this photo failed. Try another photo.",
    classifier_error: "Checking this photo failed. Try another photo.",
    image_unverified: "The photo cannot be shown: it was checked before versions were recorded.",
    not_classified: "The photo could not be checked in time. Upload it again later.",
    // moderators
    not_in_review: "Someone already decided on this photo, or it is no longer waiting for review.",
    version_changed: "The photo was replaced since you saw it; reload to see the new one if it needs review.",
    not_banked: "This photo was already taken out of the bank of blocked photos.",
    not_decided: "There is no decision on this photo to undo: it may have been undone already.",
    // staff routes (the Cognito sign-in)
    not_signed_in: "Sign in first.",
    not_in_group: "Your account is not allowed to do this: ask an administrator to add you to the right group.",
    invalid_cursor: "The list moved on since this page was loaded. Reload the queue.",
    invalid_limit: "The page size is not valid."
  };

  // Keyed by a verdict reason's `category`: the moderation policy's categories, and a shopper's report.
  var REASONS = {
    weapons: "Looks like a weapon",
    alcohol: "Shows alcohol",
    drugs_and_medical: "Shows drugs or medical equipment",
    swimwear_and_underwear: "Shows swimwear or underwear",
    violence: "May show violence",
    off_topic: "Looks like a screenshot or text, not a product photo",
    explicit: "May show explicit content",
    text: "Text in the photo",
    faces: "Shows a person's face",
    reported_by_shopper: "Reported as inappropriate by a shopper",
    photo_bank: "A known photo"
  };

  // Keyed by a check's reason `rule` (classify.photo_bank): its label names a photo and its score counts, so they
  // read as such, not as a class and a probability.
  var RULES = {
    matches_blocked_photo: function (reason) {
      return "Copy of a photo a moderator blocked (" + String(reason.label) + ", " + String(reason.score) +
        " bits of 256 apart)";
    },
    reused_photo: function (reason) {
      return "The same photo under " + String(reason.score) + " uploads";
    },
    check_failed: function (reason) {
      return "The " + words(reason.category).toLowerCase() + " check could not run: a person decides";
    }
  };

  // "drugs_and_medical" -> "Drugs and medical": a category added to the policy later still reads as words.
  function words(code) {
    var text = String(code === undefined || code === null ? "" : code).replace(/_/g, " ").trim();
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
  }

  function errorText(code, fallback) {
    if (code && Object.prototype.hasOwnProperty.call(ERRORS, code)) {
      return ERRORS[code];
    }
    return fallback || "Something went wrong" + (code ? " (" + words(code) + ")" : "") + ". Please try again.";
  }

  function reasonText(reason) {
    if (reason && Object.prototype.hasOwnProperty.call(RULES, reason.rule)) {
      return RULES[reason.rule](reason);
    }
    var category = reason && reason.category;
    var text = Object.prototype.hasOwnProperty.call(REASONS, category) ? REASONS[category] : words(category);
    // A policy reason names the class that triggered it; a shopper's report names none.
    if (reason && reason.label) {
      // A text reason names the rule (phone, url, ...) and quotes what matched it.
      var matched = typeof reason.text === "string" ? ": \u201c" + reason.text + "\u201d" : "";
      text += " (" + String(reason.label).replace(/_/g, " ") + matched +
        (typeof reason.score === "number" && !matched ? ", " + (reason.score * 100).toFixed(0) + "%" : "") + ")";
    }
    return text;
  }

  window.PHOTOMOD_MESSAGES = { errors: ERRORS, reasons: REASONS, errorText: errorText, reasonText: reasonText };
})();
