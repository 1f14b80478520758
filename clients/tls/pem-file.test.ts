import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CertificateAuthority } from "@protomesh/server/pki";
import { readPemFile } from "./pem-file.js";

let dir: string;
let ca: CertificateAuthority;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "protomesh-pem-"));
  ca = await createCertificateAuthority();
  const leaf = await ca.issue({ commonName: "api" });
  await writeFile(file("ca.crt"), ca.cert);
  await writeFile(file("chain.crt"), leaf.cert + ca.cert);
  await writeFile(file("leaf.key"), leaf.key);
  await writeFile(file("garbage"), "this is not PEM\n");
  await writeFile(file("broken.crt"), `${ca.cert}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("readPemFile", () => {
  it("returns certificates and keys that parse", () => {
    expect(readPemFile(file("ca.crt"), "certificates").toString()).toBe(ca.cert);
    expect(readPemFile(file("chain.crt"), "certificates").length).toBeGreaterThan(ca.cert.length);
    expect(readPemFile(file("leaf.key"), "private key").toString()).toContain("PRIVATE KEY");
  });

  it("says what is wrong with a file that is not what it should be", () => {
    expect(() => readPemFile(file("garbage"), "certificates")).toThrow(`${file("garbage")} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`);
    expect(() => readPemFile(file("leaf.key"), "certificates")).toThrow(`${file("leaf.key")} holds no PEM certificate`);
    expect(() => readPemFile(file("broken.crt"), "certificates")).toThrow(`${file("broken.crt")}: certificate 2 of 2 does not parse`);
    expect(() => readPemFile(file("ca.crt"), "private key")).toThrow(`${file("ca.crt")} holds no PEM private key`);
    expect(() => readPemFile(file("missing.crt"), "certificates")).toThrow(`${file("missing.crt")} does not exist`);
    expect(() => readPemFile(dir, "certificates")).toThrow(`${dir} is a directory, not a PEM file`);
  });
});
