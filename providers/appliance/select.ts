// Which driver speaks to an appliance. `auto` (the default) asks once per host per
// run with the vendor driver's batched read, whose first item is the documented
// `orbit version`: the vendor's answer means vendor (and the batch serves the
// refresh too), the contract's `…, contract N, …` means contract, and anything
// else fails closed with the answer.
import { parseOrbitVersion, quoteAnswer } from "../formats/orbit-vendor";
import { describeTarget } from "../transport/connection";
import { BackupProviderError } from "../transport/errors";
import { sshPool } from "../transport/ssh";
import type { ApplianceConnection } from "./connection";
import { ContractDriver } from "./contract-driver";
import type { ApplianceDriver, DriverName } from "./driver";
import { VendorDriver } from "./vendor-driver";

/** What the lab's contract orbit prints for `orbit version` without --json (docs/appliance-contract.md). */
const CONTRACT_VERSION = /\bcontract [12]\b/;

const detected = new Map<string, Promise<DriverName>>();

/** Forgets the detections of this process (tests and benchmarks that switch a lab appliance's mode). */
export function forgetDetectedDrivers(): void {
    detected.clear();
}

/** The driver name an `orbit version` answer shows, or undefined. Pure. */
export function driverFromVersion(answer: string): DriverName | undefined {
    try {
        parseOrbitVersion(answer);
        return "vendor";
    } catch {
        return CONTRACT_VERSION.test(answer) ? "contract" : undefined;
    }
}

/** `orbit version` alone, through sudo: for an appliance whose sudo allows orbit but not the batched read's shell. */
async function versionAlone(connection: ApplianceConnection): Promise<{ output: string; code: number }> {
    const r = await sshPool.run(connection, { argv: ["orbit", "version"], sudo: true, operation: "detect the appliance's driver (orbit version)" });
    return { output: `${r.stdout}${r.stderr}`, code: r.code };
}

async function detect(connection: ApplianceConnection): Promise<DriverName> {
    let version: { output: string; code: number };
    try {
        version = (await new VendorDriver(connection).reads(true)).version;
    } catch (err) {
        // sudo may allow orbit itself and refuse the shell of the batched read (the lab's
        // contract appliances do): ask orbit alone. A vendor appliance then still needs
        // the shell, so its refusal is the error to report.
        if (!(err instanceof BackupProviderError) || err.kind !== "sudo") throw err;
        version = await versionAlone(connection);
        if (driverFromVersion(version.output) !== "contract") throw err;
    }
    const name = driverFromVersion(version.output);
    if (name !== undefined) return name;
    const notOrbit = version.code === 127 || /orbit: (command )?not found/.test(version.output);
    throw new BackupProviderError(`cannot tell which interface the appliance speaks: \`orbit version\` answered ${quoteAnswer(version.output)} (exit ${version.code})`, {
        kind: "appliance", code: "unexpected-answer", host: describeTarget(connection), operation: "detect the appliance's driver (orbit version)",
        hint: notOrbit
            ? "orbit is not installed on this host: is it a senhasegura appliance? Check connection.host and port"
            : "run `senhasegura-backup probe` against it and attach the report to a bug report; meanwhile set connection.driver to \"vendor\" or \"contract\"",
    });
}

/**
 * The name of the driver for a connection: `contract` when set so; otherwise what
 * the appliance's `orbit version` shows, which must be the vendor's when the
 * connection says `vendor`.
 */
export async function driverName(connection: ApplianceConnection): Promise<DriverName> {
    if (connection.driver === "contract") return "contract";
    const key = `${connection.user}@${connection.host}:${connection.port}`;
    let name = detected.get(key);
    if (!name) {
        name = detect(connection);
        const started = name;
        // A failed detection is not remembered: the next resource asks again.
        started.catch(() => { if (detected.get(key) === started) detected.delete(key); });
        detected.set(key, started);
    }
    const found = await name;
    if (connection.driver === "vendor" && found !== "vendor") {
        throw new BackupProviderError("connection.driver is \"vendor\", but the appliance answers `orbit version` as the lab's contract appliance does", {
            kind: "appliance", code: "unexpected-answer", host: describeTarget(connection), operation: "detect the appliance's driver (orbit version)",
            hint: "set connection.driver to \"contract\" or \"auto\" for this appliance, or check that connection.host names the appliance you meant",
        });
    }
    return found;
}

export async function driverFor(connection: ApplianceConnection): Promise<ApplianceDriver> {
    return (await driverName(connection)) === "vendor" ? new VendorDriver(connection) : new ContractDriver(connection);
}
