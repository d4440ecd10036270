// Session sequences on an ordered carrier (spec/sessions.md): a real TCP proxy between an
// agent and the hub deletes one session frame; the next authentic frame arrives with a gap,
// and the receiving side ends the session with 610, whichever direction lost the frame.
import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connectHub } from "../../runtime/client/hub-client.js";
import { decodePacket } from "../../runtime/codec/index.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, type FleetError } from "../../runtime/errors.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

/** Splits a byte stream into frames ('FP' 0x01 0x00, u32 big-endian length, body). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 8 && buf.length >= 8 + buf.readUInt32BE(4)) {
      const n = 8 + buf.readUInt32BE(4);
      onFrame(buf.subarray(0, n));
      buf = buf.subarray(n);
    }
  };
}

const isSession = (frame: Buffer) => decodePacket(new Uint8Array(frame.subarray(8))).kind.case === "session";

/** A TCP proxy to port that drops the first session frame flowing in `direction`, once armed. */
async function deletingProxy(port: number, direction: "toHub" | "toAgent"): Promise<{ port: number; arm: () => void; dropped: () => number; server: Server }> {
  let armed = false;
  let dropped = 0;
  const server = createServer((client: Socket) => {
    const upstream = connect(port, "127.0.0.1");
    const pass = (from: Socket, to: Socket, dir: "toHub" | "toAgent") =>
      from.on(
        "data",
        framer((frame) => {
          if (armed && dir === direction && dropped === 0 && isSession(frame)) {
            dropped++;
            return;
          }
          to.write(frame);
        }),
      );
    pass(client, upstream, "toHub");
    pass(upstream, client, "toAgent");
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  return { port: typeof addr === "object" && addr ? addr.port : 0, arm: () => (armed = true), dropped: () => dropped, server };
}

describe("hub: session sequences on TCP", () => {
  it("the hub ends the session with 610 when a frame from the agent was deleted", async () => {
    const running = await inProcessHub();
    const proxy = await deletingProxy(running.port, "toHub");
    try {
      const alpha = await connectHub({ port: proxy.port, identity: generateIdentity("alpha") });
      const closed = new Promise<FleetError | undefined>((r) => alpha.onClose(r));
      proxy.arm();
      // Receipts never come for these (the session ends): send without waiting for them.
      void alpha.send({ to: "nobody", text: "deleted on the path", sign: false }).catch(() => {});
      await until(() => proxy.dropped() === 1, 5_000, "first frame deleted");
      void alpha.send({ to: "nobody", text: "arrives after a gap", sign: false }).catch(() => {});
      expect((await closed)?.code).toBe(ErrorCode.SECURITY_SEQUENCE_GAP);
      expect(proxy.dropped()).toBe(1);
    } finally {
      proxy.server.close();
    }
  });

  it("the agent ends the session with 610 when a frame from the hub was deleted", async () => {
    const running = await inProcessHub();
    const proxy = await deletingProxy(running.port, "toAgent");
    try {
      const beta = await connectHub({ port: proxy.port, identity: generateIdentity("beta") });
      const alpha = await connectHub({ port: running.port, identity: generateIdentity("alpha") });
      const closed = new Promise<FleetError | undefined>((r) => beta.onClose(r));
      const drops: FleetError[] = [];
      beta.onDrop((e) => drops.push(e));
      const got: string[] = [];
      beta.onMessage((env) => got.push(env.id));
      // The hub's first session message to beta carries its Finished (key confirmation): let it through.
      await alpha.send({ to: "beta", text: "zero", requiresAck: false, sign: false });
      await until(() => got.length === 1, 5_000, "first message");
      proxy.arm();
      void alpha.send({ to: "beta", text: "one", requiresAck: false, sign: false }).catch(() => {});
      await until(() => proxy.dropped() === 1, 5_000, "first frame deleted");
      void alpha.send({ to: "beta", text: "two", requiresAck: false, sign: false }).catch(() => {});
      expect((await closed)?.code).toBe(ErrorCode.SECURITY_SEQUENCE_GAP);
      expect(drops.map((e) => e.code)).toContain(ErrorCode.SECURITY_SEQUENCE_GAP);
      expect(got.length).toBe(1); // "one" was deleted, "two" refused
      await alpha.close();
    } finally {
      proxy.server.close();
    }
  });
});
