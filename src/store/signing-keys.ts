import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { dataFiles } from "../core/data-dir.js";

export interface SigningKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  /** Key for secret fingerprints (HMAC). */
  fingerprintKey: Buffer;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

/** Loads the daemon's Ed25519 signing key and fingerprint key, creating them on first start (mode 0600). */
export function loadOrCreateKeys(dataDir: string): SigningKeys {
  const privatePath = path.join(dataDir, dataFiles.signingKey);
  const publicPath = path.join(dataDir, dataFiles.publicKey);
  const fingerprintPath = path.join(dataDir, dataFiles.secretKey);
  if (!existsSync(privatePath)) {
    const pair = generateKeyPairSync("ed25519");
    writeFileSync(privatePath, pair.privateKey.export({ type: "pkcs8", format: "pem" }), {
      mode: 0o600,
      flag: "wx",
    });
    writeFileSync(publicPath, pair.publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  }
  if (!existsSync(fingerprintPath))
    writeFileSync(fingerprintPath, randomBytes(32), { mode: 0o600, flag: "wx" });
  const privateKey = createPrivateKey(readFileSync(privatePath));
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), fingerprintKey: readFileSync(fingerprintPath) };
}

export function readPublicKey(file: string): KeyObject {
  return createPublicKey(readFileSync(file));
}
