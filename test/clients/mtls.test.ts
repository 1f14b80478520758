import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { clientTransport, closeClient, type ClientEvent, type TlsOptions } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { type CertificateAuthority, createCertificateAuthority, type PemPair } from "@protomesh/server/pki";
import { eventually } from "./helpers/load.js";
import { type Replica, startReplica } from "./helpers/replicas.js";

const ORDER_ID = "00000000-0000-4000-8000-000000000001";

describe("mTLS", () => {
  let ca: CertificateAuthority;
  let clientCert: PemPair;
  let replica: Replica;
  let dir: string;

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    const serverCert = await ca.issue({ commonName: "orders", dnsNames: ["orders.shop.internal"], ipAddresses: [] });
    clientCert = await ca.issue({ commonName: "checkout", uris: ["spiffe://shop/checkout"] });
    replica = await startReplica({ tls: { ...serverCert, ca: ca.cert } });
    dir = mkdtempSync(join(tmpdir(), "protomesh-mtls-"));
  });
  afterAll(async () => {
    await replica.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  function client(tls: TlsOptions, events: ClientEvent[] = [], authority = `orders.shop.internal:${replica.port}`) {
    return createOrdersClient({
      target: replica.address,
      authority,
      tls,
      healthCheck: false,
      retry: false,
      circuitBreaker: false,
      reconnect: { initialBackoffMs: 20, maxBackoffMs: 50 },
      onEvent: (e) => events.push(e),
    });
  }

  it("calls with a client certificate, verifying the server against the logical host name", async () => {
    const c = client({ ca: ca.cert, cert: clientCert.cert, key: clientCert.key });
    try {
      const res = await c.getOrder({ orderId: ORDER_ID });
      expect(res.order?.userId).toBe(replica.name);
      expect(replica.authorities).toEqual(new Set([`orders.shop.internal:${replica.port}`]));
    } finally {
      closeClient(c);
    }
  });

  it("is refused without a client certificate, and refuses a server whose name does not match", async () => {
    const anonymous = client({ ca: ca.cert });
    const wrongName = client({ ca: ca.cert, cert: clientCert.cert, key: clientCert.key }, [], `payments.shop.internal:${replica.port}`);
    try {
      await expect(anonymous.getOrder({ orderId: ORDER_ID })).rejects.toBeInstanceOf(ConnectError);
      await expect(wrongName.getOrder({ orderId: ORDER_ID })).rejects.toMatchObject({ code: Code.Unavailable });
    } finally {
      closeClient(anonymous);
      closeClient(wrongName);
    }
  });

  it("reloads the client certificate when its files change", async () => {
    const stranger = await (await createCertificateAuthority({ commonName: "someone else" })).issue({ commonName: "checkout" });
    const files = { caFile: join(dir, "ca.pem"), certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
    writeFileSync(files.caFile, ca.cert);
    writeFileSync(files.certFile, stranger.cert);
    writeFileSync(files.keyFile, stranger.key);
    const events: ClientEvent[] = [];
    const c = client({ ...files, watchIntervalMs: 20 }, events);
    try {
      await expect(c.getOrder({ orderId: ORDER_ID })).rejects.toBeInstanceOf(ConnectError);

      writeFileSync(files.keyFile, clientCert.key);
      writeFileSync(files.certFile, clientCert.cert);
      await eventually(() => events.some((e) => e.type === "tls-reloaded") && clientTransport(c).snapshot()[0]?.connectivity !== "transient-failure", 3_000, "reload");
      const res = await c.getOrder({ orderId: ORDER_ID });
      expect(res.order?.userId).toBe(replica.name);
    } finally {
      closeClient(c);
    }
  });

  it("is not created from TLS files that hold no certificate or key, naming the option and the file", () => {
    const garbage = join(dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    writeFileSync(join(dir, "good.crt"), clientCert.cert);
    writeFileSync(join(dir, "good.key"), clientCert.key);
    const good = { certFile: join(dir, "good.crt"), keyFile: join(dir, "good.key") };
    expect(() => client({ ...good, caFile: garbage })).toThrow(`protomesh client: tls.caFile: ${garbage} holds no PEM certificate`);
    expect(() => client({ ...good, certFile: garbage })).toThrow(`protomesh client: tls.certFile: ${garbage} holds no PEM certificate`);
    expect(() => client({ ...good, keyFile: garbage })).toThrow(`protomesh client: tls.keyFile: ${garbage} holds no PEM private key`);
  });
});
