import type { TLSSocket } from "node:tls";
import { describe, expect, it } from "vitest";
import { parseSubjectAltNames, peerIdentityOf } from "./peer-identity.js";

/** A verified socket as Node reports it, without a handshake. */
function verifiedSocket(subjectaltname: string | undefined, commonName: string): TLSSocket {
  const certificate = { raw: Buffer.alloc(0), subject: { CN: commonName }, subjectaltname, fingerprint256: "AB:CD" };
  return { authorized: true, getPeerCertificate: () => certificate } as unknown as TLSSocket;
}

describe("peerIdentityOf", () => {
  it.each([
    ["the first URI SAN", "DNS:localhost, URI:spiffe://shop/orders, URI:spiffe://shop/other", "orders", {}, "spiffe://shop/orders"],
    ["no identity from the CN by default", "DNS:localhost", "batch-job", {}, undefined],
    ["no identity from a CN that is a SPIFFE ID", undefined, "spiffe://shop/gateway", {}, undefined],
    ["the CN when enabled and there is no URI SAN", "DNS:localhost", "batch-job", { identityFromCommonName: true }, "batch-job"],
    ["the URI SAN over the CN when both exist", "URI:spiffe://shop/orders", "batch-job", { identityFromCommonName: true }, "spiffe://shop/orders"],
    ["no identity from a CN that looks like a URI, even when enabled", undefined, "spiffe://shop/gateway", { identityFromCommonName: true }, undefined],
  ])("takes %s", (_name, sans, commonName, options, expected) => {
    expect(peerIdentityOf(verifiedSocket(sans, commonName), options)?.id).toBe(expected);
  });

  it("has no identity for a socket whose certificate was not verified", () => {
    const socket = { ...verifiedSocket("URI:spiffe://shop/orders", "orders"), authorized: false } as TLSSocket;
    expect(peerIdentityOf(socket)).toBeUndefined();
  });
});

describe("parseSubjectAltNames", () => {
  it("splits Node's subjectaltname into kinds and values", () => {
    expect(parseSubjectAltNames("DNS:localhost, IP Address:127.0.0.1, URI:spiffe://shop/orders")).toEqual([
      ["DNS", "localhost"],
      ["IP Address", "127.0.0.1"],
      ["URI", "spiffe://shop/orders"],
    ]);
  });

  it("keeps a quoted value with a comma as one name, so a SAN cannot smuggle a second one", () => {
    expect(parseSubjectAltNames('URI:"spiffe://shop/a, URI:spiffe://shop/admin", DNS:x')).toEqual([
      ["URI", "spiffe://shop/a, URI:spiffe://shop/admin"],
      ["DNS", "x"],
    ]);
  });

  it("returns nothing for an empty string", () => {
    expect(parseSubjectAltNames("")).toEqual([]);
  });
});
