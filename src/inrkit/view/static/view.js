// inrkit view: draws tiles that the server renders from the field itself at every level.
// No library, nothing loaded from anywhere but this server.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const S = { x: 0, y: 0, z: 0, mode: "value", a: "", b: "", ab: "off", swipe: 0.5, az: 30, el: 30, r: 0, nw: 800, sz: NaN };
  let info = null;
  const layers = {};
  const scales = {};          // "layer/hash/mode" -> scale JSON
  const prevHash = {};        // layer id -> previous weights hash (live runs: old tiles shown until new ones land)
  const tiles = new Map();    // key -> ImageBitmap, insertion order = least recently used first
  const failed = new Set();
  const inflight = new Map(); // key -> AbortController
  let queue = [];
  const MAX_INFLIGHT = 6, MAX_TILES = 1500;
  const stats = { loaded: 0, aborted: 0 };
  let waiters = [], stepWaiters = [], complete = false, drawPending = false, level = 0;
  const nerf = { moving: false, timer: 0, img: {}, ctrl: {}, res: {}, pending: 0 };
  const dpr = () => window.devicePixelRatio || 1;
  const fmt = (n) => Math.round(n).toLocaleString("en-US");

  // ---- state in the URL ----
  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    for (const k of ["x", "y", "z", "swipe", "az", "el", "r", "nw", "sz"]) if (p.has(k) && isFinite(+p.get(k))) S[k] = +p.get(k);
    for (const k of ["mode", "a", "b", "ab"]) if (p.has(k)) S[k] = p.get(k);
  }
  let hashTimer = 0;
  function writeHash(now) {
    clearTimeout(hashTimer);
    const write = () => {
      const p = new URLSearchParams();
      const L = layers[S.a];
      const keys = L && L.kind === "nerf" ? ["az", "el", "r", "nw"] : L && L.slice ? ["x", "y", "z", "sz"] : ["x", "y", "z"];
      for (const k of keys) p.set(k, (+S[k].toPrecision(10)).toString());
      p.set("mode", S.mode); p.set("a", S.a); p.set("ab", S.ab);
      if (S.ab !== "off") p.set("b", S.b);
      if (S.ab === "swipe") p.set("swipe", S.swipe.toFixed(3));
      const url = location.pathname + location.search + "#" + p.toString();
      if (url !== location.pathname + location.search + location.hash) history.replaceState(null, "", url);
    };
    if (now) write(); else hashTimer = setTimeout(write, 150);  // at most a few writes a second while moving
  }

  // ---- geometry: the domain [-1, 1]^2, x right, y down; S.z = screen pixels per training pixel ----
  const A = () => layers[S.a];
  const trainWH = () => { const s = A().shape; return [s[1], s[0]]; };
  // screen pixels per coordinate unit at zoom z: one training pixel (voxel) is z screen pixels
  const unitPx = (z) => { const [w, h] = trainWH(), p = A().plane; return [z * w / (p[0][1] - p[0][0]), z * h / (p[1][1] - p[1][0])]; };
  const sliceQuery = (id) => (layers[id] && layers[id].slice ? `?z=${S.sz}` : "");
  function zMax() { const [ux, uy] = unitPx(1); return info.tile * 2 ** info.max_level / 2 / Math.max(ux, uy); }
  function fitZ() {
    const r = panes()[0].el.getBoundingClientRect(), [w, h] = trainWH();
    return Math.min(r.width / w, r.height / h) * 0.95;
  }
  function clampZ(z) { return Math.min(zMax(), Math.max(fitZ() / 8, z)); }
  function levelFor(z) {
    const [ux, uy] = unitPx(z);  // a level-L pixel is 2 / (256 * 2^L) units: at most one device pixel
    return Math.max(0, Math.min(info.max_level, Math.ceil(Math.log2(2 * Math.max(ux, uy) * dpr() / info.tile) - 1e-9)));
  }
  function panes() {
    const out = [{ el: $("paneA"), layer: S.a }];
    if (S.ab === "side") out.push({ el: $("paneB"), layer: S.b });
    return out;
  }

  // ---- tiles ----
  const tileKey = (id, hash, mode, L, x, y) => `${id}/${hash}/${mode}/${L}/${x}/${y}`;
  function getTile(id, hash, mode, L, x, y) {
    const k = tileKey(id, hash, mode, L, x, y);
    const t = tiles.get(k);
    if (t) { tiles.delete(k); tiles.set(k, t); }
    return t;
  }
  function ancestor(id, hash, mode, L, x, y) {
    const hs = [hash, prevHash[id]].filter(Boolean);
    for (let d = 0; d <= L; d++) for (const h of hs) {
      if (d === 0 && h === hash) continue;
      const t = tiles.get(tileKey(id, h, mode, L - d, x >> d, y >> d));
      if (t) return { t, d };
    }
    return null;
  }
  function drawLayer(ctx, cw, ch, layerId, need, prioBase) {
    const L0 = layers[layerId];
    if (!L0) return;
    const k = dpr(), [ux, uy] = unitPx(S.z);
    const kx = ux * k, ky = uy * k;  // device pixels per coordinate unit
    const xl = S.x - cw / 2 / kx, xr = S.x + cw / 2 / kx, yt = S.y - ch / 2 / ky, yb = S.y + ch / 2 / ky;
    const mode = S.mode, hash = L0.slice ? `${L0.hash}@${S.sz}` : L0.hash;
    const visit = (Lv, prio, drawIt) => {
      const n = 2 ** Lv, tu = 2 / n;
      const x0 = Math.max(0, Math.floor((xl + 1) / tu)), x1 = Math.min(n - 1, Math.floor((xr + 1) / tu));
      const y0 = Math.max(0, Math.floor((yt + 1) / tu)), y1 = Math.min(n - 1, Math.floor((yb + 1) / tu));
      for (let ty = y0; ty <= y1; ty++) for (let tx = x0; tx <= x1; tx++) {
        const sx = cw / 2 + (-1 + tx * tu - S.x) * kx, sy = ch / 2 + (-1 + ty * tu - S.y) * ky;
        const dx = Math.round(sx), dy = Math.round(sy);
        const dw = Math.round(sx + tu * kx) - dx, dh = Math.round(sy + tu * ky) - dy;
        const t = getTile(layerId, hash, mode, Lv, tx, ty);
        if (drawIt) {
          if (t) ctx.drawImage(t, dx, dy, dw, dh);
          else {
            const a = ancestor(layerId, hash, mode, Lv, tx, ty);
            if (!a || a.d > 2) uncovered++;
            if (a) {
              const s = info.tile / 2 ** a.d, ox = (tx - ((tx >> a.d) << a.d)) * s, oy = (ty - ((ty >> a.d) << a.d)) * s;
              ctx.drawImage(a.t, ox, oy, s, s, dx, dy, dw, dh);
            }
          }
        }
        const key = tileKey(layerId, hash, mode, Lv, tx, ty);
        if (!t && !failed.has(key)) {
          const cx = (sx + tu * kx / 2 - cw / 2), cy = (sy + tu * ky / 2 - ch / 2);
          need.push({ key, prio: prio + Math.hypot(cx, cy) / 1e6, exact: drawIt,
                      url: `/tile/${layerId}/${L0.hash}/${mode}/${Lv}/${tx}/${ty}.png${sliceQuery(layerId)}` });
        }
      }
    };
    const L = levelFor(S.z);
    level = L;
    let uncovered = 0;  // tiles of the view with nothing of theirs on screen, not even a parent or grandparent
    visit(L, prioBase + 1, true);
    // coarse first: a few tiles cover the view while the fine ones render; not after a zoom step, where the
    // tiles already drawn (one level up) stand in for the new ones: the server then renders only the view
    if (L >= 2 && uncovered) visit(L - 2, prioBase, false);
  }

  function schedule(need) {
    const wanted = new Set(need.map((n) => n.key));
    for (const [k, ctrl] of inflight) if (!wanted.has(k)) { ctrl.abort(); inflight.delete(k); stats.aborted++; }
    queue = need.filter((n) => !inflight.has(n.key)).sort((a, b) => a.prio - b.prio);
    pump();
  }
  function pump() {
    while (inflight.size < MAX_INFLIGHT && queue.length) {
      const n = queue.shift();
      const ctrl = new AbortController();
      inflight.set(n.key, ctrl);
      fetch(n.url, { signal: ctrl.signal })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error("HTTP " + r.status))))
        .then((b) => createImageBitmap(b))
        .then((bmp) => {
          tiles.set(n.key, bmp); stats.loaded++;
          while (tiles.size > MAX_TILES) tiles.delete(tiles.keys().next().value);
        })
        .catch((e) => { if (!ctrl.signal.aborted) failed.add(n.key); })
        .finally(() => { if (inflight.get(n.key) === ctrl) inflight.delete(n.key); requestDraw(); });
    }
  }

  // ---- NeRF camera views: low resolution while moving, full at rest ----
  function drawNerf(ctx, cw, ch, layerId, paneIdx) {
    const L = layers[layerId];
    const full = Math.max(8, Math.min(S.nw, 800, Math.round(cw))), low = Math.max(4, Math.round(full / 4));
    const w = nerf.moving ? low : full;
    const url = `/nerf/${layerId}/${L.hash}/view.png?az=${S.az.toFixed(2)}&el=${S.el.toFixed(2)}&r=${S.r.toFixed(4)}&w=${w}`;
    const have = nerf.img[paneIdx];
    if (have) {
      const s = Math.min(cw / have.bmp.width, ch / have.bmp.height);
      const dw = have.bmp.width * s, dh = have.bmp.height * s;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(have.bmp, (cw - dw) / 2, (ch - dh) / 2, dw, dh);
    }
    if ((!have || have.url !== url) && nerf.res[paneIdx] !== url) {
      if (nerf.ctrl[paneIdx]) nerf.ctrl[paneIdx].abort();
      const ctrl = new AbortController();
      nerf.ctrl[paneIdx] = ctrl; nerf.res[paneIdx] = url; nerf.pending++;
      fetch(url, { signal: ctrl.signal }).then((r) => (r.ok ? r.blob() : Promise.reject(r.status)))
        .then((b) => createImageBitmap(b))
        .then((bmp) => { nerf.img[paneIdx] = { bmp, url, w: bmp.width, h: bmp.height, low: w === low && w !== full }; })
        .catch(() => {})
        .finally(() => { nerf.pending--; if (nerf.res[paneIdx] === url) nerf.res[paneIdx] = null; requestDraw(); });
    }
    return have && have.url === url && !nerf.moving;
  }

  // ---- audio: the waveform of the field at one point per device pixel, any zoom ----
  const aud = { data: {}, ctrl: {}, res: {}, pending: 0 };
  const COLOURS = ["#8fd3ff", "#ffb454", "#b8f28c", "#f28cc8"];
  function audioRange(id, cw) {
    const L = layers[id], ux = S.z * L.audio.n / 2 * dpr();
    const c0 = Math.max(-1, S.x - cw / 2 / ux), c1 = Math.min(1, S.x + cw / 2 / ux);
    return { ux, c0, c1, n: Math.max(2, Math.min(8192, Math.round((c1 - c0) * ux))) };
  }
  function drawAudio(ctx, cw, ch, id, slot, colour) {
    const L = layers[id];
    const { ux, c0, c1, n } = audioRange(id, cw);
    if (!(c1 > c0)) return true;
    const url = `/audio/${id}/${L.hash}/wave.json?t0=${c0}&t1=${c1}&n=${n}`;
    const have = aud.data[slot];
    const C = L.audio.channels, lane = ch / C;
    if (have && have.layer === id) {
      ctx.lineWidth = Math.max(1, dpr());
      ctx.strokeStyle = colour;
      have.channels.forEach((vals, c) => {
        const mid = lane * (c + 0.5);
        ctx.beginPath();
        vals.forEach((v, j) => {
          const t = have.t0 + (j + 0.5) * (have.t1 - have.t0) / have.n;
          const x = cw / 2 + (t - S.x) * ux, y = mid - v * lane * 0.45;
          if (j) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        });
        ctx.stroke();
      });
    }
    const spacing = ux * 2 / L.audio.n;  // device pixels between training samples
    if (spacing > 8) {  // beyond the training resolution: ticks at the training samples' times
      ctx.fillStyle = "#666";
      const i0 = Math.max(0, Math.floor((c0 + 1) / 2 * L.audio.n)), i1 = Math.min(L.audio.n - 1, Math.ceil((c1 + 1) / 2 * L.audio.n));
      for (let i = i0; i <= i1; i++) ctx.fillRect(cw / 2 + (-1 + (2 * i + 1) / L.audio.n - S.x) * ux, ch - 6 * dpr(), 1, 6 * dpr());
    }
    if ((!have || have.url !== url) && aud.res[slot] !== url) {
      if (aud.ctrl[slot]) aud.ctrl[slot].abort();
      const ctrl = new AbortController();
      aud.ctrl[slot] = ctrl; aud.res[slot] = url; aud.pending++;
      fetch(url, { signal: ctrl.signal }).then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then((doc) => { aud.data[slot] = { ...doc, url, layer: id }; })
        .catch(() => {})
        .finally(() => { aud.pending--; if (aud.res[slot] === url) aud.res[slot] = null; requestDraw(); });
    }
    return have && have.url === url;
  }
  function play() {
    const L = A();
    if (!L || !L.audio) return;
    const { c0, c1 } = audioRange(L.id, panes()[0].el.querySelector("canvas").width);
    const p = $("player");
    p.src = `/audio/${L.id}/${L.hash}/play.wav?t0=${c0}&t1=${c1}`;
    p.play().catch(() => {});
  }

  // ---- drawing ----
  function requestDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(draw);
  }
  function draw() {
    drawPending = false;
    if (!info) return;
    const ps = panes(), need = [];
    let viewsDone = true;  // NeRF views and audio waveforms at their final request
    $("paneB").classList.toggle("hidden", S.ab !== "side");
    $("swipe").classList.toggle("hidden", S.ab !== "swipe");
    ps.forEach((p, i) => {
      const c = p.el.querySelector("canvas"), r = p.el.getBoundingClientRect();
      const cw = Math.round(r.width * dpr()), ch = Math.round(r.height * dpr());
      if (c.width !== cw || c.height !== ch) { c.width = cw; c.height = ch; }
      const ctx = c.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.clearRect(0, 0, cw, ch);
      const lay = layers[p.layer];
      p.el.querySelector(".tag").textContent = (S.ab !== "off" ? (i === 0 ? "A: " : "B: ") : "") + (lay ? lay.name : "");
      if (!lay) return;
      if (lay.kind === "nerf") { viewsDone = drawNerf(ctx, cw, ch, p.layer, i) && viewsDone; return; }
      if (lay.kind === "audio") {
        viewsDone = drawAudio(ctx, cw, ch, p.layer, i, COLOURS[0]) && viewsDone;
        if (S.ab === "swipe" && layers[S.b]) {  // for audio, "swipe" overlays B on A
          viewsDone = drawAudio(ctx, cw, ch, S.b, 2, COLOURS[1]) && viewsDone;
          p.el.querySelector(".tag").textContent = `A: ${lay.name} (blue) | B: ${layers[S.b].name} (orange)`;
        }
        return;
      }
      drawLayer(ctx, cw, ch, p.layer, need, i * 0.1);
      if (S.ab === "swipe" && layers[S.b]) {
        const sx = Math.round(S.swipe * cw);
        ctx.save(); ctx.beginPath(); ctx.rect(sx, 0, cw - sx, ch); ctx.clip();
        ctx.clearRect(sx, 0, cw - sx, ch);
        drawLayer(ctx, cw, ch, S.b, need, 0.05);
        ctx.restore();
        const sw = $("swipe"); sw.style.left = (S.swipe * r.width) + "px";
        p.el.querySelector(".tag").textContent = `A: ${lay.name} | B: ${layers[S.b].name}`;
      }
    });
    schedule(need);
    hud();
    complete = need.length === 0 && inflight.size === 0 && queue.length === 0 && viewsDone && nerf.pending === 0
      && aud.pending === 0;
    writeHash(complete);  // at rest the URL holds the view at once
    if (complete && waiters.length) { const w = waiters; waiters = []; w.forEach((f) => f(snapshot())); }
  }

  function hud() {
    const L = A();
    if (!L) return;
    const parts = [];
    if (L.kind === "audio") {
      const N = L.audio.n, R = L.audio.rate, cw = panes()[0].el.querySelector("canvas").width;
      const { c0, c1, n } = audioRange(L.id, cw), sec = (t) => ((t + 1) / 2 * N / R).toFixed(4);
      parts.push(`zoom ${S.z >= 10 ? fmt(S.z) : S.z.toPrecision(3)}\u00d7`);
      parts.push(`view = ${fmt(N * S.z)} samples (= ${fmt(R * S.z)} Hz)`);
      parts.push(`trained at ${fmt(N)} samples, ${fmt(R)} Hz`);
      parts.push(`showing ${fmt(n)} points, ${sec(c0)} s to ${sec(c1)} s`);
      if (S.z >= zMax() * 0.999) parts.push(`<span class="cap">float32 cap: times stop resolving beyond 2^${info.max_level} \u00d7 ${info.tile} points</span>`);
    } else if (L.kind === "nerf") {
      const im = nerf.img[0];
      parts.push(`camera: azimuth ${S.az.toFixed(1)}\u00b0, elevation ${S.el.toFixed(1)}\u00b0, radius ${S.r.toFixed(2)}`);
      parts.push(im ? `showing ${im.w} \u00d7 ${im.h} px (${im.low ? "low resolution while moving" : "full resolution at rest"})` : "rendering\u2026");
      parts.push(`trained at ${L.shape[1]} \u00d7 ${L.shape[0]} px`);
    } else {
      const [w, h] = trainWH();
      const cap = S.z >= zMax() * 0.999;
      parts.push(`zoom ${S.z >= 10 ? fmt(S.z) : S.z.toFixed(2)}\u00d7 (level ${level})`);
      parts.push(`view = ${fmt(w * S.z)} \u00d7 ${fmt(h * S.z)} px`);
      parts.push(`trained at ${w} \u00d7 ${h} px`);
      if (L.slice) {
        const v = (S.sz - L.slice.lo) / (L.slice.hi - L.slice.lo) * L.slice.n - 0.5;
        parts.push(`slice z = ${S.sz.toPrecision(4)} (voxel ${v.toFixed(2)} of 0 to ${L.slice.n - 1})`);
      }
      parts.push(`tiles ${inflight.size + queue.length} loading / ${stats.loaded} loaded`);
      parts.push(cap ? `<span class="cap">float32 cap: coordinates stop resolving beyond 2^${info.max_level} \u00d7 ${info.tile} px</span>`
                     : `cap 2^${info.max_level} \u00d7 ${info.tile} px (float32)`);
    }
    for (const id of [S.a, S.ab !== "off" ? S.b : null]) {
      const l = layers[id];
      if (l && l.live && l.step != null) parts.push(`${l.name}: step ${fmt(l.step)}${l.psnr != null ? `, PSNR ${l.psnr.toFixed(2)} dB` : ""}`);
    }
    $("hud").innerHTML = parts.join(" &middot; ");
  }

  // ---- legend: one colour scale per mode and run; in A/B mode one for each ----
  async function legendOf(L, part, tag) {
    const box = $("legend" + part);
    if (!L || !L.modes) { box.classList.add("hidden"); return; }
    box.classList.remove("hidden");
    const bar = $("legendBar" + part), ctx = bar.getContext("2d");
    if (S.mode === "value") {
      $("legendLabel" + part).textContent = tag + "value v \u2192 pixel (v + 1) / 2, channels as trained";
      const g = ctx.createLinearGradient(0, 0, 256, 0); g.addColorStop(0, "#000"); g.addColorStop(1, "#fff");
      ctx.fillStyle = g; ctx.fillRect(0, 0, 256, 12);
      $("legendLo" + part).textContent = "-1"; $("legendHi" + part).textContent = "1";
      return;
    }
    const key = `${L.id}/${L.hash}/${S.mode}`;
    if (!scales[key]) {
      const r = await fetch(`/api/scale/${key}`);
      if (!r.ok) return;
      scales[key] = await r.json();
    }
    const s = scales[key];
    const g = ctx.createLinearGradient(0, 0, 256, 0);
    for (const [p, c] of s.stops) g.addColorStop(p, c);
    ctx.fillStyle = g; ctx.fillRect(0, 0, 256, 12);
    $("legendLabel" + part).textContent = tag + s.label;
    $("legendLo" + part).textContent = s.lo.toPrecision(3); $("legendHi" + part).textContent = s.hi.toPrecision(3);
  }
  async function legend() {
    const ab = S.ab !== "off" && layers[S.b];
    await Promise.all([legendOf(A(), "", ab ? `A (${A().name}): ` : ""),
                       legendOf(ab ? layers[S.b] : null, "B", ab ? `B (${layers[S.b].name}): ` : "")]);
  }

  // ---- interaction ----
  function paneAt(clientX, clientY) {
    for (const p of panes()) {
      const r = p.el.getBoundingClientRect();
      if (clientX >= r.left && clientX < r.right && clientY >= r.top && clientY < r.bottom) return r;
    }
    return panes()[0].el.getBoundingClientRect();
  }
  function changed() { nerfMoving(); requestDraw(); }
  function nerfMoving() {
    if (!A() || A().kind !== "nerf") return;
    nerf.moving = true;
    clearTimeout(nerf.timer);
    nerf.timer = setTimeout(() => { nerf.moving = false; requestDraw(); }, 250);
  }
  function zoomAbout(clientX, clientY, factor) {
    if (A().kind === "nerf") { S.r = Math.max(1e-3, S.r / factor); changed(); return; }
    const r = paneAt(clientX, clientY), [ux, uy] = unitPx(S.z);
    const px = clientX - r.left - r.width / 2, py = clientY - r.top - r.height / 2;
    const cx = S.x + px / ux, cy = S.y + py / uy;  // the point under the cursor stays put
    S.z = clampZ(S.z * factor);
    const [vx, vy] = unitPx(S.z);
    S.x = cx - px / vx; S.y = cy - py / vy;
    changed();
  }
  function panBy(dx, dy) {
    if (A().kind === "nerf") {
      S.az -= dx * 0.4; S.el = Math.max(-89, Math.min(89, S.el + dy * 0.4)); changed(); return;
    }
    const [ux, uy] = unitPx(S.z);
    S.x -= dx / ux; S.y -= dy / uy;
    changed();
  }
  function reset() {
    const L = A();
    if (L.kind === "nerf") { S.az = 30; S.el = L.camera.elevation; S.r = L.camera.radius; }
    else { const p = L.plane; S.x = (p[0][0] + p[0][1]) / 2; S.y = (p[1][0] + p[1][1]) / 2; S.z = fitZ(); }
    changed();
  }
  function bind() {
    const stage = $("stage");
    stage.addEventListener("wheel", (e) => {
      e.preventDefault();
      const unit = e.deltaMode === 1 ? 33 : e.deltaMode === 2 ? 400 : 1;
      zoomAbout(e.clientX, e.clientY, Math.exp(-e.deltaY * unit * 0.002));
    }, { passive: false });
    stage.addEventListener("dblclick", (e) => zoomAbout(e.clientX, e.clientY, e.shiftKey ? 0.5 : 2));
    const pts = new Map();
    let swiping = false;
    stage.addEventListener("pointerdown", (e) => {
      swiping = e.target === $("swipe");
      stage.setPointerCapture(e.pointerId);
      pts.set(e.pointerId, { x: e.clientX, y: e.clientY });
      stage.classList.add("dragging");
    });
    stage.addEventListener("pointermove", (e) => {
      const p = pts.get(e.pointerId);
      if (!p) return;
      if (swiping) {
        const r = $("paneA").getBoundingClientRect();
        S.swipe = Math.max(0, Math.min(1, (e.clientX - r.left) / r.width));
        requestDraw(); return;
      }
      if (pts.size === 2) {  // pinch: zoom by the change of distance about the midpoint
        const [a, b] = [...pts.values()];
        const other = a === p ? b : a;
        const d0 = Math.hypot(p.x - other.x, p.y - other.y), d1 = Math.hypot(e.clientX - other.x, e.clientY - other.y);
        if (d0 > 0) zoomAbout((e.clientX + other.x) / 2, (e.clientY + other.y) / 2, d1 / d0);
      } else {
        panBy(e.clientX - p.x, e.clientY - p.y);
      }
      p.x = e.clientX; p.y = e.clientY;
    });
    const up = (e) => { pts.delete(e.pointerId); if (!pts.size) { stage.classList.remove("dragging"); swiping = false; } };
    stage.addEventListener("pointerup", up);
    stage.addEventListener("pointercancel", up);
    window.addEventListener("keydown", (e) => {
      if (e.target.tagName === "SELECT" || e.target.tagName === "INPUT") return;
      const r = $("paneA").getBoundingClientRect(), cx = r.left + r.width / 2, cy = r.top + r.height / 2;
      const step = 0.1 * Math.min(r.width, r.height);
      const act = { "+": () => zoomAbout(cx, cy, 2), "=": () => zoomAbout(cx, cy, 2), "-": () => zoomAbout(cx, cy, 0.5),
        "0": reset, ArrowLeft: () => panBy(step, 0), ArrowRight: () => panBy(-step, 0),
        ArrowUp: () => panBy(0, step), ArrowDown: () => panBy(0, -step) }[e.key];
      if (act) { e.preventDefault(); act(); }
    });
    window.addEventListener("resize", requestDraw);
    $("reset").addEventListener("click", reset);
    $("play").addEventListener("click", play);
    $("slice").addEventListener("input", (e) => {
      for (const id of [S.a, S.b]) if (layers[id] && layers[id].slice) prevHash[id] = `${layers[id].hash}@${S.sz}`;
      S.sz = +e.target.value; requestDraw();
    });
    for (const [id, k] of [["layerA", "a"], ["layerB", "b"], ["abMode", "ab"], ["mode", "mode"]]) {
      $(id).addEventListener("change", (e) => { S[k] = e.target.value; controls(); legend(); requestDraw(); });
    }
  }
  function controls() {
    const L = A();
    const compatible = Object.values(layers).filter((l) => l.kind === L.kind && l.id !== S.a);
    if (!compatible.some((l) => l.id === S.b)) S.b = compatible.length ? compatible[0].id : "";
    if (!compatible.length) S.ab = "off";
    $("layerB").innerHTML = "";
    for (const l of compatible) $("layerB").add(new Option(l.name, l.id, false, l.id === S.b));
    $("layerA").value = S.a; $("abMode").value = S.ab; $("mode").value = S.mode;
    $("abMode").disabled = !compatible.length;
    $("labelB").classList.toggle("hidden", S.ab === "off");
    $("labelMode").classList.toggle("hidden", !L.modes);
    $("play").classList.toggle("hidden", !L.audio);
    $("labelSlice").classList.toggle("hidden", !L.slice);
    if (L.slice) {
      const s = $("slice"), lo = L.slice.lo, hi = L.slice.hi;
      if (!(S.sz >= lo && S.sz <= hi)) S.sz = lo + (Math.floor(L.slice.n / 2) + 0.5) * (hi - lo) / L.slice.n;
      s.min = lo; s.max = hi; s.step = (hi - lo) / L.slice.n / 4; s.value = S.sz;
    }
  }

  // ---- live runs (fit --view): new weights, new tiles ----
  async function poll() {
    try {
      const r = await fetch("/api/info", { cache: "no-store" });
      const doc = await r.json();
      let redraw = false;
      for (const l of doc.layers) {
        const old = layers[l.id];
        if (old && old.hash !== l.hash) { prevHash[l.id] = old.hash; redraw = true; }
        if (old && (old.step !== l.step || old.psnr !== l.psnr)) redraw = true;
        layers[l.id] = l;
      }
      if (redraw) { legend(); requestDraw(); }
      stepWaiters = stepWaiters.filter(([n, f]) => (A().step >= n ? (f(A().step), false) : true));
    } catch (e) { /* the server stopped: keep what is shown */ }
    setTimeout(poll, 1000);
  }

  function snapshot() {
    return { state: { ...S }, level, loaded: stats.loaded, aborted: stats.aborted, inflight: inflight.size,
             queued: queue.length, complete,
             panes: panes().map((p) => ({ layer: p.layer, x: S.x, y: S.y, z: S.z, level, rect: (() => {
               const r = p.el.getBoundingClientRect(); return { left: r.left, top: r.top, width: r.width, height: r.height }; })() })) };
  }

  async function start() {
    readHash();
    info = await (await fetch("/api/info", { cache: "no-store" })).json();
    for (const l of info.layers) layers[l.id] = l;
    document.title = info.title;
    $("title").textContent = info.title;
    for (const l of info.layers) $("layerA").add(new Option(l.name, l.id));
    if (!layers[S.a]) S.a = info.layers[0].id;
    if (!info.modes.includes(S.mode)) S.mode = "value";
    if (!["off", "side", "swipe"].includes(S.ab)) S.ab = "off";
    const L = A();
    if (L.kind === "nerf") {
      if (!(S.r > 0)) { S.r = L.camera.radius; S.el = L.camera.elevation; }
    } else if (!(S.z > 0)) { reset(); }
    else S.z = clampZ(S.z);
    controls();
    bind();
    legend();
    requestDraw();
    if (info.live) poll();
  }

  const ready = start();
  window.inrView = {
    ready,
    // resolves once every tile of the current view is drawn at its level (or a NeRF view at its resolution)
    idle: () => ready.then(() => new Promise((resolve) => { waiters.push(resolve); requestDraw(); })),
    state: () => ({ ...S }),
    set: (p) => ready.then(() => {
      Object.assign(S, p);
      if (A().kind !== "nerf") S.z = clampZ(S.z);
      controls(); legend(); requestDraw(); return snapshot();
    }),
    snapshot,
    // live runs: resolves once the page has heard of training step n (polls /api/info every second)
    step: (n) => ready.then(() => new Promise((resolve) => stepWaiters.push([n, resolve]))),
    zoomAt: (clientX, clientY, factor) => zoomAbout(clientX, clientY, factor),
  };
})();
