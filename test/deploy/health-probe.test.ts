// The exec probe of the manifests, run as the kubelet runs it (the compiled command, the
// container's environment) against a real mTLS server whose certificate files sit where the
// manifests mount the cert-manager Secret, issued from the manifest's Certificate.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConnectServer, HealthRegistry, type ConnectServer } from "@protomesh/server";
import { createCertificateAuthority } from "@protomesh/server/pki";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { freePort, requireBuild } from "../helpers/index.js";
import { renderProduction, shopEnvironment, shopServiceManifests } from "./shop-manifests.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const objects = renderProduction();
const manifests = shopServiceManifests(objects, "inventory");

let root: string;
let environment: Record<string, string>;
let server: ConnectServer;
let databaseUp = true;

beforeAll(async () => {
  requireBuild();
  const probeCommand = manifests.container.readinessProbe?.exec?.command ?? [];
  if (!existsSync(path.join(repoRoot, probeCommand[1] ?? ""))) {
    throw new Error(`${probeCommand[1]} is missing: run npm run build first (npm test does)`);
  }
  root = await mkdtemp(path.join(tmpdir(), "protomesh-probe-"));
  // The Secret's files, as cert-manager writes them, under the manifest's mount path.
  const ca = await createCertificateAuthority();
  const { uris, dnsNames } = manifests.certificate.spec;
  const leaf = await ca.issue({ commonName: "inventory", uris, dnsNames, ipAddresses: [] });
  const mountPath = manifests.container.volumeMounts.find((m) => m.name === "tls")?.mountPath ?? "";
  await mkdir(path.join(root, mountPath), { recursive: true });
  for (const [file, pem] of Object.entries({ "tls.crt": leaf.cert, "tls.key": leaf.key, "ca.crt": ca.cert })) {
    await writeFile(path.join(root, mountPath, file), pem);
  }
  const manifestEnvironment = shopEnvironment(objects, "inventory");
  environment = { ...manifestEnvironment, PORT: String(await freePort()) };
  for (const variable of ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"]) {
    environment[variable] = path.join(root, manifestEnvironment[variable] ?? "");
  }
  const config = loadInventoryConfig(environment);
  const health = new HealthRegistry();
  health.addProbe("database", () => databaseUp);
  server = createConnectServer([], {
    host: "127.0.0.1",
    port: config.port,
    health,
    ...(config.tls === undefined ? {} : { tls: { certFile: config.tls.certFile, keyFile: config.tls.keyFile, ...(config.tls.caFile === undefined ? {} : { caFile: config.tls.caFile }) } }),
  });
  await server.listen();
});

afterAll(async () => {
  await server?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** Runs a probe of the container spec with the container's environment, as the kubelet does. */
function runProbe(probe: "readinessProbe" | "livenessProbe" | "startupProbe"): Promise<{ code: number; stderr: string }> {
  const [command = "", ...args] = manifests.container[probe]?.exec?.command ?? [];
  const executable = command === "node" ? process.execPath : command;
  return new Promise((resolve) => {
    execFile(executable, args, { cwd: repoRoot, env: { PATH: process.env.PATH, ...environment }, timeout: 20_000 }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stderr });
    });
  });
}

describe("the manifests' exec probe against an mTLS server", () => {
  it("is ready, live and started while the service is SERVING", async () => {
    expect(await runProbe("readinessProbe")).toEqual({ code: 0, stderr: "" });
    expect(await runProbe("livenessProbe")).toEqual({ code: 0, stderr: "" });
    expect((await runProbe("startupProbe")).code).toBe(0);
  });

  it("is not ready but still live while a dependency is down, so the kubelet does not restart the pod", async () => {
    databaseUp = false;
    try {
      const readiness = await runProbe("readinessProbe");
      expect(readiness.code).toBe(1);
      expect(readiness.stderr).toContain("inventory readiness: NOT_SERVING");
      expect((await runProbe("livenessProbe")).code).toBe(0);
    } finally {
      databaseUp = true;
    }
  });

  it("fails liveness once the server no longer answers", async () => {
    await server.close();
    const liveness = await runProbe("livenessProbe");
    expect(liveness.code).toBe(1);
    expect(liveness.stderr).toMatch(/^inventory liveness: /);
  });
});
