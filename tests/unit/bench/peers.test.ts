// The peers benchmark's pure half (bench/peers.ts, bench/peers/harness-report.ts,
// bench/peers/spec.ts): medians, fits and slopes, how the fleet splits into stacks, the
// drift cases read from each tool's output and from isConverged's differences, the
// targets and the tables. No lab: `npm run bench -- --peers` runs the real thing.
import { strict as assert } from "assert";
import { casesFromCommandOutput, casesFromFindings, sliceFleet } from "../../../bench/peers";
import { type PeersSection, type RunFigure, type ToolResult, checkTargets, fit, marginal, median, ratio, renderPeers, summarize } from "../../../bench/peers/harness-report";
import { labFixture } from "../../support/lab-fixture";
import { DRIFT_CASES, DRIFT_ROUNDS, type DriftCaseId, type PeerLab, desiredFleet, driftCasesIn, keyOptions } from "../../../bench/peers/spec";
import { defaultBackupOptions, renderOptions } from "../../../providers/formats/authorized-keys/options";

const KEY0 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCkey0 root@appliance-0";

function lab(n = 2): PeerLab {
    return labFixture(n, (i) => i === 0 ? KEY0 : `ssh-rsa AAAAB3Nza${i} root@appliance-${i}`);
}

function run(what: RunFigure["what"], wallMs: number, extra: Partial<RunFigure> = {}): RunFigure {
    return { what, ok: true, exitCode: 0, wallMs, handshakes: { perAppliance: [1], backupServer: 1 }, ...extra };
}

function tool(t: ToolResult["tool"], n: number, noopMs: number, extra: Partial<ToolResult> = {}): ToolResult {
    const all = Object.fromEntries(DRIFT_CASES.map((c) => [c.id, { detected: true, repaired: true }])) as ToolResult["cases"];
    return {
        tool: t, n, errors: [], cases: all,
        runs: [run("converge", 2 * noopMs, { notConverged: [] }), run("noop", noopMs), run("noop", noopMs + 200), run("detect", noopMs, { ok: false, exitCode: 2 }), run("repair", noopMs, { notConverged: [] }), run("repair", noopMs, { notConverged: [] })],
        ...extra,
    };
}

const section = (n: number, tools: ToolResult[]): PeersSection => ({ n, startedAt: "", sectionMs: 1000, labStartMs: 0, tools, errors: [] });

describe("peers benchmark: the fleet and its drift cases (spec.ts)", () => {
    it("renders the key options as the AuthorizedKey provider renders restrictTo", () => {
        assert.equal(keyOptions("/files/backup/senhasegura"), renderOptions(defaultBackupOptions("/files/backup/senhasegura")));
    });

    it("gives only appliance 0 the CIFS and NFS partitions, and the same policy to every appliance", () => {
        const f = desiredFleet(lab(3), 3);
        assert.deepEqual(f.appliances.map((a) => a.partitions.map((p) => p.id)), [["peer-cifs", "peer-nfs"], [], []]);
        assert.ok(f.appliances.every((a) => a.hour === 5 && a.kinds.video && a.kinds.secrets && a.kinds.system && a.rsync.path === "/files/backup/senhasegura"));
        assert.equal(f.authorizedKeyLines[0], `${keyOptions("/files/backup/senhasegura")} ${KEY0}`);
        assert.throws(() => desiredFleet(lab(2), 3), /runs 2 appliance\(s\), the peers benchmark needs 3: run 'bash lab\/start --appliances 3'/);
    });

    it("splits the 8 cases into two rounds: seven at once, then key-removed", () => {
        assert.equal(DRIFT_CASES.length, 8);
        assert.deepEqual(DRIFT_ROUNDS[1], ["key-removed"]);
        assert.equal(DRIFT_ROUNDS[0].length, 7);
    });

    it("tells which drift cases isConverged's differences still show", () => {
        const diffs = [
            `backup server: appliance-0's key options are "no-pty", want "x"`,
            "backup server: /lab/home/senhauser/.ssh/authorized_keys mode is 644, want 600",
            "appliance-0: partition peer-nfs is missing",
            "appliance-0: partition peer-cifs mounted is false, want true",
            `appliance-0: rsync target is {"path":"/elsewhere"}, want {}`,
            "appliance-0: video backup is false, want true",
            "appliance-0: hour is 9, want 5",
            "backup server: appliance-0's root key is not in authorized_keys",
        ];
        assert.deepEqual(driftCasesIn(lab(), diffs), DRIFT_CASES.map((c) => c.id));
        assert.deepEqual(driftCasesIn(lab(), ["appliance-1: hour is 9, want 5"]), [], "another appliance's difference is no drift case");
        assert.deepEqual(driftCasesIn(lab(), []), []);
    });
});

describe("peers benchmark: reading each tool's check (bench/peers.ts)", () => {
    it("maps our drift findings to the cases", () => {
        const findings = [
            { type: "AuthorizedKey", name: "appliance-0-appliance-key", field: "effectiveOptions" },
            { type: "AuthorizedKey", name: "appliance-0-appliance-key", field: "fileMode" },
            { type: "RemotePartition", name: "appliance-0-nfs", change: "removed" },
            { type: "RemotePartition", name: "appliance-0-cifs", field: "mounted" },
            { type: "RsyncTarget", name: "appliance-0-rsync", field: "path" },
            { type: "BackupPolicy", name: "appliance-0-policy", field: "video" },
            { type: "BackupPolicy", name: "appliance-0-policy", field: "hour" },
        ];
        assert.deepEqual(casesFromFindings(findings), DRIFT_ROUNDS[0]);
        assert.deepEqual(casesFromFindings([{ type: "AuthorizedKey", name: "appliance-0-appliance-key", change: "removed" }]), ["key-removed"]);
    });

    it("reads the @pulumi/command checks' tags from their stderr lines, not from the script the engine repeats", () => {
        const output = [
            `    error: Process exited with status 1: running "... [rsync] rsync target is ... [hour] hour is ... [key-mode] ..."`,
            "    drift on appliance-0:",
            "    [video] the video backup is off",
            "    [partition-missing:peer-nfs] partition peer-nfs is missing",
            " ++ command:remote:Command backup-server-key-check creating replacement (0s) [diff: ~triggers]; [key-options:root@appliance-0] the key line of root@appliance-0 has other options",
            "    [key-missing:root@appliance-10] the key line of root@appliance-10 is missing",
        ].join("\n");
        assert.deepEqual(casesFromCommandOutput(output, "appliance-0"), ["key-options", "nfs-removed", "video-off"] as DriftCaseId[]);
        assert.deepEqual(casesFromCommandOutput("    [key-missing:root@appliance-0] the key line of root@appliance-0 is missing\n    [partition-unmounted:peer-cifs] x", "appliance-0"), ["cifs-unmounted", "key-removed"]);
    });

    it("splits N appliances into at most 4 contiguous stacks", () => {
        assert.deepEqual(sliceFleet(1, 4), [{ first: 0, count: 1 }]);
        assert.deepEqual(sliceFleet(5, 4), [{ first: 0, count: 2 }, { first: 2, count: 1 }, { first: 3, count: 1 }, { first: 4, count: 1 }]);
        assert.deepEqual(sliceFleet(100, 4).map((s) => s.count), [25, 25, 25, 25]);
        assert.equal(sliceFleet(50, 4).reduce((a, s) => a + s.count, 0), 50);
    });
});

describe("peers benchmark: figures, targets and tables (harness-report.ts)", () => {
    it("takes medians, least-squares fits and the slope between two N", () => {
        assert.equal(median([3, 1, 2]), 2);
        assert.equal(median([4, 1, 2, 3]), 2.5);
        assert.equal(median([]), undefined);
        const f = fit([[1, 1040], [20, 2000], [100, 6000]])!;
        assert.ok(Math.abs(f.slope - 50.6) < 1, `slope ${f.slope}`);
        assert.ok(f.r2 > 0.99);
        assert.equal(fit([[5, 1]]), undefined);
        assert.equal(marginal([20, 5000], [100, 9000]), 50);
        assert.equal(ratio(3000, 1500), "2.00×");
        assert.equal(ratio(undefined, 1500), "-");
    });

    it("summarizes a tool: median no-op, summed repair, max handshakes, cases", () => {
        const t = tool("ours-1", 5, 5000);
        t.cases["hour"] = { detected: false, repaired: true };
        const s = summarize(t);
        assert.equal(s.noopMs, 5100);
        assert.equal(s.repairMs, 10000);
        assert.equal(s.convergeMs, 10000);
        assert.equal(s.detected, 7);
        assert.equal(s.repaired, 8);
        assert.ok(s.allOk && s.converged, "a failed detect run (drift found) is not a failure");
        assert.equal(summarize(tool("command", 5, 1, { runs: [run("repair", 1, { notConverged: ["appliance-0: hour is 9, want 5"] })] })).converged, false);
    });

    it("checks the targets: ≤ 10 s at N=100, ≤ 50 ms per appliance, 1 handshake, ≤ 250 MiB, faster than the peers", () => {
        const sections = [20, 100].map((n) => section(n, [
            tool("ours-1", n, n === 20 ? 6000 : 9000, { runs: [run("noop", n === 20 ? 6000 : 9000, { providerPeakMiB: 180 }), run("converge", 1, { notConverged: [] })] }),
            tool("ours-4", n, 20_000, { runs: [run("noop", 20_000, { handshakes: { perAppliance: [1], backupServer: 4 } })] }),
            tool("command", n, n * 500),
            tool("ansible", n, n === 20 ? 5000 : 30_000),
        ]));
        const checks = checkTargets(sections);
        const by = (prefix: string) => checks.find((c) => c.target.startsWith(prefix))!;
        assert.equal(by("N=100").met, true);
        assert.equal(by("marginal").met, true);
        assert.match(by("marginal").result, /^38 ms\/appliance \(between N=20 and N=100\)/);
        assert.equal(by("≤ 1 SSH").met, true, "4 stacks' logins on the backup server are shown, not judged");
        assert.match(by("≤ 1 SSH").result, /4 stacks: at most 1 per appliance, 4 on the backup server/);
        assert.equal(by("provider").met, true);
        assert.equal(by("no-op check faster").met, false);
        assert.match(by("no-op check faster").result, /^not at N=20: 6\.00 s vs Ansible 5\.10 s$/);
        assert.equal(by("8 of 8").met, true);
    });

    it("fails the marginal cost above 50 ms per appliance", () => {
        const sections = [5, 20].map((n) => section(n, [tool("ours-1", n, n === 5 ? 5000 : 6500)]));
        const m = checkTargets(sections).find((c) => c.target.startsWith("marginal"))!;
        assert.equal(m.met, false);
        assert.match(m.result, /^100 ms\/appliance \(least squares over N=5,20\)/);
    });

    it("marks targets it cannot judge as n/a, and renders the tables with skipped tools", () => {
        const checks = checkTargets([section(1, [tool("ours-1", 1, 4000)])]);
        assert.equal(checks.find((c) => c.target.startsWith("N=100"))!.met, undefined);
        const text = renderPeers([section(1, [tool("ours-1", 1, 4000), tool("command", 1, 2000), { tool: "ansible", n: 1, runs: [], cases: {}, errors: [], skipped: "not installed" }])]);
        assert.match(text, /\| @pulumi\/command +\| +2\.10 \| +0\.51× \|/);
        assert.match(text, /Ansible +\| skipped: not installed/);
        assert.match(text, /key-removed: the key line deleted from authorized_keys +\| +detected \/ repaired/);
        assert.match(text, /\| N=100 one-stack no-op check ≤ 10 s +\| +N=100 not run \| n\/a \|/);
    });
});
