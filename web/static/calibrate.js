// The framing aid: what the framing gate says now, under the live stream (no external scripts).
"use strict";
const framing = document.getElementById("framing");
async function refresh() {
  try {
    const s = await (await fetch("/kiosk/state", {cache: "no-store"})).json();
    if (!framing) return;
    framing.textContent = s.camera_ok === false ? `${s.camera_zh} / ${s.camera_en}` : `${s.message_zh} / ${s.message_en}`;
  } catch (e) { /* restarting */ }
}
if (framing) setInterval(refresh, 1000);
