// Staff sign-in for the moderators' and analysts' pages: Cognito's API (InitiateAuth, USER_PASSWORD_AUTH, then
// REFRESH_TOKEN_AUTH before the ID token expires), called from the page with the pool's public app client id.
// Tokens live in this closure only: never in localStorage, sessionStorage or a cookie, so a script of another
// page on this origin finds nothing, and closing or reloading the tab signs out. The API judges every request
// (API Gateway's Cognito authorizer, the function's group check); the group test here only words the refusal.
(function () {
  "use strict";

  var REFRESH_BEFORE_EXPIRY_MS = 2 * 60 * 1000;
  var REQUEST_TIMEOUT_MS = 15 * 1000;

  function createSession(options) {
    var endpoint = typeof options.cognitoEndpoint === "string" ? options.cognitoEndpoint.replace(/\/+$/, "") + "/" : "";
    var clientId = typeof options.clientId === "string" ? options.clientId : "";
    var group = options.group;
    var onSignedOut = options.onSignedOut || function () {};
    var tokens = null; // {idToken, refreshToken, expiresAt, username, groups}
    var refreshTimer = null;
    var refreshing = null;

    function configured() { return Boolean(endpoint && clientId); }

    function call(target, payload) {
      var controller = typeof AbortController === "function" ? new AbortController() : null;
      var timer = controller ? window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
      return fetch(endpoint, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-amz-json-1.1",
          "X-Amz-Target": "AWSCognitoIdentityProviderService." + target
        },
        body: JSON.stringify(payload),
        signal: controller ? controller.signal : undefined,
        credentials: "omit"
      }).then(function (response) {
        window.clearTimeout(timer);
        return response.text().then(function (text) {
          var body = {};
          try { body = text ? JSON.parse(text) : {}; } catch (ignored) { body = {}; }
          return { ok: response.ok, status: response.status, body: body };
        });
      }, function () {
        window.clearTimeout(timer);
        throw new Error("The sign-in service could not be reached. Check your connection and try again.");
      });
    }

    function errorType(body) {
      var type = String((body && (body.__type || body.code)) || "");
      return type.split("#").pop();
    }

    function claimsOf(idToken) {
      try {
        var payload = idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
        while (payload.length % 4) { payload += "="; }
        return JSON.parse(decodeURIComponent(Array.prototype.map.call(window.atob(payload), function (c) {
          return "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2);
        }).join("")));
      } catch (ignored) {
        return {};
      }
    }

    function keep(result, refreshToken) {
      var claims = claimsOf(result.IdToken);
      var groups = Array.isArray(claims["cognito:groups"]) ? claims["cognito:groups"] : [];
      var expiresAt = typeof claims.exp === "number" ? claims.exp * 1000 : Date.now() + (result.ExpiresIn || 3600) * 1000;
      tokens = {
        idToken: result.IdToken,
        accessToken: result.AccessToken,
        refreshToken: result.RefreshToken || refreshToken,
        expiresAt: expiresAt,
        username: claims["cognito:username"] || claims.username || "",
        groups: groups
      };
      scheduleRefresh();
      return tokens;
    }

    function scheduleRefresh() {
      window.clearTimeout(refreshTimer);
      if (!tokens) { return; }
      var wait = Math.max(tokens.expiresAt - Date.now() - REFRESH_BEFORE_EXPIRY_MS, 0);
      refreshTimer = window.setTimeout(function () { refresh().catch(function () { /* reported by signOut */ }); }, wait);
    }

    function refresh() {
      if (!tokens) { return Promise.reject(new Error("Sign in first.")); }
      if (refreshing) { return refreshing; }
      var refreshToken = tokens.refreshToken;
      refreshing = call("InitiateAuth", {
        AuthFlow: "REFRESH_TOKEN_AUTH",
        ClientId: clientId,
        AuthParameters: { REFRESH_TOKEN: refreshToken }
      }).then(function (reply) {
        refreshing = null;
        if (!reply.ok || !reply.body.AuthenticationResult) {
          end("Your session ended. Sign in again.");
          throw new Error("Your session ended. Sign in again.");
        }
        return keep(reply.body.AuthenticationResult, refreshToken);
      }, function (error) {
        refreshing = null;
        throw error;
      });
      return refreshing;
    }

    function end(message) {
      window.clearTimeout(refreshTimer);
      tokens = null;
      onSignedOut(message || "");
    }

    return {
      configured: configured,
      signedIn: function () { return Boolean(tokens); },
      username: function () { return tokens ? tokens.username : ""; },

      // Resolves with the signed-in user, or rejects with a sentence the page shows as it is.
      signIn: function (username, password) {
        if (!configured()) {
          return Promise.reject(new Error("Sign-in is not configured: config.js sets no cognitoEndpoint and clientId."));
        }
        return call("InitiateAuth", {
          AuthFlow: "USER_PASSWORD_AUTH",
          ClientId: clientId,
          AuthParameters: { USERNAME: username, PASSWORD: password }
        }).then(function (reply) {
          var type = errorType(reply.body);
          if (type === "NotAuthorizedException" || type === "UserNotFoundException") {
            throw new Error("The user name or password is not right. Check them and try again.");
          }
          if (type === "PasswordResetRequiredException") {
            throw new Error("Your password must be reset first: ask an administrator.");
          }
          if (type === "TooManyRequestsException" || type === "LimitExceededException") {
            throw new Error("Too many sign-in attempts. Wait a minute and try again.");
          }
          if (reply.ok && reply.body.ChallengeName) {
            throw new Error("Your account needs a new password before it can sign in here: ask an administrator.");
          }
          if (!reply.ok || !reply.body.AuthenticationResult) {
            throw new Error("Sign-in failed (" + (type || "HTTP " + reply.status) + "). Try again.");
          }
          var signedIn = keep(reply.body.AuthenticationResult, "");
          if (group && signedIn.groups.indexOf(group) < 0) {
            var who = signedIn.username || username;
            tokens = null;
            window.clearTimeout(refreshTimer);
            throw new Error("You are signed in as " + who + ", but this page is for the " + group +
              " group, which your account is not in. Ask an administrator to add you.");
          }
          return signedIn;
        });
      },

      // The ID token for the Authorization header, refreshed first when it is about to expire.
      idToken: function () {
        if (!tokens) { return Promise.reject(new Error("Sign in first.")); }
        if (tokens.expiresAt - Date.now() < REFRESH_BEFORE_EXPIRY_MS) {
          return refresh().then(function (fresh) { return fresh.idToken; });
        }
        return Promise.resolve(tokens.idToken);
      },

      // Forgets the tokens at once and asks Cognito to revoke the refresh token (best effort).
      signOut: function (message) {
        var refreshToken = tokens && tokens.refreshToken;
        end(message);
        if (refreshToken) {
          call("RevokeToken", { Token: refreshToken, ClientId: clientId }).catch(function () { /* already forgotten */ });
        }
      }
    };
  }

  window.PHOTOMOD_STAFF_AUTH = { createSession: createSession };
}());
