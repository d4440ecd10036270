import { spawn } from "node:child_process";
import { readFileSync, mkdtempSync } from "node:fs";
import { connectHub } from "../runtime/client/hub-client.js";
import { generateIdentity } from "../runtime/crypto/index.js";
const home = mkdtempSync("/tmp/pstorm-");
const resume = process.env.RESUME !== "0";
function hubProc(port: number) {
  const child = spawn(process.execPath, [...(process.env.PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/pstormprof"] : []), "bin/fleet.js", "hub", "--port", String(port), "--json", "--rate", "0", "--verify", "none"], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, FLEET_HOME: home } });
  return new Promise<{ child: typeof child; port: number }>((r) => { let out = ""; child.stdout!.on("data", (d) => { out += d; const l = out.split("\n").find((x) => x.includes('"listening"')); if (l) { child.stdout!.removeAllListeners("data"); child.stdout!.resume(); r({ child, port: JSON.parse(l).port }); } }); });
}
const cpu = (pid: number, tid = pid) => { const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
const cpuAll = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
let hub = await hubProc(0);
const port = hub.port;
const ids = Array.from({ length: 1000 }, (_, i) => generateIdentity(`s-${i}`));
const clients: any[] = [];
for (let i = 0; i < ids.length; i += 32) clients.push(...(await Promise.all(ids.slice(i, i + 32).map((identity) => connectHub({ port, identity, resume })))));
hub.child.kill("SIGKILL"); await new Promise((r) => setTimeout(r, 300));
hub = await hubProc(port);
const pid = hub.child.pid!;
const t0 = performance.now(); const c0 = cpuAll(pid); const m0 = cpu(pid); const cc0 = process.cpuUsage();
while (clients.some((c) => c.status !== "connected") && performance.now() - t0 < 30000) await new Promise((r) => setTimeout(r, 5));
const ms = performance.now() - t0;
await new Promise((r) => setTimeout(r, 300));
const cc = process.cpuUsage(cc0);
console.log(`resume=${resume} storm ${ms.toFixed(0)} ms; resumed ${clients.filter((c) => c.resumed).length}; hub cpu ${(cpuAll(pid) - c0) / 1000} ms/hs, main ${(cpu(pid) - m0) / 1000}; clients ${((cc.user + cc.system) / 1e6).toFixed(2)} ms/agent`);
await Promise.race([Promise.all(clients.map((c) => c.close())), new Promise((r) => setTimeout(r, 3000))]);
hub.child.kill("SIGINT"); await new Promise((r) => hub.child.once("exit", r));
process.exit(0);
