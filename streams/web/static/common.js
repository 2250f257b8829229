// Shared by the wall display and the ED board: the live feed, the clocks, the stale state.
"use strict";

const MISSED_HEARTBEATS = 3; // then the feed is called stale
let staleAfterMs = 15000; // until the server tells its heartbeat period
let clockOffsetMs = 0; // server "now" minus the browser's, from the latest message
let lastMessageAt = 0;

function serverNow() {
  return Date.now() + clockOffsetMs;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function mmss(ms) {
  const sign = ms < 0 ? "-" : "";
  const s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${sign}${h}:${pad(m)}:${pad(s % 60)}` : `${sign}${m}:${pad(s % 60)}`;
}

function minutes(seconds) {
  return seconds === null || seconds === undefined ? "–" : (seconds / 60).toFixed(1);
}

function percent(share) {
  return share === null || share === undefined ? "–" : Math.round(share * 100) + "%";
}

function hhmm(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// The state of a clock is decided by the server's thresholds (amber_at, deadline); the page
// only compares them with "now" so the clock turns colour between updates.
function clockState(clock, now) {
  if (clock.stopped) return clock.state;
  if (now >= Date.parse(clock.deadline)) return "red";
  if (now >= Date.parse(clock.amber_at)) return "amber";
  return "ok";
}

function renderClock(node, clock, now) {
  const state = clockState(clock, now);
  node.className = "clock clock-" + state;
  node.dataset.state = state;
  if (clock.stopped) {
    node.textContent = mmss(clock.seconds * 1000) + (state === "met" ? " ✓" : " ✗");
  } else {
    const left = Date.parse(clock.deadline) - now;
    node.textContent = left >= 0 ? mmss(left) : "+" + mmss(-left); // "+": over the target
  }
}

function tickClocks() {
  const now = serverNow();
  for (const node of document.querySelectorAll("[data-clock]")) {
    renderClock(node, JSON.parse(node.dataset.clock), now);
  }
  for (const node of document.querySelectorAll("[data-since]")) {
    node.textContent = mmss(now - Date.parse(node.dataset.since));
  }
  for (const node of document.querySelectorAll("[data-until]")) {
    const left = Date.parse(node.dataset.until) - now;
    node.textContent = left >= 0 ? mmss(left) : "due " + mmss(-left);
  }
  const stale = Date.now() - lastMessageAt > staleAfterMs;
  document.body.classList.toggle("stale", stale);
  const feed = document.getElementById("feed");
  if (feed) feed.textContent = stale ? "STALE DATA" : "LIVE";
  const clock = document.getElementById("now");
  if (clock) clock.textContent = hhmm(new Date(now).toISOString());
}

function clockNode(clock) {
  const node = el("span", "clock");
  node.dataset.clock = JSON.stringify(clock);
  renderClock(node, clock, serverNow());
  return node;
}

// EventSource reconnects by itself after a network error; after an HTTP error it closes,
// so the page opens a new one.
function connect(url, onSnapshot) {
  const source = new EventSource(url);
  const seen = (event) => {
    const payload = JSON.parse(event.data);
    if (payload.now) clockOffsetMs = Date.parse(payload.now) - Date.now();
    if (payload.heartbeat_s) staleAfterMs = MISSED_HEARTBEATS * payload.heartbeat_s * 1000;
    lastMessageAt = Date.now();
    return payload;
  };
  source.addEventListener("snapshot", (event) => onSnapshot(seen(event)));
  source.addEventListener("heartbeat", (event) => seen(event));
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(() => connect(url, onSnapshot), 3000);
    }
  };
  return source;
}

function startTicking() {
  setInterval(tickClocks, 500);
  tickClocks();
}
