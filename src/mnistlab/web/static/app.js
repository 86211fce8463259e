// The page of `mnistlab serve`: draw or upload, POST the image to /api/predict, show what came back.
"use strict";

const WORDS = {
  en: { title: "Draw or drop an image", mode: "Model", digits: "Digits (MNIST)", fashion: "Clothes (Fashion-MNIST)",
        clear: "Clear", upload: "Choose an image…", seen: "What the model sees (28×28)",
        hint: "Draw with the mouse or a finger, or drop an image on the frame.", failed: "The server did not answer.",
        about: "Model shipped with mnistlab: {} correct on the test set." },
  fr: { about: "Modèle fourni avec mnistlab : {} de bonnes réponses sur le jeu de test." },  // else the page's words
};
let aboutWord = WORDS.fr.about;

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const seen = document.getElementById("seen");
const topList = document.getElementById("top");
const errorBox = document.getElementById("error");
const about = document.getElementById("about");
const fileInput = document.getElementById("file");
let models = {};
let source = null;      // what the current prediction is about: {kind: "canvas"} or {kind: "file", blob}
let drawing = false;

let inflight = false;
let again = false;      // a new request is wanted once the current one ends
let failedWord = "Le serveur n'a pas répondu.";

function currentModel() {
  return document.querySelector('input[name="model"]:checked').value;
}

function setState(state) { document.body.dataset.state = state; }

function paper() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
}

function pen() {
  ctx.strokeStyle = "#000";
  ctx.lineWidth = pad.width / 14;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
}

function point(ev) {
  const r = pad.getBoundingClientRect();
  return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height];
}

pad.addEventListener("pointerdown", (ev) => {
  ev.preventDefault();
  try { pad.setPointerCapture(ev.pointerId); } catch (e) { /* a synthetic or finished pointer */ }
  drawing = true;

  source = { kind: "canvas" };
  pen();
  const [x, y] = point(ev);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + 0.01, y);
  ctx.stroke();
});

pad.addEventListener("pointermove", (ev) => {
  if (!drawing) return;
  const [x, y] = point(ev);
  ctx.lineTo(x, y);
  ctx.stroke();
});

function endStroke() {
  if (!drawing) return;
  drawing = false;
  predict();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function clearAll() {
  paper();

  source = null;
  seen.removeAttribute("src");
  topList.replaceChildren();
  showError("");
  delete document.body.dataset.label;
  setState("idle");
}
document.getElementById("clear").addEventListener("click", clearAll);

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function useFile(file) {
  if (!file) return;
  source = { kind: "file", blob: file };
  paper();
  // Show the picture on the pad when the browser can decode it; the server decides whether it is usable.
  if (window.createImageBitmap) {
    createImageBitmap(file).then((bmp) => {
      const s = Math.min(pad.width / bmp.width, pad.height / bmp.height);
      const w = bmp.width * s, h = bmp.height * s;
      ctx.drawImage(bmp, (pad.width - w) / 2, (pad.height - h) / 2, w, h);

    }).catch(() => {});
  }
  predict();
}

fileInput.addEventListener("change", () => { useFile(fileInput.files[0]); fileInput.value = ""; });
pad.addEventListener("dragover", (ev) => { ev.preventDefault(); pad.classList.add("dragover"); });
pad.addEventListener("dragleave", () => pad.classList.remove("dragover"));
pad.addEventListener("drop", (ev) => {
  ev.preventDefault();
  pad.classList.remove("dragover");
  useFile(ev.dataTransfer.files[0]);
});
document.querySelectorAll('input[name="model"]').forEach((r) => r.addEventListener("change", () => {
  showAbout();
  if (source) predict();
}));

function canvasBlob() {
  return new Promise((resolve) => pad.toBlob(resolve, "image/png"));
}

async function predict() {
  if (!source) return;
  if (inflight) { again = true; return; }
  inflight = true;
  setState("busy");
  try {
    const body = source.kind === "file" ? source.blob : await canvasBlob();
    const type = (source.kind === "file" && source.blob.type) || "image/png";
    const res = await fetch("/api/predict?model=" + encodeURIComponent(currentModel()) + "&top=3", {
      method: "POST", headers: { "Content-Type": type }, body,
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok || !data || data.error) {
      throw new Error((data && data.error) || failedWord + " (" + res.status + ")");
    }
    show(data);
  } catch (err) {
    topList.replaceChildren();
    seen.removeAttribute("src");
    delete document.body.dataset.label;
    showError(err.message || failedWord);
    setState("error");
  } finally {
    inflight = false;
    if (again) { again = false; predict(); }
  }
}

function show(data) {
  showError("");
  seen.src = data.input;
  const rows = data.top.map((t) => {
    const li = document.createElement("li");
    li.dataset.class = String(t.class);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = t.label;
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = (100 * t.probability).toFixed(1) + "%";
    bar.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = (100 * t.probability).toFixed(1) + "\u00a0%";
    li.append(name, bar, pct);
    return li;
  });
  topList.replaceChildren(...rows);
  document.body.dataset.label = data.top.length ? String(data.top[0].class) : "";
  setState("done");
}

function showAbout() {
  const m = models[currentModel()];
  if (!m) { about.textContent = ""; return; }
  about.textContent = m.test_accuracy ? aboutWord.replace("{}", (100 * m.test_accuracy).toFixed(2) + "\u00a0%")
    : (m.description || m.error || "");
}

async function start() {
  paper();
  try {
    const res = await fetch("/api/models");
    const info = await res.json();
    const words = WORDS[info.lang] || {};
    if (info.lang) document.documentElement.lang = info.lang;
    document.querySelectorAll("[data-t]").forEach((el) => {
      if (words[el.dataset.t]) el.textContent = words[el.dataset.t];
    });
    if (words.failed) failedWord = words.failed;
    if (words.about) aboutWord = words.about;
    for (const m of info.models) models[m.id] = m;
    showAbout();
  } catch (e) {
    showError(failedWord);
  }
  setState("idle");
}

start();
