// The kiosk: the camera as a live MJPEG stream with the judged frame's regions drawn over it, the guidance line until
// the verdict, then one card per rule and one verdict word. Every line in the chosen language (remembered); no
// external scripts, no scores. The page polls /kiosk/state; the stream runs on its own.
"use strict";

const $ = (id) => document.getElementById(id);
const kiosk = $("kiosk");
let lang = localStorage.getItem("kiosk-lang") === "en" ? "en" : "zh";
let sound = localStorage.getItem("kiosk-sound") === "on";
let last = null;          // the last state shown
let lastVerdictKey = "";  // so a verdict sounds once
let streaming = false;

const t = (zh, en) => (lang === "en" ? en : zh);
const WORDS = {
  pass: ["通过", "PASS"], fail: ["未通过", "FAIL"], unknown: ["无法判断", "NOT JUDGED"],
  stuck: ["请找主管", "ASK YOUR SUPERVISOR"],
};
const MARKS = {pass: "✓", fail: "✗", unknown: "?", off: "–"};
const STATUS_WORDS = {pass: ["合格", "passed"], fail: ["不合格", "failed"], unknown: ["未能判断", "not judged"],
                      off: ["未检查", "not checked"]};
const LOOKING = "#7dd3fc";  // what the station looks at, in one colour: no verdict before the verdict
const FAILED = "#f87171";  // after the verdict, the parts that failed: a FAIL points at what to fix
const ICONS = ["uniform", "front_closed", "badge", "footwear", "cuffs", "legwear", "accessories", "sunglasses",
               "hair_colour", "beard"];

// ------------------------------------------------------------ language and sound
function applyLang() {
  kiosk.dataset.lang = lang;
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const b of document.querySelectorAll("[data-set-lang]")) b.setAttribute("aria-pressed", String(b.dataset.setLang === lang));
  for (const el of document.querySelectorAll("[data-zh]")) {
    const text = el.dataset[lang];
    if (el.tagName === "INPUT") el.placeholder = text; else el.textContent = text;
  }
  applySound();
  if (last) render(last);
}

function applySound() {
  const b = $("sound");
  b.setAttribute("aria-pressed", String(sound));
  b.textContent = sound ? t("声音：开", "Sound: on") : t("声音：关", "Sound: off");
}

for (const b of document.querySelectorAll("[data-set-lang]")) {
  b.addEventListener("click", () => { lang = b.dataset.setLang; localStorage.setItem("kiosk-lang", lang); applyLang(); });
}
$("sound").addEventListener("click", () => {
  sound = !sound;
  localStorage.setItem("kiosk-sound", sound ? "on" : "off");
  applySound();
  if (sound) beep("pass");
});

let audio = null;
function beep(kind) {
  try {
    audio = audio || new AudioContext();
    const notes = kind === "pass" ? [660, 880] : kind === "fail" ? [330, 220] : [440];
    notes.forEach((f, i) => {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = f;
      o.connect(g); g.connect(audio.destination);
      const at = audio.currentTime + i * 0.22;
      g.gain.setValueAtTime(0.25, at);
      g.gain.exponentialRampToValueAtTime(0.001, at + 0.2);
      o.start(at); o.stop(at + 0.21);
    });
  } catch (e) { /* no audio device */ }
}

// ------------------------------------------------------------ the preview: an MJPEG stream, restarted now and then
function startStream() {
  $("preview").src = "/kiosk/stream.mjpg?" + Date.now();
  streaming = true;
}
function stopStream() {
  $("preview").removeAttribute("src");  // never leave a stale frame on screen
  streaming = false;
}
$("preview").addEventListener("error", () => { streaming = false; });
setInterval(() => { if (streaming) startStream(); }, 9 * 60 * 1000);  // the server ends a stream after 10 minutes

function drawOverlay(overlay, colour = LOOKING) {
  const canvas = $("overlay"), img = $("preview");
  const box = canvas.parentElement.getBoundingClientRect();
  const scale = window.devicePixelRatio || 1;
  canvas.width = Math.round(box.width * scale);
  canvas.height = Math.round(box.height * scale);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!overlay || !streaming || !img.naturalWidth) return;
  // the image is shown whole (object-fit: contain): where it sits inside the box
  const k = Math.min(box.width / overlay.width, box.height / overlay.height);
  const ox = (box.width - overlay.width * k) / 2, oy = (box.height - overlay.height * k) / 2;
  ctx.lineWidth = 3 * scale;
  ctx.strokeStyle = colour;
  for (const item of overlay.items) {
    if (!item.points.length) continue;
    ctx.beginPath();
    item.points.forEach(([x, y], i) => {
      const px = (ox + x * k) * scale, py = (oy + y * k) * scale;
      if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py);
    });
    ctx.closePath();
    ctx.stroke();
  }
}

// ------------------------------------------------------------ the state
function card(c) {
  const li = document.createElement("li");
  li.className = "card " + c.status;
  li.dataset.rule = c.id;
  const icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  icon.setAttribute("class", "icon");
  icon.setAttribute("aria-hidden", "true");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", "#" + (ICONS.includes(c.id) ? c.id : "rule"));
  icon.append(use);
  const mark = document.createElement("span");
  mark.className = "mark";
  mark.textContent = MARKS[c.status] || "?";
  mark.setAttribute("aria-label", t(...(STATUS_WORDS[c.status] || STATUS_WORDS.unknown)));
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = t(c.title_zh, c.title_en);
  const line = document.createElement("span");
  line.className = "line";
  line.textContent = t(c.line_zh, c.line_en);
  const text = document.createElement("div");
  text.className = "text";
  text.append(name, line);
  li.append(icon, text, mark);
  return li;
}

function render(s) {
  last = s;
  const lost = s.phase === "offline" || s.camera_ok === false;
  $("camera-lost").hidden = !lost;
  if (lost) {
    $("camera-lost-main").textContent = t(s.camera_zh || s.message_zh || "", s.camera_en || s.message_en || "");
    $("camera-lost-sub").textContent = t("请通知管理员", "Please tell the administrator");
    if (streaming) stopStream();
  } else if (!streaming) {
    startStream();
  }
  const v = s.verdict;
  const who = v ? v.technician : s.technician;
  const name = v ? v.technician_name : s.technician_name;
  $("who").textContent = who ? `${t("工号", "Number")} ${who}${name ? " · " + name : ""}` : "";
  kiosk.dataset.phase = v ? "verdict" : s.phase;
  $("alert").textContent = s.alert_zh ? t(s.alert_zh, s.alert_en) : "";
  if (v) {
    const word = v.stuck ? WORDS.stuck : (WORDS[v.overall] || WORDS.unknown);
    $("verdict").textContent = t(...word);
    $("verdict").className = "verdict-big " + (v.stuck ? "stuck" : v.overall);
    const n = Math.ceil(v.countdown || 0);
    $("countdown").textContent = t(`下一位：${n} 秒`, `Next person in ${n} s`);
    const cards = v.cards || [];
    const shown = lang + JSON.stringify(cards);
    if ($("cards").dataset.shown !== shown) {  // rebuilt only when they change: a steady screen, steady elements
      $("cards").replaceChildren(...cards.map(card));
      $("cards").dataset.shown = shown;
    }
    const key = `${v.technician}|${v.overall}|${cards.length}|${s.frames_judged > 0}`;
    if (key !== lastVerdictKey && s.phase === "verdict") {
      lastVerdictKey = key;
      if (sound) beep(v.overall);
    }
    drawOverlay(v.marks, FAILED);
  } else {
    lastVerdictKey = "";
    $("verdict").textContent = "";
    $("countdown").textContent = "";
    $("cards").replaceChildren();
    $("cards").dataset.shown = "";
    $("message").textContent = t(s.message_zh || "", s.message_en || "");
    $("badge-hint").textContent = s.badge_hint_zh ? t(s.badge_hint_zh, s.badge_hint_en) : "";
    $("progress-bar").style.width = `${Math.round(100 * (s.phase === "collecting" ? s.progress || 0 : 0))}%`;
    drawOverlay(s.overlay);
  }
  if (document.activeElement === document.body) $("number").focus();  // a barcode scanner types into the box
}

async function refresh() {
  try {
    render(await (await fetch("/kiosk/state", {cache: "no-store"})).json());
  } catch (e) { /* the station is restarting: keep the last state */ }
}
setInterval(refresh, 300);
window.addEventListener("resize", () => last && render(last));

// ------------------------------------------------------------ the technician number: typed, scanned or keyed in
// The page stays open for days: its CSRF token expires after an hour, and a restart may refuse it. A refused number
// gets a fresh token and one more try; what is still refused is said on screen, never dropped in silence.
async function sendNumber(form) {
  for (let tries = 0; tries < 2; tries++) {
    const r = await fetch("/kiosk/identify", {method: "POST", body: new FormData(form)});
    if (r.ok || r.status !== 400 || tries) return r.status;
    const tok = await (await fetch("/kiosk/token", {cache: "no-store"})).json();
    form.csrf_token.value = tok.csrf_token;
  }
}

const REFUSED = {
  400: ["工号无效，请重新输入", "Not a valid number: please type it again"],
  409: ["现在不能输入工号，请等当前检查结束", "Not now: wait until the current check has finished"],
  422: ["名单中没有这个工号，请核对后重新输入", "This number is not on the roster: check it and type it again"],
};

$("identify").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const number = form.number.value.trim();
  if (!number) return;
  let status;
  try { status = await sendNumber(form); } catch (e) { status = 0; }
  const [zh, en] = status === 200 ? ["已收到工号 " + number, "Number " + number + " received"]
    : (REFUSED[status] || ["未能提交，请重试", "Not sent: please try again"]);
  $("notice").textContent = t(zh, en);
  $("notice").className = "notice " + (status === 200 ? "ok" : "refused");
  if (status === 200) form.number.value = "";
  form.number.focus();
  refresh();
});

$("keypad").addEventListener("click", (event) => {
  const key = event.target.closest("button")?.dataset.key;
  if (!key) return;
  const input = $("number");
  input.value = key === "back" ? input.value.slice(0, -1) : input.value + key;
  input.focus();
});

applyLang();
refresh();
