// The live dashboard: one WebSocket (/ws) brings the node's metrics and a
// picture of the world a few times a second; uPlot draws the plots. The
// buttons send commands that input sequences and logs like typed ones.
"use strict";

const keep = 600; // points per plot (two and a half minutes at 4 a second)
const state = { frames: 0, generation: 0, tick: 0, paused: false, inputLive: false, previous: null };
window.troupeDashboard = state; // what the browser test reads

function byName(samples) {
  const out = new Map();
  for (const [name, labels, value] of samples) {
    if (!out.has(name)) out.set(name, []);
    out.get(name).push({ labels, value });
  }
  return out;
}

function total(map, name, filter = () => true) {
  return (map.get(name) || []).filter((s) => filter(s.labels)).reduce((sum, s) => sum + s.value, 0);
}

// Mean of a histogram since the previous frame, in ms; null when nothing new.
function meanMs(now, before, name, filter) {
  if (!before) return null;
  const count = total(now, name + "_count", filter) - total(before, name + "_count", filter);
  const sum = total(now, name + "_sum", filter) - total(before, name + "_sum", filter);
  return count > 0 ? (1000 * sum) / count : null;
}

function makePlot(target, title, series, height = 160) {
  const opts = {
    width: 520,
    height,
    scales: { x: { time: true } },
    axes: [{}, { label: title, size: 60 }],
    series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 1.5, spanGaps: true }))],
    cursor: { drag: { x: true, y: false } },
  };
  const data = [[], ...series.map(() => [])];
  return { plot: new uPlot(opts, data, target), data };
}

const times = makePlot(document.getElementById("times"), "ms", [
  ["logic tick (ms)", "#2a6"],
  ["physics step (ms)", "#36c"],
  ["hand-off (ms)", "#c63"],
]);
const bodies = makePlot(document.getElementById("bodies"), "bodies", [["bodies", "#555"]], 120);
const restarts = makePlot(document.getElementById("restarts"), "restarts", [["restarts (all actors)", "#c33"]], 120);

function push(chart, x, values) {
  chart.data[0].push(x);
  values.forEach((v, i) => chart.data[i + 1].push(v));
  if (chart.data[0].length > keep) chart.data.forEach((column) => column.shift());
  chart.plot.setData(chart.data);
}

function drawWorld(world) {
  const canvas = document.getElementById("world");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#10141c";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!world) return;
  const [minX, , minZ, maxX, , maxZ] = world.arena;
  const scale = Math.min(canvas.width / (maxX - minX), canvas.height / (maxZ - minZ));
  const p = world.xyzr; // centimetres: x, y, z, radius
  for (let i = 0; i < world.colors.length; i++) {
    const c = world.colors[i] >>> 0;
    ctx.fillStyle = `rgb(${c >>> 24}, ${(c >>> 16) & 255}, ${(c >>> 8) & 255})`;
    const x = (p[4 * i] / 100 - minX) * scale;
    const z = (p[4 * i + 2] / 100 - minZ) * scale;
    const r = Math.max(1, (p[4 * i + 3] / 100) * scale);
    ctx.beginPath();
    ctx.arc(x, z, r, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function fillTables(map) {
  const rows = new Map();
  for (const [name, list] of map)
    for (const { labels, value } of list)
      if (labels.actor) {
        const key = labels.node + "/" + labels.actor;
        if (!rows.has(key)) rows.set(key, { actor: labels.actor, kind: labels.kind, node: labels.node });
        rows.get(key)[name] = value;
      }
  const body = document.querySelector("#actors tbody");
  body.innerHTML = "";
  for (const row of [...rows.values()].filter((r) => r.troupe_mailbox_capacity_messages !== undefined)) {
    const fill = row.troupe_mailbox_messages / Math.max(1, row.troupe_mailbox_capacity_messages);
    const tr = document.createElement("tr");
    const cells = [row.actor, row.kind, row.node,
      `${row.troupe_mailbox_messages} / ${row.troupe_mailbox_capacity_messages}`, null,
      row.troupe_mailbox_high_water_messages, row.troupe_mailbox_dropped_total, row.troupe_mailbox_rejected_total,
      row.troupe_restarts_total ?? 0];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      if (i === 4) {
        const bar = document.createElement("span");
        bar.className = "bar" + (fill >= 1 ? " full" : "");
        bar.style.width = `${Math.round(60 * Math.min(1, fill))}px`;
        td.appendChild(bar);
      } else {
        td.textContent = String(text);
        if (i < 3) td.className = "text";
      }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  const links = document.querySelector("#links tbody");
  links.innerHTML = "";
  for (const { labels, value } of map.get("troupe_link_lost_total") || []) {
    const back = total(map, "troupe_link_back_total", (l) => l.node === labels.node);
    const tr = document.createElement("tr");
    for (const text of [labels.node, value, back, value > back ? "a peer is lost" : "all up"]) {
      const td = document.createElement("td");
      td.textContent = String(text);
      tr.appendChild(td);
    }
    tr.firstChild.className = "text";
    links.appendChild(tr);
  }
}

function onFrame(frame) {
  state.frames++;
  state.inputLive = frame.input_live;
  document.getElementById("node").textContent = frame.node;
  const map = byName(frame.samples);
  const before = state.previous;
  const x = frame.time / 1000;
  push(times, x, [
    meanMs(map, before, "troupe_tick_seconds", () => true),
    meanMs(map, before, "troupe_step_seconds", () => true),
    meanMs(map, before, "troupe_handoff_seconds", () => true),
  ]);
  const world = frame.world;
  const bodyCount = map.has("troupe_bodies") ? total(map, "troupe_bodies") : world ? world.bodies : null;
  push(bodies, x, [bodyCount]);
  push(restarts, x, [total(map, "troupe_restarts_total")]);
  state.previous = map;
  fillTables(map);
  if (world) {
    state.generation = world.generation;
    state.tick = world.tick;
    state.paused = world.paused;
    drawWorld(world);
  }
  const status = document.getElementById("status");
  status.innerHTML = "";
  status.append(`tick ${state.tick}, generation ${state.generation}, ${bodyCount ?? "?"} bodies `);
  if (state.paused) {
    const paused = document.createElement("span");
    paused.className = "paused";
    paused.textContent = "(paused)";
    status.append(paused);
  }
  for (const id of ["pause", "resume", "spawn"]) document.getElementById(id).disabled = !state.inputLive;
  document.getElementById("controls-note").textContent = state.inputLive
    ? ""
    : "input does not take live commands here ([actors.input] live = true on this node)";
}

let socket;
function connect() {
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.samples) onFrame(message);
    else if (message.error) document.getElementById("controls-note").textContent = message.error;
    else if (message.sent) document.getElementById("controls-note").textContent = `sent: ${message.sent}`;
  };
  socket.onclose = () => {
    document.getElementById("status").textContent = "disconnected; retrying...";
    setTimeout(connect, 1000);
  };
}

function send(command) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(command));
}

document.getElementById("pause").onclick = () => send({ command: "pause" });
document.getElementById("resume").onclick = () => send({ command: "resume" });
document.getElementById("spawn").onclick = () =>
  send({ command: "spawn", position: [Math.random() * 4 - 2, 15, Math.random() * 4 - 2], velocity: [0, 0, 0], radius: 0.5 });

connect();
