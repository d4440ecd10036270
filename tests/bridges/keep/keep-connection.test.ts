// A keep connection holds at most KEEP_MAX_PENDING packets waiting to be handled; more are
// dropped silently (counted), as keep drops what it will not process.
import { createConnection, createServer } from "node:net";
import { afterAll, expect, it } from "vitest";
import { KeepPeerConnection, KEEP_MAX_PENDING } from "../../../runtime/bridges/keep/connection.js";
import { keepFrame } from "../../../runtime/bridges/keep/frames.js";
import { encodeKeepPacket, keepPacket } from "../../../runtime/bridges/keep/packet.js";
import { until } from "../../hub/support.js";

const closers: (() => void)[] = [];
afterAll(() => closers.forEach((c) => c()));

it("drops packets beyond KEEP_MAX_PENDING while the handler is busy", async () => {
  let conn: KeepPeerConnection | undefined;
  let handled = 0;
  const server = createServer((socket) => {
    conn = new KeepPeerConnection(socket, () => {
      handled++;
      return new Promise(() => {}); // never finishes: everything after waits
    }, () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(() => server.close());
  const client = createConnection({ host: "127.0.0.1", port: (server.address() as { port: number }).port });
  closers.push(() => client.destroy());
  const frames = Buffer.concat(Array.from({ length: 100 }, (_, i) => keepFrame(encodeKeepPacket(keepPacket({ id: String(i), src: "a", dst: "server" })))));
  client.write(frames);
  await until(() => conn !== undefined && conn.dropped === 100 - KEEP_MAX_PENDING, 5_000, "the drops");
  expect(handled).toBe(1);
});
