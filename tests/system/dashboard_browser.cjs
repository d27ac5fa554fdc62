// Drives troupe's pages in Debian's chromium through puppeteer-core (from
// web/package-lock.json), for tests/system/live_test.cpp:
//   node dashboard_browser.cjs dashboard PORT OUT_DIR
//     Loads http://127.0.0.1:PORT/, waits for the WebSocket to bring frames
//     and worlds, takes a screenshot (OUT_DIR/dashboard.png), counts the pixels
//     the world view and the plots drew, clicks Pause and waits until the
//     world shows paused.
//   node dashboard_browser.cjs report REPORT_HTML
//     Opens a run's report.html from disk (no network), counts its plots and
//     the pixels they drew, and hovers over the first to read a value.
// Prints one JSON line with what it saw; exits 1 when a step failed.
"use strict";
const puppeteer = require("puppeteer-core");

const [mode, ...args] = process.argv.slice(2);
const result = {};

// Pixels of a canvas that differ from its first pixel (the background).
function drawnPixels(canvas) {
  const { width, height } = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  const [r0, g0, b0, a0] = data.slice(0, 4);
  let n = 0;
  for (let i = 0; i < data.length; i += 4)
    if (data[i] !== r0 || data[i + 1] !== g0 || data[i + 2] !== b0 || data[i + 3] !== a0) n++;
  return n;
}

async function report(page, file) {
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`file://${file}`, { waitUntil: "load", timeout: 30000 });
  result.plots = await page.evaluate(() => document.querySelectorAll("script.plot-data").length);
  result.drawn = await page.evaluate(
    (f) => [...document.querySelectorAll(".uplot canvas")].map((c) => eval("(" + f + ")")(c)),
    drawnPixels.toString());
  // Hover over the middle of the first plot: its legend shows the value there.
  const box = await (await page.$(".uplot .u-over")).boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  result.hover = await page.evaluate(() => document.querySelector(".uplot .u-legend .u-series:nth-child(2) .u-value").textContent);
  result.axis_labels = await page.evaluate(() => [...document.querySelectorAll(".uplot .u-label")].slice(0, 4).map((e) => e.textContent));
  result.page_errors = errors;
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 1000 });
    if (mode === "report") return await report(page, args[0]);
    const [port, out] = args;
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: "load", timeout: 30000 });
    // Frames arrive 4 a second: wait for a dozen, and for the world to move on.
    await page.waitForFunction(() => window.troupeDashboard && window.troupeDashboard.frames >= 12, { timeout: 30000 });
    const first = await page.evaluate(() => ({ ...window.troupeDashboard, previous: undefined }));
    await page.waitForFunction((g) => window.troupeDashboard.generation > g + 10, { timeout: 30000 }, first.generation);
    result.generations = [first.generation, await page.evaluate(() => window.troupeDashboard.generation)];
    result.input_live = await page.evaluate(() => window.troupeDashboard.inputLive);
    await page.screenshot({ path: `${out}/dashboard.png` });
    // Pixels that differ from each canvas's background: the world's bodies and the plots' lines.
    result.drawn = await page.evaluate((f) => {
      const count = eval("(" + f + ")");
      return {
        world: count(document.getElementById("world")),
        times: count(document.querySelector("#times canvas")),
        bodies: count(document.querySelector("#bodies canvas")),
      };
    }, drawnPixels.toString());
    await page.click("#pause");
    await page.waitForFunction(() => window.troupeDashboard.paused, { timeout: 30000 });
    result.paused_at_tick = await page.evaluate(() => window.troupeDashboard.tick);
    // Spawn while paused: input says what it sent.
    await page.click("#spawn");
    await page.waitForFunction(() => document.getElementById("controls-note").textContent.startsWith("sent: spawn"),
                               { timeout: 30000 });
    result.spawn_note = await page.evaluate(() => document.getElementById("controls-note").textContent);
    result.actors_listed = await page.evaluate(() => document.querySelectorAll("#actors tbody tr").length);
    result.page_errors = errors;
  } finally {
    await browser.close();
  }
}

main()
  .then(() => console.log(JSON.stringify(result)))
  .catch((e) => {
    result.failure = String(e);
    console.log(JSON.stringify(result));
    process.exit(1);
  });
