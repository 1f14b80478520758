import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";

/** What a TLS file must hold: one or more certificates (a chain or a CA bundle), or a private key. */
export type PemContents = "certificates" | "private key";

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Reads a PEM file and checks it holds what TLS will use it for. Node takes a CA file with no
 * certificate in it without a word, and then trusts no peer, so every file is checked here
 * first. Throws an Error whose message starts with the file and says what is wrong with it.
 */
export function readPemFile(file: string, contents: PemContents): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new Error(code === "ENOENT" ? `${file} does not exist` : code === "EISDIR" ? `${file} is a directory, not a PEM file` : `${file} cannot be read (${(err as Error).message})`);
  }
  if (contents === "private key") {
    try {
      createPrivateKey(pem);
    } catch (err) {
      throw new Error(`${file} holds no PEM private key (${(err as Error).message})`);
    }
    return pem;
  }
  const blocks = pem.toString("utf8").match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error(`${file} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new Error(`${file}: certificate ${i + 1} of ${blocks.length} does not parse (${(err as Error).message})`);
    }
  });
  return pem;
}
