"use strict";
// Shows a space's newest critical events (GET /spaces/{id}/critical-events) and refreshes them every
// data-refresh-s seconds. Cells are set with textContent: event text never becomes markup.
(function () {
  const COLUMNS = ["event_time", "severity", "device_id", "metric", "value", "unit", "code", "message", "rule_id"];
  const body = document.body;
  const spaceId = body.dataset.spaceId;
  const refreshMs = Math.max(1, Number(body.dataset.refreshS)) * 1000;
  const rows = document.getElementById("events");
  const status = document.getElementById("status");

  document.getElementById("choose").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const chosen = document.getElementById("space-input").value.trim();
    if (chosen) window.location.assign("/spaces/" + encodeURIComponent(chosen));
  });

  function showStatus(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function render(events) {
    const fragment = document.createDocumentFragment();
    for (const event of events) {
      const row = document.createElement("tr");
      row.dataset.criticalEventId = event.critical_event_id;
      row.className = "severity-" + event.severity;
      for (const column of COLUMNS) {
        const cell = document.createElement("td");
        cell.textContent = event[column] === null || event[column] === undefined ? "" : String(event[column]);
        row.appendChild(cell);
      }
      fragment.appendChild(row);
    }
    rows.replaceChildren(fragment);
  }

  async function refresh() {
    try {
      const response = await window.smartspacesApi.request("/spaces/" + encodeURIComponent(spaceId) + "/critical-events");
      if (response.status === 404) {
        rows.replaceChildren();
        showStatus("Unknown space " + spaceId, true);
      } else if (response.status === 401 || response.status === 403) {
        showStatus("This API needs a key with the read scope: sign in on an alarm board page of this tab", true);
      } else if (!response.ok) {
        // Keep the rows already shown: a failed refresh should not blank the page.
        showStatus("Refresh failed (HTTP " + response.status + "), retrying", true);
      } else {
        const answer = await response.json();
        render(answer.critical_events);
        showStatus(answer.critical_events.length + " critical events, from " + answer.source +
                   ", updated " + new Date().toISOString(), false);
      }
    } catch (error) {
      showStatus("Refresh failed (" + error + "), retrying", true);
    }
    // The next refresh starts after this one ends, so slow answers never pile up.
    window.setTimeout(refresh, refreshMs);
  }

  if (spaceId) {
    document.getElementById("space").textContent = spaceId;
    document.getElementById("space-input").value = spaceId;
    refresh();
  } else {
    showStatus("Choose a space.", false);
  }
})();
