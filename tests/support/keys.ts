// SSH key material for tests, always well formed.
//
// ssh2's utils.generateKeyPairSync drops a leading zero byte from about one
// ed25519 key in 300 (10 of 3,000 in a trial): a 31-byte key that ssh2's own
// parser, and our check, refuse. A test that draws one fails at random, so tests
// take their keys from here.
import * as crypto from "crypto";
import { utils } from "ssh2";

function wireString(b: Buffer): Buffer {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(b.length);
    return Buffer.concat([n, b]);
}

/** A fresh ed25519 public key line, "ssh-ed25519 AAAA…[ comment]", that nobody holds the private half of. */
export function ed25519PublicKey(comment?: string): string {
    const der = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
    const blob = Buffer.concat([wireString(Buffer.from("ssh-ed25519")), wireString(der.subarray(der.length - 32))]).toString("base64");
    return comment === undefined ? `ssh-ed25519 ${blob}` : `ssh-ed25519 ${blob} ${comment}`;
}

type KeyType = "ed25519" | "rsa" | "ecdsa";

/** An OpenSSH key pair from ssh2's generator, drawn again until both halves parse. */
export function sshKeyPair(type: KeyType, options: { bits?: number; comment?: string } = {}): { public: string; private: string } {
    for (let attempt = 1; attempt <= 20; attempt++) {
        const pair = (utils.generateKeyPairSync as (t: KeyType, o: object) => { public: string; private: string })(type, options);
        if (!(utils.parseKey(pair.public) instanceof Error) && !(utils.parseKey(pair.private) instanceof Error)) return pair;
    }
    throw new Error(`ssh2 generated 20 malformed ${type} key pairs in a row`);
}
