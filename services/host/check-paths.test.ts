import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority } from "@protomesh/server/pki";
import { ConfigError, type ConfiguredPath } from "../config/index.js";
import { checkConfiguredPaths } from "./check-paths.js";

let dir: string;
const at = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "protomesh-config-paths-"));
  const ca = await createCertificateAuthority();
  const leaf = await ca.issue({ commonName: "orders" });
  await writeFile(at("ca.crt"), ca.cert);
  await writeFile(at("tls.crt"), leaf.cert);
  await writeFile(at("tls.key"), leaf.key);
  await writeFile(at("garbage"), "hello\n");
  await mkdir(at("data"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problemsOf(paths: ConfiguredPath[]): string[] {
  try {
    checkConfiguredPaths(paths);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("checkConfiguredPaths", () => {
  it("accepts PEM files that hold what they are for, and directories that exist or do not yet", () => {
    expect(
      problemsOf([
        { variable: "TLS_CERT_FILE", path: at("tls.crt"), holds: "certificates" },
        { variable: "TLS_KEY_FILE", path: at("tls.key"), holds: "private key" },
        { variable: "TLS_CA_FILE", path: at("ca.crt"), holds: "certificates" },
        { variable: "DATA_DIR", path: at("data"), holds: "directory" },
        { variable: "DATA_DIR", path: at("data/not-yet"), holds: "directory" },
      ]),
    ).toEqual([]);
  });

  it("names every variable whose path does not hold what it must", () => {
    expect(
      problemsOf([
        { variable: "TLS_CA_FILE", path: at("garbage"), holds: "certificates" },
        { variable: "TLS_KEY_FILE", path: at("tls.crt"), holds: "private key" },
        { variable: "TLS_CERT_FILE", path: at("missing.crt"), holds: "certificates" },
        { variable: "DATA_DIR", path: at("garbage"), holds: "directory" },
      ]),
    ).toEqual([
      `TLS_CA_FILE: ${at("garbage")} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`,
      expect.stringMatching(new RegExp(`^TLS_KEY_FILE: ${at("tls.crt")} holds no PEM private key \\(`)),
      `TLS_CERT_FILE: ${at("missing.crt")} does not exist`,
      `DATA_DIR: ${at("garbage")} is a file; it must be a directory (or not exist yet)`,
    ]);
  });
});
