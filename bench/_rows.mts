console.log("start");
const m = await import("./suites/hub.js");
console.log("imported");
const t0 = performance.now();
const rows = m.responderRows();
console.log("responder", performance.now() - t0);
for (const r of rows) console.log(JSON.stringify(r));
for (const r of await m.reconnectStormRows()) console.log(JSON.stringify(r));
process.exit(0);
