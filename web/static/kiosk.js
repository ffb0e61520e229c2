// Polls the live session's state and shows it large enough to read from 2 m away. No external scripts.
async function refresh() {
  try {
    const s = await (await fetch("/kiosk/state", {cache: "no-store"})).json();
    document.getElementById("camera").textContent = s.camera_zh ? `${s.camera_zh} / ${s.camera_en}` : "";
    document.getElementById("alert").textContent = s.alert_zh ? `${s.alert_zh} / ${s.alert_en}` : "";
    if (s.phase !== "offline") document.getElementById("preview").src = "/kiosk/preview.jpg?" + Date.now();
    document.getElementById("message").textContent = s.message_zh || "";
    document.getElementById("message-en").textContent = s.message_en || "";
    const v = document.getElementById("verdict");
    v.textContent = s.verdict ? s.verdict.overall.toUpperCase() : "";
    v.className = "verdict-big " + (s.verdict ? s.verdict.overall : "");
    const ul = document.getElementById("reasons");
    ul.replaceChildren(...Object.values((s.verdict && s.verdict.checks) || {}).map(c => {
      const li = document.createElement("li");
      li.textContent = `${c.status === "pass" ? "✓" : c.status === "fail" ? "✗" : "?"} ${c.reason_zh} / ${c.reason_en}`;
      return li;
    }));
  } catch (e) { /* the station is restarting: keep the last state */ }
}
setInterval(refresh, 500);
refresh();

document.getElementById("identify").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  await fetch("/kiosk/identify", {method: "POST", body: new FormData(form)});
  form.number.value = "";
  refresh();
});

// zh-CN is the large line by default; the switch makes English the large one for this screen
document.getElementById("lang").addEventListener("click", () => {
  const k = document.getElementById("kiosk");
  k.dataset.lang = k.dataset.lang === "zh" ? "en" : "zh";
});
