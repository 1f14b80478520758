import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type SecureContextOptions, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CertificateAuthority } from "@protomesh/server/pki";
import { loadServerTls } from "@protomesh/server";

let dir: string;
let ca: CertificateAuthority;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "protomesh-server-tls-"));
  ca = await createCertificateAuthority();
  const pair = await ca.issue({ commonName: "api" });
  await writeFile(file("tls.crt"), pair.cert);
  await writeFile(file("tls.key"), pair.key);
  await writeFile(file("ca.crt"), ca.cert);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in for the HTTP/2 server: records what setSecureContext receives. */
function recordingServer(): { server: Server; loaded: SecureContextOptions[] } {
  const loaded: SecureContextOptions[] = [];
  const server = createServer();
  server.setSecureContext = (options: SecureContextOptions) => {
    loaded.push(options);
  };
  return { server, loaded };
}

const until = async (condition: () => boolean): Promise<void> => {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met within 3 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe("loadServerTls", () => {
  it("requires client certificates when a CA is given, unless told otherwise", () => {
    const base = { certFile: file("tls.crt"), keyFile: file("tls.key") };
    expect(loadServerTls({ ...base, caFile: file("ca.crt") }).serverOptions).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(loadServerTls({ ...base, caFile: file("ca.crt"), requireClientCert: false }).serverOptions).toMatchObject({ requestCert: false });
    expect(loadServerTls(base).serverOptions).toMatchObject({ requestCert: false });
    expect(() => loadServerTls({ ...base, requireClientCert: true })).toThrow(/needs caFile/);
  });

  it("refuses files that are not what they are for, naming the option and the file", async () => {
    await writeFile(file("garbage.pem"), "not PEM at all\n");
    const other = await ca.issue({ commonName: "other" });
    await writeFile(file("other.key"), other.key);
    const base = { certFile: file("tls.crt"), keyFile: file("tls.key") };
    expect(() => loadServerTls({ ...base, caFile: file("garbage.pem") })).toThrow(`caFile: ${file("garbage.pem")} holds no PEM certificate`);
    expect(() => loadServerTls({ ...base, certFile: file("garbage.pem") })).toThrow(`certFile: ${file("garbage.pem")} holds no PEM certificate`);
    expect(() => loadServerTls({ ...base, keyFile: file("garbage.pem") })).toThrow(`keyFile: ${file("garbage.pem")} holds no PEM private key`);
    expect(() => loadServerTls({ ...base, caFile: file("missing.pem") })).toThrow(`caFile: ${file("missing.pem")} does not exist`);
    expect(() => loadServerTls({ ...base, keyFile: file("other.key") })).toThrow(`keyFile ${file("other.key")} is not the key of certFile ${file("tls.crt")}`);
  });

  it("keeps the old credentials while a rotation is half written, then loads the new pair", async () => {
    const tls = loadServerTls({ certFile: file("tls.crt"), keyFile: file("tls.key"), reloadIntervalMs: 20 });
    const { server, loaded } = recordingServer();
    const errors: unknown[] = [];
    const stop = tls.watch(server, (error) => errors.push(error));
    try {
      const next = await ca.issue({ commonName: "api-rotated" });
      await writeFile(file("tls.crt"), next.cert);
      await until(() => errors.length > 0);
      expect(loaded).toEqual([]);
      await writeFile(file("tls.key"), next.key);
      await until(() => loaded.length === 1);
      expect(String(loaded[0]?.cert)).toBe(next.cert);
    } finally {
      stop();
    }
  });
});
