import { describe, expect, it } from "vitest";
import { parseSubjectAltNames } from "./peer-identity.js";

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
