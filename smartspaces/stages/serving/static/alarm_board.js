"use strict";
// The alarm board: a building's spaces with their open alarm counts (GET /buildings/{id}/spaces), or a
// space's open alarms (GET /spaces/{id}/alarms) with local times, ages and an acknowledge button for an
// operator who entered a key (kept for this tab only). Text is set with textContent: never markup.
(function () {
  const body = document.body;
  const view = body.dataset.view;
  const entityId = body.dataset.entityId;
  const refreshMs = Math.max(1, Number(body.dataset.refreshS)) * 1000;
  const status = document.getElementById("status");
  const api = window.smartspacesApi;

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function showStatus(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }

  function severityBadge(severity) {
    return element("span", severity.toUpperCase(), "severity severity-" + severity);
  }

  // "12 min ago": how long ago an instant was, in the largest unit that fits.
  function age(iso, now) {
    const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    if (seconds < 60) return seconds + " s ago";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + " h " + (minutes % 60) + " min ago";
    return Math.floor(hours / 24) + " days ago";
  }

  function localTime(iso) {
    return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function showOperator() {
    document.getElementById("operator-status").textContent = api.key() ? "signed in" : "read only";
  }

  document.getElementById("operator").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const key = document.getElementById("operator-key").value.trim();
    api.remember(key);
    document.getElementById("operator-key").value = "";
    showOperator();
    refresh(false);
  });

  async function acknowledge(alarmId, button) {
    button.disabled = true;
    const response = await api.request("/alarms/" + encodeURIComponent(alarmId) + "/acknowledge", { method: "POST" });
    if (response.status === 401 || response.status === 403) {
      api.remember("");
      showOperator();
      showStatus("Acknowledgement refused (HTTP " + response.status + "): sign in with a valid operator key", true);
      return;
    }
    refresh(false);
  }

  function renderSpaces(answer) {
    document.getElementById("spaces").hidden = false;
    document.getElementById("title").textContent = "Building " + answer.building_id;
    const rows = document.createDocumentFragment();
    let open = 0;
    for (const space of answer.spaces) {
      const row = document.createElement("tr");
      row.dataset.spaceId = space.space_id;
      row.appendChild(element("td", space.floor));
      const name = element("td");
      const link = element("a", space.name);
      link.href = "/board/spaces/" + encodeURIComponent(space.space_id);
      name.appendChild(link);
      row.appendChild(name);
      row.appendChild(element("td", space.space_type.replace("_", " ")));
      for (const count of [space.open_alarms, space.open_by_severity.critical, space.open_by_severity.warning]) {
        row.appendChild(element("td", count, count === 0 ? "count-zero" : ""));
      }
      open += space.open_alarms;
      rows.appendChild(row);
    }
    document.getElementById("space-rows").replaceChildren(rows);
    document.getElementById("subtitle").textContent = answer.spaces.length + " spaces, " + open + " open alarms";
  }

  function renderAlarms(answer, now) {
    document.getElementById("alarms").hidden = false;
    const rows = document.createDocumentFragment();
    for (const alarm of answer.alarms) {
      const row = document.createElement("tr");
      row.dataset.alarmId = alarm.alarm_id;
      const severity = element("td");
      severity.appendChild(severityBadge(alarm.severity));
      row.appendChild(severity);
      row.appendChild(element("td", alarm.message));
      row.appendChild(element("td", alarm.device_id || alarm.source_id));
      const raised = element("td", localTime(alarm.raised_at));
      raised.appendChild(element("div", age(alarm.raised_at, now), "age"));
      row.appendChild(raised);
      const state = alarm.state === "acknowledged" ? "acknowledged by " + alarm.acknowledged_by : alarm.state;
      row.appendChild(element("td", state));
      row.appendChild(element("td", alarm.peak_value === null ? "" : alarm.peak_value));
      const action = element("td");
      if (alarm.state === "active") {
        const button = element("button", "Acknowledge");
        button.type = "button";
        if (api.key()) {
          button.addEventListener("click", () => acknowledge(alarm.alarm_id, button));
        } else {
          button.disabled = true;
          button.title = "Sign in with an operator key to acknowledge";
        }
        action.appendChild(button);
      }
      row.appendChild(action);
      rows.appendChild(row);
    }
    document.getElementById("alarm-rows").replaceChildren(rows);
  }

  async function loadSpace(now) {
    const [profile, alarms] = await Promise.all([
      api.request("/spaces/" + encodeURIComponent(entityId) + "/profile"),
      api.request("/spaces/" + encodeURIComponent(entityId) + "/alarms"),
    ]);
    if (!profile.ok || !alarms.ok) return profile.ok ? alarms : profile;
    const space = (await profile.json()).space;
    const answer = await alarms.json();
    document.getElementById("title").textContent = space.name;
    document.getElementById("subtitle").textContent =
      "Building " + space.building_id + ", floor " + space.floor + ": " + answer.alarms.length + " open alarms";
    const back = element("a", "← Building " + space.building_id);
    back.href = "/board/buildings/" + encodeURIComponent(space.building_id);
    document.getElementById("back").replaceChildren(back);
    renderAlarms(answer, now);
    return null;
  }

  async function loadBuilding() {
    const response = await api.request("/buildings/" + encodeURIComponent(entityId) + "/spaces");
    if (!response.ok) return response;
    renderSpaces(await response.json());
    return null;
  }

  async function refresh(again) {
    try {
      const failed = view === "space" ? await loadSpace(Date.now()) : await loadBuilding();
      if (failed === null) {
        showStatus("Updated " + new Date().toLocaleTimeString(), false);
      } else if (failed.status === 404) {
        showStatus("Unknown " + view + " " + entityId, true);
      } else if (failed.status === 401 || failed.status === 403) {
        showStatus("This API needs a key with the read scope: sign in above", true);
      } else {
        // Keep what is shown: a failed refresh should not blank the board.
        showStatus("Refresh failed (HTTP " + failed.status + "), retrying", true);
      }
    } catch (error) {
      showStatus("Refresh failed (" + error + "), retrying", true);
    }
    // The next refresh starts after this one ends, so slow answers never pile up.
    if (again) window.setTimeout(() => refresh(true), refreshMs);
  }

  showOperator();
  refresh(true);
})();
