// The contract driver: the appliance as docs/appliance-contract.md describes it
// (JSON answers, partitions with ids, every setting readable and writable). Only
// the lab appliance's extended mode speaks it; no real appliance does.
import type { Connection } from "../transport/connection";
import { describeTarget } from "../transport/connection";
import { BackupProviderError } from "../transport/errors";
import type {
    ApplianceDriver, BackupSettingsView, DestinationView, DriverAbilities, PartitionSpec, PartitionView, PolicyStep, RootKeyView, RsyncReach,
    RsyncTargetView,
} from "./driver";
import { OrbitClient, type OrbitConfig } from "./orbit";

/** The orbit arguments of a policy step; the master password travels on stdin. Pure. */
export function policyStepArgs(step: PolicyStep): { args: string[]; stdin?: string } {
    switch (step.set) {
        case "hour":
            return { args: ["backup", "time", "--hour", String(step.hour)] };
        case "kind":
            return { args: ["backup", "kind", step.on ? "enable" : "disable", step.kind], stdin: step.on ? step.masterPassword : undefined };
        case "notifications": {
            const n = step.notifications;
            return { args: ["backup", "notify", "--email", n.email ? "on" : "off", "--siem", n.siem ? "on" : "off", ...(n.emailTo ? ["--email-to", n.emailTo] : ["--no-email-to"])] };
        }
        case "destination": {
            const d = step.destination;
            return { args: ["backup", "destination", d.type, ...(d.type === "partition" ? ["--partition", d.partitionId] : [])] };
        }
    }
}

/** The orbit arguments that add or update a partition; the password travels on stdin. Pure. */
export function partitionArgs(verb: "add" | "update", p: PartitionSpec): string[] {
    const args = ["partition", verb, "--id", p.id, "--protocol", p.protocol, "--host", p.host, "--port", String(p.port), "--path", p.path];
    if (p.user !== null) args.push("--user", p.user);
    if (p.domain !== null) args.push("--domain", p.domain);
    if (p.credentialId !== null) args.push("--credential-id", p.credentialId);
    if (p.password !== undefined) args.push("--password-stdin");
    if (!p.mounted) args.push("--no-mount");
    return args;
}

/** The orbit arguments that set the rsync target. Pure. */
export function rsyncSetArgs(t: RsyncTargetView): string[] {
    return ["rsync", "set", "--user", t.user, "--host", t.host, "--port", String(t.port), "--path", t.path];
}

function settingsOf(config: OrbitConfig): BackupSettingsView {
    const b = config.backup;
    const destination: DestinationView = b.destination.mode === "partition"
        ? { type: "partition", partitionId: b.destination.partitionId ?? "" }
        : { type: b.destination.mode };
    return {
        hour: b.hour,
        kinds: { system: b.system, secrets: b.secrets, video: b.video, masterPasswordSet: b.masterPasswordSet },
        notifications: { email: b.notifications.email, siem: b.notifications.siem, emailTo: b.notifications.emailTo },
        destination,
    };
}

const ABILITIES: DriverAbilities = { kinds: true, notifications: true, destination: true, rsyncTarget: true, partitionsById: true };

export class ContractDriver implements ApplianceDriver {
    readonly name = "contract" as const;
    readonly abilities = ABILITIES;
    readonly target: string;
    private readonly orbit: OrbitClient;

    constructor(readonly connection: Connection) {
        this.orbit = new OrbitClient(connection);
        this.target = describeTarget(connection);
    }

    /** The configuration: shared for a refresh read, fresh for a plan. */
    config(shared: boolean): Promise<OrbitConfig> {
        return shared ? this.orbit.showConfigShared() : this.orbit.showConfig();
    }

    async rootKey(shared: boolean): Promise<RootKeyView> {
        // Contract 2 shows the key in the configuration, so a refresh costs no extra orbit run.
        const config = await this.config(shared);
        const key = config.rootKey ?? await this.orbit.rootKey();
        return { publicKey: key.publicKey.trim(), fingerprint: key.fingerprint, hostname: config.hostname };
    }

    async backupSettings(shared: boolean): Promise<BackupSettingsView> {
        return settingsOf(await this.config(shared));
    }

    async applyPolicyStep(step: PolicyStep, operation: string): Promise<void> {
        const { args, stdin } = policyStepArgs(step);
        await this.orbit.change(args, operation, stdin, [step.set === "kind" ? step.masterPassword : undefined]);
    }

    async rsyncTarget(shared: boolean): Promise<RsyncTargetView | null> {
        return (await this.config(shared)).rsync;
    }

    async setRsyncTarget(target: RsyncTargetView): Promise<void> {
        await this.orbit.change(rsyncSetArgs(target), "set the rsync target");
    }

    async clearRsyncTarget(): Promise<void> {
        await this.orbit.change(["rsync", "clear"], "clear the rsync target");
    }

    async testRsync(): Promise<RsyncReach> {
        const test = await this.orbit.rsyncTest();
        return { reachable: test.reachable, error: test.reachable ? null : (test.error ?? "unreachable") };
    }

    async partitions(shared: boolean): Promise<PartitionView[]> {
        return (await this.config(shared)).partitions.map((p) => ({ ...p, mountedAt: p.mountedAt ?? null }));
    }

    async savePartition(verb: "add" | "update", spec: PartitionSpec): Promise<void> {
        try {
            await this.orbit.change(partitionArgs(verb, spec), `${verb} partition ${spec.id}`, spec.password, [spec.password]);
        } catch (err) {
            if (err instanceof BackupProviderError && err.code === "unreachable") {
                // The appliance keeps the partition, unmounted; the next up retries the mount.
                throw new BackupProviderError(`the appliance saved the partition but could not mount ${spec.protocol}://${spec.host}:${spec.port}${spec.path}`, {
                    kind: "appliance", code: "unreachable", host: this.target, operation: `mount partition ${spec.id}`,
                    hint: spec.protocol === "cifs"
                        ? "check the share exists, the user has write rights, and the password or credential is right; then run `pulumi up` again"
                        : "check the NFS server is up and exports the path to the appliance's IP address; then run `pulumi up` again",
                    cause: err, secrets: [spec.password],
                });
            }
            throw err;
        }
    }

    async mountPartition(id: string, mounted: boolean): Promise<void> {
        const action = mounted ? "mount" : "unmount";
        await this.orbit.change(["partition", action, "--id", id], `${action} partition ${id}`);
    }

    async removePartition(id: string): Promise<void> {
        await this.orbit.change(["partition", "remove", "--id", id], `remove partition ${id}`);
    }
}
