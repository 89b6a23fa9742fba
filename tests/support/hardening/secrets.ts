// Throwaway keys for the hardening suites, and finding a secret where it must not
// be: in logs, streams and files.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ed25519PublicKey } from "../keys";
import { RESULTS_DIR } from "./results";

// ---------------------------------------------------------------- keys


/** A fresh ed25519 public key line ("ssh-ed25519 AAAA… comment") nobody holds the private half of. */
export const throwawayPublicKey = (comment: string): string => ed25519PublicKey(comment);

/** A fresh ed25519 private key in OpenSSH format, authorized nowhere. */
export function throwawayPrivateKey(): string {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const dir = fs.mkdtempSync(path.join(RESULTS_DIR, "key-"));
    try {
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not-authorized", "-f", path.join(dir, "k")]);
        return fs.readFileSync(path.join(dir, "k"), "utf8");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The distinctive lines of a private key (its base64 body lines), to search for leaks. */
export function privateKeyFragments(privateKey: string): string[] {
    return privateKey.split("\n").map((l) => l.trim()).filter((l) => l.length >= 20 && !l.startsWith("-----"));
}

// ---------------------------------------------------------------- secrets

/** Every place a secret value was found: `where` names the file, stream or process. */
export interface SecretHit { secret: string; where: string }

/** Searches each text for each secret (by name), returning every hit. */
export function findSecrets(secrets: Record<string, string[]>, texts: Array<{ where: string; text: string }>): SecretHit[] {
    const hits: SecretHit[] = [];
    for (const { where, text } of texts) {
        for (const [name, values] of Object.entries(secrets)) {
            if (values.some((v) => v.length >= 8 && text.includes(v))) hits.push({ secret: name, where });
        }
    }
    return hits;
}

/** Every regular file under `dir`, as { where, text } (latin1, so any byte is searchable). */
export function filesUnder(dir: string, filter: (file: string) => boolean = () => true): Array<{ where: string; text: string }> {
    const out: Array<{ where: string; text: string }> = [];
    const walk = (d: string) => {
        let entries: fs.Dirent[];
        try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
        for (const e of entries) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.isFile() && filter(p)) {
                try { out.push({ where: p, text: fs.readFileSync(p, "latin1") }); } catch { /* gone */ }
            }
        }
    };
    walk(dir);
    return out;
}
