import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import http2 from "node:http2";
import { once } from "node:events";
import { connect as tlsConnect, TLSSocket } from "node:tls";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createCertificateAuthority, type CertificateAuthority, type PemPair } from "@protomesh/server/pki";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { Health } from "@protomesh/clients/health";
import { ORDER_ID, startApp, TestAppModule, trace, type RunningApp } from "./fixtures.js";

const HOUR = 60 * 60 * 1000;
let dir: string;
let ca: CertificateAuthority;
let app: RunningApp;
const clients: Record<string, PemPair> = {};

async function writePem(name: string, pem: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, pem);
  return file;
}

function orders(client: PemPair | undefined, trust = ca.cert) {
  const nodeOptions = { ca: trust, ...(client === undefined ? {} : { cert: client.cert, key: client.key }) };
  return createClient(OrdersService, createGrpcTransport({ baseUrl: app.baseUrl, nodeOptions }));
}

// How the client reports a connection the server refused: TLS 1.3 sends the certificate alert
// after the client's handshake completes, so the first stream fails (Internal or Canceled);
// a failed handshake is Unavailable.
const refusedAtConnection = [Code.Unavailable, Code.Internal, Code.Canceled];

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("expected the call to be refused");
    },
    (e: unknown) => ConnectError.from(e),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "protomesh-tls-"));
  ca = await createCertificateAuthority();
  const foreignCa = await createCertificateAuthority({ commonName: "someone else's CA" });
  const server = await ca.issue({ commonName: "orders", uris: ["spiffe://shop/orders"] });
  clients.gateway = await ca.issue({ commonName: "gateway", uris: ["spiffe://shop/gateway"] });
  clients.intruder = await ca.issue({ commonName: "intruder", uris: ["spiffe://shop/intruder"] });
  clients.cnOnly = await ca.issue({ commonName: "batch-job" });
  // The attacker's certificate: issued by the right CA, no URI SAN, a SPIFFE ID as its CN.
  clients.spiffeCn = await ca.issue({ commonName: "spiffe://shop/gateway" });
  clients.serverOnly = await ca.issue({ commonName: "gateway", uris: ["spiffe://shop/gateway"], extendedKeyUsages: ["serverAuth"] });
  for (const uri of ["spiffe://shop/Gateway", "SPIFFE://shop/gateway", "spiffe://shop/x/../gateway", "spiffe://shop/gateway/", "spiffe://shop/gateway/.."]) {
    clients[uri] = await ca.issue({ commonName: "gateway", uris: [uri] });
  }
  clients.expired = await ca.issue({
    commonName: "gateway",
    uris: ["spiffe://shop/gateway"],
    notBefore: new Date(Date.now() - 48 * HOUR),
    notAfter: new Date(Date.now() - 24 * HOUR),
  });
  clients.foreign = await foreignCa.issue({ commonName: "gateway", uris: ["spiffe://shop/gateway"] });
  app = await startApp(TestAppModule, {
    tls: {
      certFile: await writePem("server.crt", server.cert),
      keyFile: await writePem("server.key", server.key),
      caFile: await writePem("ca.crt", ca.cert),
      reloadIntervalMs: 50,
    },
    allow: {
      // "batch-job" is only a CN: listed, it still admits nobody unless the server opts in.
      "shop.orders.v1.OrdersService": ["spiffe://shop/gateway", "batch-job"],
      "shop.orders.v1.OrdersService/CancelOrder": ["spiffe://shop/admin"],
    },
  });
});

async function tlsFiles(prefix: string): Promise<{ certFile: string; keyFile: string; caFile: string }> {
  const server = await ca.issue({ commonName: "orders", uris: ["spiffe://shop/orders"] });
  return { certFile: await writePem(`${prefix}.crt`, server.cert), keyFile: await writePem(`${prefix}.key`, server.key), caFile: await writePem(`${prefix}-ca.crt`, ca.cert) };
}

afterAll(async () => {
  await app?.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  trace.length = 0;
});

describe("mTLS", () => {
  it("serves an allowed identity and shows it to guards", async () => {
    const res = await orders(clients.gateway).getOrder({ orderId: ORDER_ID });
    expect(res.order?.orderId).toBe(ORDER_ID);
    expect(trace[0]).toContain("peer=spiffe://shop/gateway");
  });

  it.each([
    ["a plain name", "cnOnly"],
    ["a SPIFFE ID", "spiffeCn"],
  ])("takes no identity from the CN of a certificate without a URI SAN (CN is %s): Unauthenticated", async (_name, which) => {
    const error = await failure(orders(clients[which]).listOrders({}));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.rawMessage).toContain("URI SAN");
    expect(trace).toEqual([]);
  });

  it.each(["spiffe://shop/Gateway", "SPIFFE://shop/gateway", "spiffe://shop/x/../gateway", "spiffe://shop/gateway/", "spiffe://shop/gateway/.."])(
    "matches URI SANs exactly: %s is not the gateway",
    async (uri) => {
      const error = await failure(orders(clients[uri]).getOrder({ orderId: ORDER_ID }));
      expect(error.code).toBe(Code.PermissionDenied);
      expect(trace).toEqual([]);
    },
  );

  it.each([
    ["no client certificate", undefined],
    ["a certificate from another CA", "foreign"],
    ["an expired certificate", "expired"],
    ["a certificate not issued for client authentication (EKU serverAuth only)", "serverOnly"],
  ])("refuses %s during the handshake", async (_name, which) => {
    const error = await failure(orders(which === undefined ? undefined : clients[which]).getOrder({ orderId: ORDER_ID }));
    expect(refusedAtConnection).toContain(error.code);
    expect(trace).toEqual([]);
  });

  it("refuses an identity not on the allow-list with PermissionDenied", async () => {
    const error = await failure(orders(clients.intruder).getOrder({ orderId: ORDER_ID }));
    expect(error.code).toBe(Code.PermissionDenied);
    expect(trace).toEqual([]);
  });

  it("applies a method's list instead of its service's", async () => {
    const error = await failure(orders(clients.gateway).cancelOrder({ orderId: ORDER_ID }));
    expect(error.code).toBe(Code.PermissionDenied);
  });

  it("leaves services the list does not name open to any verified peer", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: app.baseUrl, nodeOptions: { ca: ca.cert, ...clients.intruder } }));
    expect((await health.check({ service: "" })).status).toBe(1);
  });

  it.each([
    ["gRPC", createGrpcTransport],
    ["the Connect protocol", createConnectTransport],
  ])("reads a connection's client certificate once, not once per call (%s)", async (_protocol, createTransport) => {
    const nodeOptions = { ca: ca.cert, cert: clients.gateway?.cert, key: clients.gateway?.key };
    const client = createClient(OrdersService, createTransport({ baseUrl: app.baseUrl, httpVersion: "2", nodeOptions }));
    await client.getOrder({ orderId: ORDER_ID });
    const reads = vi.spyOn(TLSSocket.prototype, "getPeerCertificate");
    try {
      for (let call = 0; call < 5; call++) await client.getOrder({ orderId: ORDER_ID });
      for await (const update of client.watchOrder({ orderId: ORDER_ID })) expect(update.order?.orderId).toBe(ORDER_ID);
      expect(trace.filter((line) => line.includes("peer=spiffe://shop/gateway")).length).toBeGreaterThanOrEqual(6);
      // The first call read it; these ran on the same connection.
      expect(reads).not.toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
  });

  it("refuses plaintext HTTP/2 on the TLS port", async () => {
    const plain = createClient(OrdersService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${app.port}` }));
    const error = await failure(plain.getOrder({ orderId: ORDER_ID }));
    expect(refusedAtConnection).toContain(error.code);
    expect(trace).toEqual([]);
  });

  it("refuses TLS 1.1 with a protocol version alert", async () => {
    // OpenSSL 3.5 (Node 22 and 24) refuses to offer TLS 1.1 at its default security level and
    // fails before sending anything (ERR_SSL_NO_PROTOCOLS_AVAILABLE); level 0 makes the client
    // offer it, so that the refusal tested is the server's.
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: app.port,
      servername: "localhost",
      ca: ca.cert,
      ...clients.gateway,
      minVersion: "TLSv1.1",
      maxVersion: "TLSv1.1",
      ciphers: "DEFAULT@SECLEVEL=0",
    });
    const [error] = (await once(socket, "error")) as [NodeJS.ErrnoException];
    socket.destroy();
    expect(error.code).toBe("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
    expect(trace).toEqual([]);
  });

  it("loads rotated certificates from disk without a restart", async () => {
    const newCa = await createCertificateAuthority({ commonName: "rotated CA" });
    const server = await newCa.issue({ commonName: "orders", uris: ["spiffe://shop/orders"] });
    const client = await newCa.issue({ commonName: "gateway", uris: ["spiffe://shop/gateway"] });
    await writePem("server.key", server.key);
    await writePem("server.crt", server.cert);
    await writePem("ca.crt", newCa.cert);
    const deadline = Date.now() + 5000;
    for (;;) {
      // A new transport per attempt: a new TLS handshake sees the current credentials.
      const ok = await orders(client, newCa.cert)
        .getOrder({ orderId: ORDER_ID })
        .then(() => true, () => false);
      if (ok) break;
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const old = await failure(orders(clients.gateway).getOrder({ orderId: ORDER_ID }));
    expect(refusedAtConnection).toContain(old.code);
  });
});

describe("common-name identities, when enabled", () => {
  let cnApp: RunningApp;
  beforeAll(async () => {
    cnApp = await startApp(TestAppModule, {
      tls: { ...(await tlsFiles("cn")), identityFromCommonName: true },
      allow: { "shop.orders.v1.OrdersService": ["spiffe://shop/gateway", "batch-job"] },
    });
  });
  afterAll(() => cnApp?.close());

  const cnOrders = (client: PemPair | undefined) =>
    createClient(OrdersService, createGrpcTransport({ baseUrl: cnApp.baseUrl, nodeOptions: { ca: ca.cert, ...client } }));

  it("identifies a certificate without a URI SAN by its CN", async () => {
    await cnOrders(clients.cnOnly).getOrder({ orderId: ORDER_ID });
    expect(trace[0]).toContain("peer=batch-job");
  });

  it("still prefers the URI SAN when there is one", async () => {
    await cnOrders(clients.gateway).getOrder({ orderId: ORDER_ID });
    expect(trace[0]).toContain("peer=spiffe://shop/gateway");
  });

  it("never lets a CN claim a URI identity", async () => {
    const error = await failure(cnOrders(clients.spiffeCn).listOrders({}));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(trace).toEqual([]);
  });
});

describe("allow-list configuration", () => {
  it("refuses to start when a name matches nothing served (a typo would allow everyone)", async () => {
    const tls = { certFile: join(dir, "server.crt"), keyFile: join(dir, "server.key"), caFile: join(dir, "ca.crt") };
    await expect(startApp(TestAppModule, { tls, allow: { "shop.orders.v1.OrderService": ["spiffe://shop/gateway"] } })).rejects.toThrow(
      /shop\.orders\.v1\.OrderService/,
    );
  });
});

describe("a TLS server without a CA", () => {
  it("serves any client over TLS and has no peer identity", async () => {
    const server = await ca.issue({ commonName: "orders" });
    const plainTls = await startApp(TestAppModule, {
      tls: { certFile: await writePem("p.crt", server.cert), keyFile: await writePem("p.key", server.key) },
    });
    try {
      const client = createClient(OrdersService, createGrpcTransport({ baseUrl: plainTls.baseUrl, nodeOptions: { ca: ca.cert } }));
      await client.getOrder({ orderId: ORDER_ID });
      expect(trace[0]).toContain("peer=-");
      // gRPC-Web and Connect from browsers may arrive over HTTP/1.1.
      const web = createClient(OrdersService, createGrpcWebTransport({ baseUrl: plainTls.baseUrl, httpVersion: "1.1", nodeOptions: { ca: ca.cert } }));
      expect((await web.getOrder({ orderId: ORDER_ID })).order?.orderId).toBe(ORDER_ID);
      const session = http2.connect(plainTls.baseUrl, { ca: ca.cert });
      await new Promise<void>((resolve, reject) => session.once("connect", () => resolve()).once("error", reject));
      expect(session.alpnProtocol).toBe("h2");
      session.close();
    } finally {
      await plainTls.close();
    }
  });
});
