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

// The page stays open for days: its CSRF token expires after an hour, and a restart may refuse it. A refused number
// gets a fresh token and one more try; what is still refused is said on screen, never dropped in silence.
async function sendNumber(form) {
  for (let tries = 0; tries < 2; tries++) {
    const r = await fetch("/kiosk/identify", {method: "POST", body: new FormData(form)});
    if (r.ok || r.status !== 400 || tries) return r.status;
    const t = await (await fetch("/kiosk/token", {cache: "no-store"})).json();
    form.csrf_token.value = t.csrf_token;
  }
}

const REFUSED = {
  400: ["工号无效，请重新输入", "Not a valid number: please type it again"],
  409: ["现在不能输入工号，请等当前检查结束", "Not now: wait until the current check has finished"],
};

document.getElementById("identify").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  let status;
  try { status = await sendNumber(form); } catch (e) { status = 0; }
  const [zh, en] = status === 200 ? ["", ""] : (REFUSED[status] || ["未能提交，请重试", "Not sent: please try again"]);
  document.getElementById("notice").textContent = zh ? `${zh} / ${en}` : "";
  if (status === 200) form.number.value = "";
  refresh();
});

// zh-CN is the large line by default; the switch makes English the large one for this screen
document.getElementById("lang").addEventListener("click", () => {
  const k = document.getElementById("kiosk");
  k.dataset.lang = k.dataset.lang === "zh" ? "en" : "zh";
});
