// Seals bytes the way the appliance does (docs/appliance-contract.md, "The envelope"),
// written here from the contract rather than taken from the code under test, so the
// unit tests of the readers check them against an independent writer.
import { createCipheriv, randomBytes, scryptSync } from "crypto";

/** "OSEC" | 1 | scrypt salt (16) | GCM IV (12) | GCM tag (16) | ciphertext; key = scrypt(password, salt, 32, N=16384, r=8, p=1). */
export function seal(plain: Buffer, password: string): Buffer {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 });
    const c = createCipheriv("aes-256-gcm", key, iv);
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([Buffer.from("OSEC"), Buffer.from([1]), salt, iv, c.getAuthTag(), body]);
}
