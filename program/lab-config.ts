// The dev stack's lab wiring, and only that. With `labFile` set, index.ts asks this
// module for the keys the stack leaves unset, and it answers from the local lab: its
// description (lab.json, which lab/start writes with lab/lab-json.js) and, for the
// CIFS share, its password file. index.ts loads it only when labFile is set, so a
// stack for a real appliance never reads the lab. It is not part of the npm package.
//
// The values are given as a stack would set them, and index.ts checks them with the
// same rules as its own config: this module only knows where the lab keeps what.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { type LabDescription, LabDescriptionError, readLabDescription } from "../lab/description";
import type { GivenConfig, LabConfig } from "./config-schema";
import { rules } from "senhasegura-backup";

const { shown } = rules;

const key = (name: string) => `${pulumi.getProject()}:${name}`;
const RESTART = "start the lab with bash lab/start, or remove labFile and set every key yourself (docs/configuration.md)";

function readLab(labFile: string): LabDescription {
    try {
        return readLabDescription(labFile);
    } catch (error) {
        if (!(error instanceof LabDescriptionError)) throw error;
        throw new pulumi.RunError(`${key("labFile")} names ${shown(labFile)}, which ${error.reason}: ${RESTART}`);
    }
}

/** `labAppliance`: which of the lab's appliances, 0 unless set. */
function applianceIndex(given: unknown, count: number): number {
    const text = given === undefined ? "0" : String(given);
    const index = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(index < count)) {
        throw new pulumi.RunError(`${key("labAppliance")} must be the index of one of the lab's ${count} appliance${count === 1 ? "" : "s"}, 0 to ${count - 1}, but ${shown(text)} was provided: pulumi config set labAppliance <index>, or start the lab with more appliances`);
    }
    return index;
}

/** `labAppliances`: how many of the lab's appliances form the fleet, 0 (unset) for one appliance. */
function fleetSize(given: unknown, count: number): number {
    const text = given === undefined ? "0" : String(given);
    const size = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(size <= count)) {
        throw new pulumi.RunError(`${key("labAppliances")} must be how many of the lab's ${count} appliance${count === 1 ? "" : "s"} to drive as a fleet, 1 to ${count} (0 for one appliance, chosen by labAppliance), but ${shown(text)} was provided: start the lab with more, bash lab/start --appliances ${Number.isInteger(size) && size > 0 ? size : "N"}, or pulumi config set labAppliances <count>`);
    }
    return size;
}

/** Values from the lab for the keys `given` leaves unset. */
export function labStackConfig(given: GivenConfig): LabConfig {
    const labFile = String(given.labFile);
    const lab = readLab(labFile);
    const size = fleetSize(given.labAppliances, lab.appliances.length);
    const server = lab.rsyncServer;
    const values: LabConfig = {};
    const offer = <Key extends keyof LabConfig>(name: Key, value: () => LabConfig[Key]) => {
        if (given[name] === undefined) values[name] = value();
    };
    // The vendor paths are the lab's (a real appliance's under the appliance's root); the driver is detected.
    const access = (a: LabDescription["appliances"][number]) => ({ host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKeyPath: a.privateKeyPath, paths: a.vendorPaths });
    // A fleet is offered only to a stack that declares no single appliance of its own.
    if (size > 0 && given.appliance === undefined && given.name === undefined) {
        offer("appliances", () => lab.appliances.slice(0, size).map((a) => ({ name: a.name, ...access(a) })));
    } else if (given.appliances === undefined) {
        const appliance = lab.appliances[applianceIndex(given.labAppliance, lab.appliances.length)];
        offer("name", () => appliance.name);
        offer("appliance", () => access(appliance));
    }
    offer("backupServer", () => ({
        host: server.host, port: server.port, user: server.adminUser, hostKey: server.hostKey,
        privateKeyPath: server.adminPrivateKeyPath, backupUser: server.backupUser, path: server.backupPath,
        // The lab's appliances reach the rsync port through root's ssh configuration, which lab/start writes.
        portInApplianceSshConfig: true,
    }));
    // mt4adm's sudo password: the lab's vendor appliances ask for it, as a real one does (its
    // contract mode runs orbit with sudo -n). Only the root lab has the file.
    const sudoFile = lab.appliances[0].sudoPasswordPath;
    if (lab.appliances.some((a) => a.orbit === "vendor") && fs.existsSync(sudoFile)) {
        offer("sudoPassword", () => readSecretFile(sudoFile, "sudo password", "sudoPassword", labFile));
    }
    offer("cifs", () => ({ host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user }));
    offer("nfs", () => ({ host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath }));
    // The password file exists only where the lab runs Samba: it is read only for a CIFS
    // destination whose share is reached as a user.
    const share = given.cifs ?? values.cifs;
    const shareUser = typeof share === "object" && share !== null && "user" in share ? share.user : undefined;
    if (given.destination === "cifs" && shareUser !== undefined) offer("cifsPassword", () => readCifsPassword(lab, labFile));
    return values;
}

function readCifsPassword(lab: LabDescription, labFile: string): string {
    return readSecretFile(lab.cifs.passwordPath, "CIFS password", "cifsPassword", labFile, "does the lab run Samba? ");
}

function readSecretFile(file: string, what: string, configKey: string, labFile: string, question = ""): string {
    try {
        return fs.readFileSync(file, "utf8").trim();
    } catch (error) {
        throw new pulumi.RunError(`the lab's ${what} file ${file} (${key("labFile")} ${labFile}) cannot be read (${(error as NodeJS.ErrnoException).code ?? error}): ${question}${RESTART}, or set it: pulumi config set --secret ${configKey}`);
    }
}
