// ED arrivals board of one hospital: incoming pre-alerts by ETA, in-department clocks.
"use strict";

const hospitalId = decodeURIComponent(location.pathname.split("/")[2] || "");
const ACTIVATION_NAMES = {
  cathlab: "CATH LAB", stroke_team: "STROKE TEAM", ct: "CT", trauma_team: "TRAUMA TEAM", icu: "ICU",
};
const CLOCK_NAMES = {
  door_to_balloon: "D2B", stemi_door_to_needle: "STEMI DTN", stroke_door_to_ct: "Door→CT",
  stroke_door_to_needle: "DNT", stroke_door_to_puncture: "DPT", trauma_door_to_team: "Door→team",
  trauma_door_to_ct: "Door→CT", trauma_door_to_or: "Door→OR",
};

function summaryText(s) {
  const parts = [];
  if (s.ecg_stemi === true) parts.push("ECG: STEMI");
  else if (s.ecg_stemi === false) parts.push("ECG: no STEMI");
  if (s.diagnosis) parts.push(s.diagnosis.replace("_", " "));
  if (s.stroke_scale) parts.push(`${s.stroke_scale} ${s.stroke_score}`);
  if (s.lvo_suspected) parts.push("LVO suspected");
  if (s.last_known_well) parts.push("LKW " + hhmm(s.last_known_well));
  if (s.symptom_onset) parts.push("onset " + hhmm(s.symptom_onset));
  if (s.gcs) parts.push("GCS " + s.gcs);
  if (s.mechanism) parts.push(s.mechanism);
  if (s.trauma_activation_level) parts.push("trauma level " + s.trauma_activation_level);
  return parts.join(" · ") || "no clinical details yet";
}

async function acknowledge(prealertId, button) {
  button.disabled = true;
  button.textContent = "Sending…";
  const response = await fetch(`/api/hospitals/${encodeURIComponent(hospitalId)}/acks`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ prealert_id: prealertId }),
  });
  if (!response.ok) {
    button.disabled = false;
    button.textContent = "Retry acknowledge";
  }
}

function card(p) {
  const node = el("div", "card" + (p.acknowledged_ts ? " acked" : ""));
  node.dataset.prealertId = p.prealert_id;
  const eta = el("div");
  eta.appendChild(el("div", "dim", "ETA"));
  const countdown = el("div", "eta", "–");
  if (p.eta_ts) countdown.dataset.until = p.eta_ts;
  eta.appendChild(countdown);
  eta.appendChild(el("div", "dim", (p.eta_ts ? hhmm(p.eta_ts) : "") + (p.eta_stale ? " (stale ETA)" : "")));
  node.appendChild(eta);
  const middle = el("div");
  const head = el("div", "summary");
  head.appendChild(el("span", "triage triage-" + (p.triage_level || ""), p.triage_level || "?"));
  head.appendChild(el("strong", "", "  " + (p.pathway || "").replace("_", " ").toUpperCase()));
  head.appendChild(el("span", "dim", "  unit " + (p.unit_id || "?")));
  if (p.ed_bypass) head.appendChild(el("span", "bypass", " ED BYPASS → direct "));
  middle.appendChild(head);
  middle.appendChild(el("div", "summary", summaryText(p.summary || {})));
  const chips = el("div");
  for (const a of p.activations || []) chips.appendChild(el("span", "chip", "ACTIVATE " + (ACTIVATION_NAMES[a] || a)));
  middle.appendChild(chips);
  node.appendChild(middle);
  if (p.acknowledged_ts) {
    node.appendChild(el("div", "acked-label", "ACKNOWLEDGED " + hhmm(p.acknowledged_ts)));
  } else {
    const button = el("button", "ack", "Acknowledge");
    button.addEventListener("click", () => acknowledge(p.prealert_id, button));
    node.appendChild(button);
  }
  return node;
}

function onSnapshot(view) {
  document.getElementById("title").textContent = "ED arrivals — " + view.name;
  const incoming = document.getElementById("incoming");
  incoming.replaceChildren(...view.incoming.map(card));
  if (!view.incoming.length) incoming.appendChild(el("div", "empty", "No patients announced"));
  const body = document.querySelector("#in-hospital tbody");
  body.replaceChildren();
  for (const patient of view.in_hospital) {
    const row = el("tr");
    row.appendChild(el("td", "", hhmm(patient.door_ts)));
    row.appendChild(el("td", "", patient.arrived_by));
    row.appendChild(el("td", "", patient.pathway));
    row.appendChild(el("td", "summary", summaryText(patient.summary || {})));
    const lvl = el("td");
    lvl.appendChild(el("span", "triage triage-" + (patient.triage_level || ""), patient.triage_level || "?"));
    row.appendChild(lvl);
    const clocks = el("td");
    for (const clock of patient.clocks) {
      const box = el("span", "clock-box");
      box.appendChild(el("span", "dim", (CLOCK_NAMES[clock.name] || clock.name) + " ≤" +
        Math.round(clock.target_s / 60) + "′ "));
      box.appendChild(clockNode(clock));
      clocks.appendChild(box);
    }
    row.appendChild(clocks);
    body.appendChild(row);
  }
  tickClocks();
}

connect(`/api/hospitals/${encodeURIComponent(hospitalId)}/stream`, onSnapshot);
startTicking();
