// Hostile input: every value a stack could hand a provider that must never reach a
// host is refused by that provider's `check` (which the engine runs during preview,
// before any create, update or delete), with a message that names the field and the
// rule. Pure: the providers' check functions are called directly, as the engine's
// dynamic-provider host calls them. tests/e2e/hardening.test.ts runs a sample of
// these cases through the real engine and proves from the lab's logs that nothing
// ran on any host.
//
// Cases marked [gap] are provider gaps this suite found (fixed in 8b4adf7); they
// guard against a regression. See docs/security.md, "Gaps this suite found".
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { applianceRootKeyProvider } from "../../../../providers/resources/appliance-root-key";
import { authorizedKeyProvider } from "../../../../providers/resources/authorized-key";
import { parseAuthorizedKeys } from "../../../../providers/formats/authorized-keys/file";
import { backupPolicyProvider, planPolicy } from "../../../../providers/resources/backup-policy";
import { backupVerificationProvider } from "../../../../providers/resources/backup-verification";
import { partitionSpec, remotePartitionProvider } from "../../../../providers/resources/remote-partition";
import { rsyncTargetProvider } from "../../../../providers/resources/rsync-target";
import { partitionArgs, policyStepArgs, rsyncSetArgs } from "../../../../providers/appliance/contract-driver";
import type { BackupSettingsView } from "../../../../providers/appliance/driver";
import { shellJoin } from "../../../../providers/transport/shell";
import { RESULTS_DIR, recordFigures } from "../../../support/hardening";
import { ed25519PublicKey, sshKeyPair } from "../../../support/keys";

// ---------------------------------------------------------------- keys and bases

function wire(...parts: Buffer[]): Buffer {
    return Buffer.concat(parts.flatMap((p) => { const n = Buffer.alloc(4); n.writeUInt32BE(p.length); return [n, p]; }));
}
const ED25519 = sshKeyPair("ed25519");
const HOST_KEY = ED25519.public.split(" ").slice(0, 2).join(" ");
const PUBLIC_KEY = ed25519PublicKey("root@appliance-0");
const PUBLIC_BLOB = Buffer.from(PUBLIC_KEY.split(" ")[1], "base64");
const RSA_1024 = (() => {
    const { publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 });
    const jwk = publicKey.export({ format: "jwk" }) as { n: string; e: string };
    const mpint = (b64: string) => { const b = Buffer.from(b64, "base64url"); return b[0] & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b; };
    return `ssh-rsa ${wire(Buffer.from("ssh-rsa"), mpint(jwk.e), mpint(jwk.n)).toString("base64")} weak@example`;
})();
const RSA_3072_BLOB = Buffer.from(sshKeyPair("rsa", { bits: 3072 }).public.split(" ")[1], "base64");
const FINGERPRINT = "SHA256:" + crypto.createHash("sha256").update(Buffer.from(HOST_KEY.split(" ")[1], "base64")).digest("base64").replace(/=+$/, "");
/** 43 base64 characters whose last one carries bits a SHA-256 digest cannot have. */
const NON_CANONICAL_FINGERPRINT = FINGERPRINT.slice(0, -1) + (FINGERPRINT.endsWith("B") ? "C" : "B");
const PRIVATE_KEY_TEXT = ED25519.private;

const appliance = { host: "10.0.0.5", hostKey: HOST_KEY, privateKeyPath: "/keys/mt4adm_ed25519" };
const server = { host: "backup.example.com", user: "bkpadmin", hostKey: HOST_KEY, privateKeyPath: "/keys/bkpadmin_ed25519" };
const CIFS_PASSWORD = "Lab-pass#1 $(not-a-command)";
const MASTER_PASSWORD = "correct horse battery staple";
/** What `orbit backup create --json` prints (docs/appliance-contract.md). */
const REPORT = JSON.stringify({
    ok: true, id: "20261126T080000Z-1a2b", destination: "rsync://senhauser@10.0.0.9:22/files/backup/senhasegura", kinds: ["system"],
    files: ["backup/system/20261126T080000Z-1a2b/system.tar.gz"], bytes: 12345, durationMs: 840, startedAt: "2026-11-26T08:00:00.000Z",
});

type Kind = "ApplianceRootKey" | "RsyncTarget" | "RemotePartition" | "AuthorizedKey" | "BackupPolicy" | "BackupVerification";
const PROVIDERS = {
    ApplianceRootKey: applianceRootKeyProvider, RsyncTarget: rsyncTargetProvider, RemotePartition: remotePartitionProvider,
    AuthorizedKey: authorizedKeyProvider, BackupPolicy: backupPolicyProvider, BackupVerification: backupVerificationProvider,
};

/** A valid input for each variant; every case changes exactly one value of one of these. */
const BASES: Record<string, { kind: Kind; args: Record<string, unknown> }> = {
    rootKey: { kind: "ApplianceRootKey", args: { connection: appliance } },
    rsync: { kind: "RsyncTarget", args: { connection: appliance, user: "senhauser", host: "backup.example.com", port: 22, path: "/files/backup/senhasegura" } },
    cifs: { kind: "RemotePartition", args: { connection: appliance, partitionId: "cifs-share", protocol: "cifs", host: "files.example.com", port: 445, path: "/backup/senhasegura", user: "svc-senhasegura", password: CIFS_PASSWORD, domain: "CORP" } },
    cifsCredential: { kind: "RemotePartition", args: { connection: appliance, partitionId: "cifs-share", protocol: "cifs", host: "files.example.com", path: "/backup", credentialId: "lab-cifs" } },
    nfs: { kind: "RemotePartition", args: { connection: appliance, partitionId: "nfs-share", protocol: "nfs", host: "nfs.example.com", port: 2049, path: "/exports/senhasegura" } },
    key: { kind: "AuthorizedKey", args: { connection: server, targetUser: "senhauser", publicKey: PUBLIC_KEY, restrictTo: "/files/backup/senhasegura", comment: "root@appliance-0" } },
    keyPath: { kind: "AuthorizedKey", args: { connection: server, targetUser: "senhauser", publicKey: PUBLIC_KEY, restrictTo: "/files/backup/senhasegura", authorizedKeysPath: "/etc/ssh/authorized_keys/senhauser" } },
    keyOptions: { kind: "AuthorizedKey", args: { connection: server, targetUser: "senhauser", publicKey: PUBLIC_KEY, options: { restrict: true, from: ["10.0.0.5"], permitOpen: ["localhost:873"], environment: ["LANG=C"], expiryTime: "20300101", command: "rrsync -wo /files/backup" } } },
    policy: { kind: "BackupPolicy", args: { connection: appliance, system: true, video: true, secrets: true, masterPassword: MASTER_PASSWORD, hour: 5, notifications: { email: true, siem: true, emailTo: "backup-alerts@example.com" }, destination: { type: "partition", partitionId: "cifs-share" } } },
    verifyRsync: { kind: "BackupVerification", args: { report: REPORT, appliance: "mt4adm@10.0.0.5:59022", destination: { type: "rsync", server, path: "/files/backup/senhasegura" } } },
    verifyCifs: { kind: "BackupVerification", args: { report: REPORT, destination: { type: "cifs", host: "files.example.com", port: 445, path: "/backup/senhasegura", user: "svc-senhasegura", password: CIFS_PASSWORD, domain: "CORP" } } },
    verifyNfs: { kind: "BackupVerification", args: { report: REPORT, destination: { type: "nfs", host: "nfs.example.com", port: 2049, path: "/exports/senhasegura" } } },
};

/** A copy of `obj` with the value at a dotted path (array indexes allowed) replaced, or removed when `value` is REMOVE. */
const REMOVE = Symbol("remove");
function withValue(obj: Record<string, unknown>, dotted: string, value: unknown): Record<string, unknown> {
    const copy = structuredClone(obj) as any;
    const keys = dotted.split(".");
    let at = copy;
    for (const k of keys.slice(0, -1)) at = at[k];
    const last = keys[keys.length - 1];
    if (value === REMOVE) delete at[last];
    else at[last] = value;
    return copy;
}

// ---------------------------------------------------------------- the cases

interface Case {
    group: string;
    /** What is wrong, in words. */
    what: string;
    base: keyof typeof BASES;
    /** The field the failure must name (the engine prints it as `property <field>`). */
    field: string;
    /** Values to set before checking: dotted path -> value (REMOVE to drop a field). */
    set: Record<string, unknown>;
    /** The rule the message must state. */
    reason?: RegExp;
    /** A secret the message must never show. */
    secret?: string;
    /** A gap in the provider this case exposed when it was written (since fixed). */
    gap?: string;
}

const cases: Case[] = [];
const add = (c: Case) => cases.push(c);

// Shell injection into every string field that reaches a command line, a config
// file or authorized_keys. (Secrets and free text are data: they are proven inert
// in "values that are data, not code" below.)
const INJECTIONS: Array<[string, string]> = [
    ["a ';'", "x;touch /tmp/ssb-pwned"],
    ["$( )", "$(touch /tmp/ssb-pwned)"],
    ["backticks", "`touch /tmp/ssb-pwned`"],
    ["a newline", "x\ntouch /tmp/ssb-pwned"],
    ["a single quote", "x'$(touch /tmp/ssb-pwned)'"],
    ["a double quote", "x\"$(touch /tmp/ssb-pwned)\""],
];
const INJECTABLE: Array<{ base: keyof typeof BASES; field: string; prefix?: string }> = [
    { base: "rootKey", field: "connection.host" },
    { base: "rootKey", field: "connection.user" },
    { base: "rsync", field: "user" },
    { base: "rsync", field: "host" },
    { base: "rsync", field: "path", prefix: "/files/" },
    { base: "cifs", field: "partitionId" },
    { base: "cifs", field: "host" },
    { base: "cifs", field: "path", prefix: "/backup/" },
    { base: "cifs", field: "user" },
    { base: "cifs", field: "domain" },
    { base: "cifsCredential", field: "credentialId" },
    { base: "key", field: "connection.host" },
    { base: "key", field: "connection.user" },
    { base: "key", field: "targetUser" },
    { base: "keyPath", field: "authorizedKeysPath", prefix: "/etc/ssh/authorized_keys/" },
    { base: "key", field: "restrictTo", prefix: "/files/" },
    { base: "keyOptions", field: "options.from.0" },
    { base: "keyOptions", field: "options.permitOpen.0" },
    { base: "keyOptions", field: "options.environment.0" },
    { base: "keyOptions", field: "options.expiryTime" },
    { base: "policy", field: "notifications.emailTo" },
    { base: "policy", field: "destination.partitionId" },
    { base: "verifyRsync", field: "destination.path", prefix: "/files/" },
    { base: "verifyRsync", field: "destination.server.user" },
    { base: "verifyCifs", field: "destination.host" },
    { base: "verifyCifs", field: "destination.user" },
    { base: "verifyNfs", field: "destination.path", prefix: "/exports/" },
];
for (const target of INJECTABLE) {
    for (const [name, payload] of INJECTIONS) {
        add({ group: "shell injection", what: `${name} in ${target.field}`, base: target.base, field: target.field, set: { [target.field]: (target.prefix ?? "") + payload } });
    }
}
// The key line itself: an injection in the type, in the key data, or a second line.
add({ group: "shell injection", what: "a command in place of the key type", base: "key", field: "publicKey", set: { publicKey: `$(touch /tmp/ssb-pwned) ${PUBLIC_KEY.split(" ")[1]}` }, reason: /not supported|invalid SSH public key/ });
add({ group: "shell injection", what: "a ';' inside the key data", base: "key", field: "publicKey", set: { publicKey: `ssh-ed25519 AAAA;touch${PUBLIC_KEY.split(" ")[1]}` }, reason: /not valid base64/ });
add({ group: "shell injection", what: "a second line smuggled after the key", base: "key", field: "publicKey", set: { publicKey: `${PUBLIC_KEY}\ncommand="/bin/sh" ${PUBLIC_KEY}` }, reason: /newline/ });
add({ group: "shell injection", what: "options smuggled before the key", base: "key", field: "publicKey", set: { publicKey: `command="/bin/sh",no-pty ${PUBLIC_KEY}` }, reason: /starts with authorized_keys options/ });
add({ group: "shell injection", what: "a quote that would close the forced command", base: "keyOptions", field: "options.command", set: { "options.command": "rrsync -wo /files\\" }, reason: /backslash/ });
add({ group: "shell injection", what: "a second option hidden in a raw option", base: "key", field: "options.other.0", set: { restrictTo: REMOVE, options: { restrict: true, other: ['no-pty,command="/bin/sh"'] } }, reason: /more than one option/ });
add({ group: "shell injection", what: "a newline in the comment of the key line", base: "key", field: "comment", set: { comment: "root@appliance-0\ncommand=\"/bin/sh\" ssh-ed25519 AAAA" }, reason: /printable ASCII on one line/ });
add({ group: "shell injection", what: "a newline in a CIFS password (would end the stdin line)", base: "cifs", field: "password", set: { password: "first-line\nsecond-line" }, secret: "second-line", reason: /printable ASCII/ });
add({ group: "shell injection", what: "a newline in the master password (would end the stdin line)", base: "policy", field: "masterPassword", set: { masterPassword: "master-password-1\nsecond" }, secret: "master-password-1", reason: /printable ASCII/ });

// Path traversal and relative paths, in every path.
const PATHS: Array<{ base: keyof typeof BASES; field: string }> = [
    { base: "rsync", field: "path" }, { base: "cifs", field: "path" }, { base: "nfs", field: "path" },
    { base: "keyPath", field: "authorizedKeysPath" }, { base: "key", field: "restrictTo" },
    { base: "verifyRsync", field: "destination.path" }, { base: "verifyCifs", field: "destination.path" }, { base: "verifyNfs", field: "destination.path" },
];
const TRAVERSALS: Array<[string, string, RegExp]> = [
    ["a '..' escape", "/files/backup/../../../etc", /'\.\.' segments/],
    ["a relative path", "files/backup", /must be absolute/],
    ["a home-relative path", "~/backup", /must be absolute/],
    ["a parent-relative path", "../etc/cron.d", /must be absolute/],
    ["a '.' segment", "/files/./backup", /'\.' or '\.\.' segments/],
    ["a '//' (a share-less UNC path)", "//etc/passwd", /'\/\/'/],
];
for (const target of PATHS) {
    for (const [what, value, reason] of TRAVERSALS) add({ group: "path traversal", what: `${what} in ${target.field}`, base: target.base, field: target.field, set: { [target.field]: value }, reason });
}
add({ group: "path traversal", what: "an empty path", base: "rsync", field: "path", set: { path: "" }, reason: /must be absolute/ });
add({ group: "path traversal", what: "a trailing '/' (rsync would copy into, not onto)", base: "rsync", field: "path", set: { path: "/files/backup/" }, reason: /must not end with/ });
add({ group: "path traversal", what: "a relative private key path", base: "rsync", field: "connection.privateKeyPath", set: { "connection.privateKeyPath": "keys/mt4adm" }, reason: /absolute path/ });
add({ group: "path traversal", what: "a relative agent socket", base: "rsync", field: "connection.agentSocket", set: { "connection.privateKeyPath": REMOVE, "connection.agentSocket": "agent.sock" }, reason: /absolute path/ });
add({ group: "path traversal", what: "'/' as the rrsync directory (the key could write anywhere)", base: "key", field: "restrictTo", set: { restrictTo: "/" }, reason: /must not be '\/'/, gap: "AuthorizedKey: restrictTo '/' is refused, but the failure names 'options' instead of 'restrictTo'" });
add({ group: "path traversal", what: "'/' as the rsync backup directory", base: "rsync", field: "path", set: { path: "/" }, reason: /'\/'/, gap: "RsyncTarget: path '/' is accepted, while AuthorizedKey.restrictTo refuses it" });
add({ group: "path traversal", what: "'/' as the verification's backup directory", base: "verifyRsync", field: "destination.path", set: { "destination.path": "/" }, reason: /'\/'/, gap: "BackupVerification: rsync path '/' is accepted" });
add({ group: "path traversal", what: "a CIFS path without a share ('/')", base: "cifs", field: "path", set: { path: "/" }, reason: /share/, gap: "RemotePartition: CIFS path '/' is accepted at check, though the contract (and orbit) require /<share>[/<dir>]" });
add({ group: "path traversal", what: "/etc/shadow as the authorized_keys file", base: "keyPath", field: "authorizedKeysPath", set: { authorizedKeysPath: "/etc/shadow" }, reason: /authorized_keys/, gap: "AuthorizedKey: authorizedKeysPath may name any file; with sudo the write script then chowns it (and chmods its directory 700) to the target user" });
add({ group: "path traversal", what: "/etc/sudoers.d/ as the authorized_keys directory", base: "keyPath", field: "authorizedKeysPath", set: { authorizedKeysPath: "/etc/sudoers.d/senhauser" }, reason: /authorized_keys/, gap: "AuthorizedKey: authorizedKeysPath may name any file (here a sudoers drop-in)" });

// The CIFS password characters senhasegura forbids; the password is never echoed.
for (const [where, base, field] of [["RemotePartition", "cifs", "password"], ["BackupVerification", "verifyCifs", "destination.password"]] as const) {
    for (const c of ["\\", "&", "!"]) {
        const password = `Hunter2-${c}-${crypto.randomBytes(6).toString("hex")}`;
        add({ group: "forbidden CIFS password characters", what: `'${c}' in the ${where} password`, base, field, set: { [field]: password }, secret: password, reason: /senhasegura refuses \\, & and !/ });
    }
}
add({ group: "forbidden CIFS password characters", what: "all three at once", base: "cifs", field: "password", set: { password: "a\\b&c!d-Secret99" }, secret: "a\\b&c!d-Secret99", reason: /'\\', '&', '!'/ });

// Control characters and non-ASCII.
const CONTROLS: Array<[string, keyof typeof BASES, string, string, string?]> = [
    ["a NUL byte in the host", "rsync", "host", "backup\u0000.example.com"],
    ["a NUL byte in the user", "rsync", "user", "senha\u0000user"],
    ["a NUL byte in the path", "nfs", "path", "/exports/\u0000senhasegura"],
    ["a tab in the CIFS user", "cifs", "user", "svc\tsenhasegura"],
    ["an ANSI escape in the key comment (terminal injection)", "key", "comment", "root@appliance-0\u001b[2J\u001b[31mOK"],
    ["a DEL in the key comment", "key", "comment", "root@appliance\u007f"],
    ["a Unicode line separator in the key comment", "key", "comment", "root@appliance-0\u2028command=x"],
    ["a right-to-left override in the key comment", "key", "comment", "root@\u202eeoj"],
    ["a carriage return in the e-mail address", "policy", "notifications.emailTo", "ops@example.com\r\nBcc: x@evil.example"],
    ["a Cyrillic 'а' in the host (a homoglyph)", "rsync", "host", "b\u0430ckup.example.com"],
    ["a zero-width space in the path", "rsync", "path", "/files/backup\u200b/senhasegura"],
    ["an accented letter in the CIFS user", "cifs", "user", "usu\u00e1rio"],
    ["an emoji in the CIFS domain", "cifs", "domain", "CORP\u{1f600}"],
    ["a NUL byte in the CIFS password", "cifs", "password", "pass\u0000word-Secret", "word-Secret"],
    ["a non-ASCII letter in the CIFS password", "cifs", "password", "senha-\u00e7-Secret", "Secret"],
    ["a non-ASCII letter in the master password", "policy", "masterPassword", "senha-mestra-\u00e7\u00e3o-Secret", "Secret"],
    ["a NUL byte in the private key path", "rsync", "connection.privateKeyPath", "/keys/mt4adm\u0000.pub"],
    ["a non-ASCII letter in the partition id", "nfs", "partitionId", "parti\u00e7\u00e3o"],
];
for (const [what, base, field, value, secret] of CONTROLS) add({ group: "control characters and non-ASCII", what, base, field, set: { [field]: value }, secret });

// Overlong values.
const label = (n: number) => "a".repeat(n);
const OVERLONG: Array<[string, keyof typeof BASES, string, unknown, RegExp?, string?]> = [
    ["a host name of 254 characters", "rsync", "host", Array(51).fill("abcd").join(".") + ".com", /at most 253/],
    ["a host label of 64 characters", "rsync", "host", `${label(64)}.example.com`, /IPv4 address or a DNS name/],
    ["a path of 1025 characters", "rsync", "path", "/" + "a/".repeat(511) + "ab", /at most 1024/],
    ["a user of 65 characters", "rsync", "user", `u${label(64)}`, /at most 64/],
    ["a partition id of 64 characters", "nfs", "partitionId", label(64), /1-63/],
    ["a credential id of 64 characters", "cifsCredential", "credentialId", label(64), /1-63/],
    ["a CIFS domain of 65 characters", "cifs", "domain", `D${label(64)}`, /at most 64/],
    ["a CIFS password of 129 characters", "cifs", "password", "P".repeat(129), /1-128/],
    ["an empty CIFS password", "cifs", "password", "", /1-128/],
    ["a master password of 129 characters", "policy", "masterPassword", "M".repeat(129), /12-128/],
    ["a master password of 11 characters", "policy", "masterPassword", "short-Pass1", /12-128/, "short-Pass1"],
    ["a key comment of 201 characters", "key", "comment", "c".repeat(201), /at most 200/],
    ["an e-mail address of 300 characters", "policy", "notifications.emailTo", `${label(280)}@example.com`, /one e-mail address/],
    ["a 64 KiB public key line", "key", "publicKey", `ssh-ed25519 ${Buffer.alloc(48 * 1024, 7).toString("base64")}`],
    ["a 10 KiB host-key pin", "rsync", "connection.hostKey", `ssh-ed25519 ${Buffer.alloc(7680, 1).toString("base64")}`],
];
for (const [what, base, field, value, reason, secret] of OVERLONG) add({ group: "overlong values", what, base, field, set: { [field]: value }, reason, secret });

// Bad ports and numbers.
const NUMBERS: Array<[string, keyof typeof BASES, string, unknown, RegExp]> = [
    ["port 0", "rsync", "port", 0, /1 to 65535/],
    ["port 65536", "rsync", "port", 65536, /1 to 65535/],
    ["port -22", "nfs", "port", -22, /1 to 65535/],
    ["port 22.5", "cifs", "port", 22.5, /1 to 65535/],
    ["port \"22\" as text", "rsync", "connection.port", "22", /1 to 65535/],
    ["port 1e9", "key", "connection.port", 1e9, /1 to 65535/],
    ["port null", "verifyNfs", "destination.port", null, /1 to 65535|expected number/],
    ["hour 24", "policy", "hour", 24, /0 to 23/],
    ["hour -1", "policy", "hour", -1, /0 to 23/],
    ["hour 5.5", "policy", "hour", 5.5, /0 to 23/],
    ["0 dial attempts", "rsync", "connection.dialAttempts", 0, />=1/],
    ["a dial timeout of 0 s", "rsync", "connection.dialTimeoutSec", 0, />=1/],
    ["a command timeout of 2 hours and 1 s", "rsync", "connection.commandTimeoutSec", 7201, /<=7200/],
];
for (const [what, base, field, value, reason] of NUMBERS) add({ group: "bad ports and numbers", what, base, field, set: { [field]: value }, reason });

// A verification backup's report that is not orbit's: the file list must stay inside the backup.
const REPORTS: Array<[string, unknown, RegExp]> = [
    ["a report that is neither JSON nor a vendor backup log", "orbit: could not reach", /neither orbit's JSON summary nor the log lines/],
    ["a vendor backup log without its success line", "[2024-02-28 15:16:49]: BACKUP INFO Using configuration file '/var/senhasegura/orbinibkp.conf'", /did not report `backup successfully performed`/],
    ["a vendor backup log with an ERROR line", "[2024-02-28 15:16:49]: senhasegura FILE ERROR rsync failed\n[2024-02-28 15:16:50]: senhasegura FILE INFO /x/ backup successfully performed", /with an ERROR line: "rsync failed"/],
    ["a report without files", JSON.stringify({ ok: true, id: "x" }), /is not orbit's backup summary/],
    ["a report naming a file outside the backup", REPORT.replace("backup/system/", "../../etc/"), /outside the backup directory/],
    ["a report naming a file with shell syntax", REPORT.replace("system.tar.gz", "$(id).tar.gz"), /outside the backup directory/],
];
for (const [what, value, reason] of REPORTS) add({ group: "bad verification reports", what, base: "verifyRsync", field: "report", set: { report: value }, reason });

// Bad host names.
const HOSTS: Array<[string, string, keyof typeof BASES, string]> = [
    ["an IPv4 octet over 255", "999.1.1.1", "rsync", "host"],
    ["a 256 octet", "10.0.0.256", "cifs", "host"],
    ["three octets", "10.0.5", "rsync", "host"],
    ["five octets", "10.0.0.5.1", "rsync", "host"],
    ["a leading-zero octet", "010.0.0.5", "nfs", "host"],
    ["a label starting with '-'", "-oProxyCommand=sh", "rsync", "connection.host"],
    ["a label ending with '-'", "backup-.example.com", "rsync", "host"],
    ["an underscore", "backup_server.example.com", "rsync", "host"],
    ["a space", "backup server", "key", "connection.host"],
    ["an empty host", "", "rsync", "host"],
    ["a host with a port", "backup.example.com:22", "rsync", "host"],
    ["a host with a user", "root@backup.example.com", "rsync", "host"],
    ["an IPv6 literal in brackets", "[::1]", "nfs", "host"],
    ["an empty label", "backup..example.com", "rsync", "host"],
    ["a trailing dot", "backup.example.com.", "rsync", "host"],
    ["a URL", "ssh://backup.example.com", "verifyCifs", "destination.host"],
];
for (const [what, value, base, field] of HOSTS) add({ group: "bad host names", what, base, field, set: { [field]: value }, reason: /IPv4 address or a DNS name/ });

// Malformed public keys and unsupported key types.
const blob = PUBLIC_KEY.split(" ")[1];
const KEYS: Array<[string, string, RegExp]> = [
    ["an empty key", "", /empty/],
    ["a key type alone", "ssh-ed25519", /key data after the type is missing/],
    ["key data that is not base64", "ssh-ed25519 !!!not-base64!!!", /not valid base64/],
    ["key data with its padding removed", `ssh-rsa ${RSA_3072_BLOB.toString("base64").replace(/=+$/, "")}`, /not valid base64/],
    ["an RSA blob under an ed25519 type", `ssh-ed25519 ${RSA_3072_BLOB.toString("base64")}`, /is a "ssh-rsa" key but the line says ssh-ed25519/],
    ["a truncated key", `ssh-ed25519 ${PUBLIC_BLOB.subarray(0, 30).toString("base64")}`, /malformed|truncated/],
    ["trailing bytes after the key", `ssh-ed25519 ${Buffer.concat([PUBLIC_BLOB, Buffer.from([0, 0, 0, 1, 65])]).toString("base64")}`, /trailing bytes/],
    ["a DSA key", `ssh-dss ${wire(Buffer.from("ssh-dss"), Buffer.alloc(129, 1), Buffer.alloc(21, 1), Buffer.alloc(129, 1), Buffer.alloc(129, 1)).toString("base64")}`, /DSA/],
    ["an RSA key of 1024 bits", RSA_1024, /1024 bits, fewer than the 2048 required/],
    ["a certificate", `ssh-ed25519-cert-v01@openssh.com ${blob}`, /certificates/],
    ["an unknown key type", `ssh-foo ${blob}`, /not supported/],
    ["a private key pasted in place of the public key", PRIVATE_KEY_TEXT, /control character|not supported/],
    ["an ECDSA key naming the wrong curve", `ecdsa-sha2-nistp256 ${wire(Buffer.from("ecdsa-sha2-nistp256"), Buffer.from("nistp384"), Buffer.alloc(65, 4)).toString("base64")}`, /malformed|do not belong|not a valid/],
    ["a key with a tab between its fields", `ssh-ed25519\t${blob}`, /control character U\+0009/],
];
for (const [what, value, reason] of KEYS) add({ group: "malformed public keys", what, base: "key", field: "publicKey", set: { publicKey: value }, reason });

// Bad host-key pins.
const PINS: Array<[string, string, string?]> = [
    ["an empty pin", ""],
    ["a short fingerprint", "SHA256:abc"],
    ["an MD5 fingerprint", "MD5:9d:2e:4c:8f:11:0a:3b:7c:55:66:77:88:99:aa:bb:cc"],
    ["a lowercase 'sha256:' prefix", FINGERPRINT.replace("SHA256:", "sha256:")],
    ["a fingerprint of 44 characters", `${FINGERPRINT}A`],
    ["a fingerprint of 42 characters", FINGERPRINT.slice(0, -1)],
    ["a fingerprint with a non-base64 character", `${FINGERPRINT.slice(0, -1)}!`],
    ["a fingerprint with a space inside", `SHA256: ${FINGERPRINT.slice(7)}`],
    ["a hex SHA-256 digest", crypto.createHash("sha256").update("x").digest("hex")],
    ["a key line whose type does not match its data", `ssh-rsa ${HOST_KEY.split(" ")[1]}`],
    ["a command in the key data", "ssh-ed25519 AAAA$(touch /tmp/ssb-pwned)"],
    ["two key lines", `${HOST_KEY}\n${HOST_KEY}`],
    ["a known_hosts line with its host name", `[10.0.0.5]:59022 ${HOST_KEY}`],
    ["a private key", PRIVATE_KEY_TEXT],
    ["a key type alone", "ssh-ed25519"],
    ["a fingerprint whose last character holds bits a SHA-256 digest cannot have", NON_CANONICAL_FINGERPRINT, "connection.hostKey accepts a 43-character fingerprint that no SHA-256 digest can produce, so the pin can never match (fails closed at connect, but should fail at preview)"],
];
for (const [what, value, gap] of PINS) add({ group: "bad host-key pins", what, base: "rsync", field: "connection.hostKey", set: { "connection.hostKey": value }, reason: /not a valid host key pin/, gap });

// Wrong shapes, contradictions and typos: the schemas are strict.
const SHAPES: Array<[string, keyof typeof BASES, string, Record<string, unknown>, RegExp?, string?]> = [
    ["a misspelt field (it would be silently ignored elsewhere)", "rsync", "(arguments)", { pth: "/x" }, /Unrecognized key: "pth"/],
    ["an object where a host is expected", "rsync", "host", { host: { toString: "x" } }],
    ["a list where a user is expected", "rsync", "user", { user: ["senhauser", "root"] }],
    ["a number where a path is expected", "nfs", "path", { path: 1 }],
    ["a boolean where a password is expected", "cifs", "password", { password: true }],
    ["both a private key and a key path", "rsync", "connection.privateKey", { "connection.privateKey": "x" }, /exactly one of privateKey \(secret\), privateKeyPath or agentSocket, but 2 were provided/],
    ["no way to authenticate", "rsync", "connection.privateKey", { "connection.privateKeyPath": REMOVE }, /but 0 were provided/],
    ["no host-key pin", "rsync", "connection.hostKey", { "connection.hostKey": REMOVE }],
    ["an unknown protocol", "nfs", "protocol", { protocol: "smb" }, /"cifs" or "nfs"/],
    ["a CIFS user and a credential id", "cifs", "user", { credentialId: "lab-cifs" }, /not both/],
    ["a CIFS user without a password", "cifs", "password", { password: REMOVE }, /needs a password/],
    ["a password on NFS", "nfs", "protocol", { password: "nfs-Secret-99" }, /takes no user, password/, "nfs-Secret-99"],
    ["the secrets backup without a master password", "policy", "masterPassword", { masterPassword: REMOVE }, /set masterPassword/],
    ["a master password with the secrets backup off", "policy", "masterPassword", { secrets: false }, /only used by the secrets backup/, MASTER_PASSWORD],
    ["an unknown destination type", "policy", "destination", { destination: { type: "ftp" } }],
    ["two e-mail addresses in one", "policy", "notifications.emailTo", { "notifications.emailTo": "a@example.com,b@example.com" }, /one e-mail address/],
    ["restrictTo and unrestricted together", "key", "restrictTo", { unrestricted: true }, /exactly one of restrictTo/],
    ["unrestricted: false", "key", "unrestricted", { restrictTo: REMOVE, unrestricted: false }, /may only be true/],
    ["no restriction chosen", "key", "restrictTo", { restrictTo: REMOVE }, /but none were provided/],
    ["pty and no-pty together", "keyOptions", "options.pty", { "options.noPty": true, "options.pty": true }, /cannot be set together/],
    ["an environment name with '_' (sshd refuses the whole line)", "keyOptions", "options.environment.0", { "options.environment": ["SSB_X=1"] }, /letters and digits only/],
    ["a permitopen port over 65535", "keyOptions", "options.permitOpen.0", { "options.permitOpen": ["localhost:99999"] }, /port 1-65535/],
    ["an expiry date that is not a date", "keyOptions", "options.expiryTime", { "options.expiryTime": "2030-13-01" }, /YYYYMMDD/],
    ["an empty forced command", "keyOptions", "options.command", { "options.command": " " }, /non-empty command/],
    ["a private key that is not a key", "rsync", "connection.privateKey", { "connection.privateKeyPath": REMOVE, "connection.privateKey": "$(touch /tmp/ssb-pwned) not-a-key-Secret" }, /private key/, "not-a-key-Secret"],
];
for (const [what, base, field, set, reason, secret] of SHAPES) {
    add({
        group: "wrong shapes and contradictions", what, base, field, set, reason, secret,
        ...(what === "a private key that is not a key" ? { gap: "connection.privateKey is only checked for being non-empty; a value that is no private key passes preview and fails at connect" } : {}),
    });
}

// ---------------------------------------------------------------- running them

async function check(kind: Kind, args: Record<string, unknown>) {
    const result = await PROVIDERS[kind].check!({}, args);
    return { inputs: result.inputs, failures: (result.failures ?? []) as Array<{ property: string; reason: string }> };
}

const names = (field: string, property: string) => property === field || property.startsWith(`${field}.`)
    || (field.includes(".") && property === field.slice(0, field.lastIndexOf(".")));

describe("hostile input is refused at check, naming the field", function () {
    const tally = { tried: 0, rejected: 0, openGaps: [] as string[] };
    const messages: Array<{ kind: string; what: string; field: string; failures: Array<{ property: string; reason: string }> }> = [];

    after(() => {
        recordFigures("hostile-input-unit", {
            cases: cases.length, tried: tally.tried, rejected: tally.rejected,
            groups: Object.fromEntries([...new Set(cases.map((c) => c.group))].map((g) => [g, cases.filter((c) => c.group === g).length])),
            openGaps: tally.openGaps,
        });
        // Every message, for review: what a user would read in `pulumi preview`.
        fs.writeFileSync(path.join(RESULTS_DIR, "hostile-input-messages.json"), JSON.stringify(messages, null, 2) + "\n");
    });

    it("starts from inputs every provider accepts", async () => {
        for (const [name, { kind, args }] of Object.entries(BASES)) {
            const { failures } = await check(kind, args);
            assert.deepEqual(failures, [], `base ${name} must be valid`);
        }
    });

    it(`tries at least 60 hostile cases (this suite has ${cases.length})`, () => {
        assert.ok(cases.length >= 60);
        const fields = new Set(cases.map((c) => `${BASES[c.base].kind}.${c.field}`));
        assert.ok(fields.size >= 40, `cases cover ${fields.size} fields`);
    });

    for (const group of [...new Set(cases.map((c) => c.group))]) {
        describe(group, () => {
            for (const c of cases.filter((x) => x.group === group)) {
                const { kind } = BASES[c.base];
                it(`${c.gap ? "[gap] " : ""}${kind}: ${c.what} -> ${c.field}`, async () => {
                    tally.tried++;
                    let args = BASES[c.base].args;
                    for (const [path, value] of Object.entries(c.set)) args = withValue(args, path, value);
                    const { inputs, failures } = await check(kind, args);
                    messages.push({ kind, what: c.what, field: c.field, failures });
                    if (c.gap && !failures.some((f) => names(c.field, f.property))) tally.openGaps.push(`${kind}.${c.field}: ${c.what}`);
                    assert.ok(failures.length > 0, `accepted: ${c.gap ?? "no failure"}`);
                    assert.equal(inputs, undefined, "a refused input must not come back as inputs");
                    const named = failures.filter((f) => names(c.field, f.property));
                    assert.ok(named.length > 0, `no failure names ${c.field}: ${JSON.stringify(failures)}${c.gap ? ` (${c.gap})` : ""}`);
                    for (const f of failures) {
                        assert.ok(!/[\r\n]/.test(f.reason), `the message spans lines: ${JSON.stringify(f.reason)}`);
                        assert.ok(f.reason.length >= 12 && f.reason.length <= 700, `message length ${f.reason.length}: ${f.reason}`);
                        assert.ok(!/[\u0000-\u001f\u007f\u2028\u202e]/.test(f.reason), `the message carries a raw control character: ${JSON.stringify(f.reason)}`);
                        if (c.secret) assert.ok(!f.reason.includes(c.secret) && !f.property.includes(c.secret), `the message shows the secret: ${f.reason}`);
                    }
                    if (c.reason) assert.ok(named.some((f) => c.reason!.test(f.reason)), `expected ${c.reason} in ${JSON.stringify(named)}`);
                    tally.rejected++;
                });
            }
        });
    }
});

describe("values that are data, not code, stay inert", () => {
    const SENTINEL = "/tmp/ssb-pwned";

    it("every quoted argument reaches a real POSIX shell unchanged, and runs nothing", () => {
        const hostile = [...INJECTIONS.map(([, p]) => p), "a b", "'", "\"", "\\", "$HOME", "*", "-rf", "", "x;y|z&w>v<u", "\t"];
        const script = `for a; do printf '%s\\0' "$a"; done`;
        const out = execFileSync("sh", ["-c", `sh -c ${shellJoin([script])} sh ${shellJoin(hostile)}`]).toString("utf8");
        assert.deepEqual(out.split("\0").slice(0, -1), hostile);
        assert.ok(!fs.existsSync(SENTINEL), `${SENTINEL} was created: an argument ran as code`);
    });

    it("a CIFS password full of shell syntax is accepted, and travels only on stdin", async () => {
        const password = "p'a\"s$(id)`id`;s|w>o<r d#%+=-_.";
        const { inputs, failures } = await check("RemotePartition", { ...BASES.cifs.args, password });
        assert.deepEqual(failures, []);
        const argv = partitionArgs("add", partitionSpec(inputs as any));
        assert.ok(argv.includes("--password-stdin"));
        assert.ok(!argv.some((a) => a.includes("s$(id)") || a.includes(password)), "the password must never be an argument");
    });

    it("a master password full of shell syntax is accepted, and travels only on stdin", async () => {
        const masterPassword = "m'a\"s$(id)`id`;ter|pass>word";
        const { inputs, failures } = await check("BackupPolicy", { ...BASES.policy.args, masterPassword });
        assert.deepEqual(failures, []);
        const live: BackupSettingsView = { kinds: { system: true, secrets: false, video: true, masterPasswordSet: false }, hour: 5, destination: { type: "none" }, notifications: { email: true, siem: true, emailTo: null } };
        const steps = planPolicy(live, inputs as any, true).map(policyStepArgs);
        const secretStep = steps.find((s) => s.stdin !== undefined);
        assert.equal(secretStep?.stdin, masterPassword);
        assert.ok(steps.every((s) => !s.args.some((a) => a.includes("$(id)"))));
    });

    it("a key comment full of shell syntax stays a comment: it cannot add options or keys", async () => {
        const comment = "x\" $(touch /tmp/ssb-pwned) `id`; command=\"/bin/sh\",no-pty ssh-ed25519 AAAA";
        const { inputs, failures } = await check("AuthorizedKey", { ...BASES.key.args, comment });
        assert.deepEqual(failures, []);
        const line = `${(inputs as any).effectiveOptions} ${(inputs as any).publicKey} ${comment}`;
        const parsed = parseAuthorizedKeys(line + "\n");
        assert.equal(parsed.length, 1);
        const entry = parsed[0] as any;
        assert.equal(entry.kind, "key");
        assert.equal(entry.optionsText, 'restrict,command="rrsync -wo -no-lock -absolute /files/backup/senhasegura"');
        assert.equal(entry.comment, comment);
    });

    it("rsync target values reach orbit as separate arguments, never through a shell of ours", async () => {
        const { inputs } = await check("RsyncTarget", BASES.rsync.args);
        const t = inputs as any;
        assert.deepEqual(rsyncSetArgs({ user: t.user, host: t.host, port: t.port, path: t.path }), ["rsync", "set", "--user", "senhauser", "--host", "backup.example.com", "--port", "22", "--path", "/files/backup/senhasegura"]);
    });
});
