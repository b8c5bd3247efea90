"use strict";
// The caller's API key for this tab (sessionStorage: gone when the tab closes), sent with every request of the
// pages. Reads need one where the API requires keys (api.require_key); acknowledging always does.
window.smartspacesApi = (function () {
  const KEY = "smartspaces.apiKey";

  function key() {
    return window.sessionStorage.getItem(KEY) || "";
  }

  function remember(value) {
    if (value) window.sessionStorage.setItem(KEY, value); else window.sessionStorage.removeItem(KEY);
  }

  // fetch() with the key as a bearer token when one is kept.
  function request(url, options) {
    const headers = Object.assign({}, (options && options.headers) || {});
    if (key()) headers.Authorization = "Bearer " + key();
    return fetch(url, Object.assign({ cache: "no-store" }, options || {}, { headers: headers }));
  }

  return { key: key, remember: remember, request: request };
})();
