// One run of the vendor set figure's measured work, in its own process so its peak
// memory is its own, from the compiled package as a provider process and the CLI run
// it. Reads {mode, side, masterKey, dumps, startedAt} on stdin (stdin, since it holds
// the master key and a CIFS side's password) and prints one JSON line:
//   mode "verify": BackupVerification's create on a vendor report naming `dumps`
//     (sizes at the destination, each AES Crypt file opened, both HMACs checked);
//   mode "drill": the restore drill of one vendor appliance (drillOne).
// {ms, hwmBeforeKiB, hwmAfterKiB, result}. Plain JavaScript: a TypeScript loader
// would add its own memory to the figure.
"use strict";

const fs = require("fs");
const path = require("path");

const DIST = path.join(__dirname, "..", "..", "dist");
const hwmKiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"))[1]);

/** What `orbit backup create` prints for a run that dumped `dumps`, as the vendor documents its log lines. */
function vendorReport(startedAt, dumps) {
    const line = (component, message) => `[${startedAt}]: ${component} INFO ${message}`;
    return [
        "Orbini Backup 1.1.0.2",
        line("BACKUP", "Using configuration file '/var/senhasegura/orbinibkp.conf'"),
        ...dumps.map((d) => line("senhasegura DB", `Starting database backup to /var/orbini/backup/senhasegura/${d}`)),
        line("senhasegura DB", "Database backup performed successfully"),
        line("senhasegura FILE", "Starting db backup files via rsync from the /var/orbini/backup/senhasegura/ with delete source"),
        line("senhasegura FILE", "/var/orbini/backup/senhasegura/ backup successfully performed"),
        "Duration: 1.000000000s",
        "",
    ].join("\n");
}

async function main() {
    const input = JSON.parse(fs.readFileSync(0, "utf8"));
    const { sshPool } = require(path.join(DIST, "providers", "transport", "ssh.js"));
    const { FarSide } = require(path.join(DIST, "providers", "transport", "far-side.js"));
    const side = FarSide.parse(input.side);
    let run;
    if (input.mode === "verify") {
        const { backupVerificationProvider } = require(path.join(DIST, "providers", "resources", "backup-verification.js"));
        const inputs = { report: vendorReport(input.startedAt, input.dumps), appliance: "mt4adm@bench:59022", destination: input.side, masterKey: input.masterKey };
        run = async () => {
            // As the engine calls it: check (which applies the schema's defaults), then create.
            const checked = await backupVerificationProvider.check({}, inputs);
            if (checked.failures.length > 0) throw new Error(`check refused the inputs: ${JSON.stringify(checked.failures)}`);
            const created = await backupVerificationProvider.create(checked.inputs);
            return { checked: created.outs.checked, files: created.outs.files, bytes: created.outs.bytes };
        };
    } else if (input.mode === "drill") {
        const { drillOne } = require(path.join(DIST, "cli", "restore-drill", "run.js"));
        const target = { name: "bench", urn: "urn:bench", flavor: "vendor", destination: side, masterKey: input.masterKey, declared: { secrets: true, video: true } };
        run = async () => {
            const r = await drillOne(target, () => undefined);
            return { verdict: r.verdict, error: r.error, problems: r.problems, files: r.files.map((f) => ({ path: f.path, size: f.size, ok: f.ok })) };
        };
    } else {
        throw new Error(`mode is verify or drill, not ${JSON.stringify(input.mode)}`);
    }
    const hwmBeforeKiB = hwmKiB();
    const started = process.hrtime.bigint();
    const result = await run();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const hwmAfterKiB = hwmKiB();
    await sshPool.closeAll();
    process.stdout.write(`${JSON.stringify({ ms, hwmBeforeKiB, hwmAfterKiB, result })}\n`);
}

main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : require("util").inspect(err, { depth: 4 })}\n`);
    process.exit(1);
});
