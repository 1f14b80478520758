import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { IdRegistry, sessionStreams, useIdRegistryForStreams } from "./id-registry.js";

// A small deterministic generator, so a failing sequence can be replayed from its seed.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe("IdRegistry", () => {
  it("answers like a Map through random additions and deletions of growing ids", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const next = random(seed);
      const registry = new IdRegistry<string>();
      const map = new Map<number, string>();
      let lastId = 0;
      for (let step = 0; step < 500; step++) {
        const roll = next();
        if (roll < 0.45) {
          lastId += 1 + Math.floor(next() * 3);
          expect(registry.set(lastId, `v${step}`)).toBe(registry);
          map.set(lastId, `v${step}`);
        } else if (roll < 0.85) {
          const id = Math.floor(next() * (lastId + 2));
          expect(registry.delete(id)).toBe(map.delete(id));
        } else {
          // Overwriting an id that is there keeps its place and the size.
          const id = [...map.keys()][Math.floor(next() * map.size)];
          if (id !== undefined) {
            registry.set(id, `again${step}`);
            map.set(id, `again${step}`);
          }
        }
        const probe = Math.floor(next() * (lastId + 2));
        expect([registry.size, registry.has(probe), registry.get(probe)]).toEqual([map.size, map.has(probe), map.get(probe)]);
      }
      expect([...registry]).toEqual([...map]);
      expect([...registry.keys()]).toEqual([...map.keys()]);
      expect([...registry.values()]).toEqual([...map.values()]);
      const visited: Array<[number, string]> = [];
      registry.forEach(function (this: unknown, value, id, whole) {
        expect(this).toBe(map);
        expect(whole).toBe(registry);
        visited.push([id, value]);
      }, map);
      expect(visited).toEqual([...map.entries()]);
    }
  });

  it("is empty after clear", () => {
    const registry = new IdRegistry<number>().set(1, 1).set(5, 5);
    registry.clear();
    expect([registry.size, [...registry], registry.has(1)]).toEqual([0, [], false]);
  });
});

describe("useIdRegistryForStreams", () => {
  const closing: Array<() => void> = [];
  afterEach(() => {
    for (const close of closing.splice(0)) close();
  });

  async function serve(onStream: (stream: http2.ServerHttp2Stream) => void): Promise<{ sessions: http2.ServerHttp2Session[]; installed: boolean[]; url: string }> {
    const server = http2.createServer();
    const sessions: http2.ServerHttp2Session[] = [];
    const installed: boolean[] = [];
    server.on("session", (session) => {
      sessions.push(session);
      installed.push(useIdRegistryForStreams(session));
    });
    server.on("stream", onStream);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closing.push(() => server.close());
    return { sessions, installed, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  function request(client: http2.ClientHttp2Session, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const stream = client.request({ ":path": path });
      let body = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => (body += chunk));
      stream.on("end", () => resolve(body));
      stream.on("error", reject);
      stream.end();
    });
  }

  it("serves every stream of a session through the registry and leaves it empty", async () => {
    const { sessions, installed, url } = await serve((stream) => {
      stream.respond({ ":status": 200 });
      stream.end("answer");
    });
    const client = http2.connect(url);
    closing.push(() => client.close());
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => request(client, `/${i}`)));
    expect(answers).toEqual(Array.from({ length: 200 }, () => "answer"));
    expect(installed).toEqual([true]);
    const streams = sessionStreams(sessions[0]!);
    expect(streams).toBeInstanceOf(IdRegistry);
    // Node deletes a closed stream one step after its 'close'.
    await new Promise((resolve) => setImmediate(resolve));
    expect((streams as IdRegistry<unknown>).size).toBe(0);
  });

  it("lets a destroyed session close the streams it still has open", async () => {
    const open: http2.ServerHttp2Stream[] = [];
    const { sessions, url } = await serve((stream) => {
      open.push(stream);
      stream.respond({ ":status": 200 });
      stream.write("partial");
    });
    const client = http2.connect(url);
    closing.push(() => client.destroy());
    const pending = Array.from({ length: 3 }, (_, i) => request(client, `/${i}`).catch(() => "failed"));
    await expect.poll(() => open.length).toBe(3);
    expect((sessionStreams(sessions[0]!) as IdRegistry<unknown>).size).toBe(3);
    const closed = open.map((stream) => new Promise((resolve) => stream.once("close", resolve)));
    sessions[0]!.destroy();
    await Promise.all(closed);
    expect(open.every((stream) => stream.destroyed)).toBe(true);
    expect((sessionStreams(sessions[0]!) as IdRegistry<unknown>).size).toBe(0);
    // The clients settle with what was written before the session went away, never an answer.
    for (const settled of await Promise.all(pending)) expect(["partial", "failed"]).toContain(settled);
  });

  it("keeps the streams a session already has and leaves other shapes alone", () => {
    const state = { streams: new Map<number, string>([[1, "first"], [3, "second"]]) };
    const session = { [Symbol("state")]: state } as unknown as http2.Http2Session;
    expect(useIdRegistryForStreams(session)).toBe(true);
    expect(state.streams).toBeInstanceOf(IdRegistry);
    expect([...state.streams]).toEqual([[1, "first"], [3, "second"]]);

    const noMap = { [Symbol("state")]: { streams: [] } };
    expect(useIdRegistryForStreams(noMap as unknown as http2.Http2Session)).toBe(false);
    expect(noMap[Object.getOwnPropertySymbols(noMap)[0]!]).toEqual({ streams: [] });
    expect(useIdRegistryForStreams({} as http2.Http2Session)).toBe(false);
  });
});
