// Two read-only resources on the same appliance: they must share one SSH connection.
import * as pulumi from "@pulumi/pulumi";
import { ApplianceRootKey } from "senhasegura-backup";

const cfg = new pulumi.Config();
const connection = {
    host: cfg.require("host"),
    port: cfg.requireNumber("port"),
    user: cfg.require("user"),
    hostKey: cfg.require("hostKey"),
    privateKey: cfg.requireSecret("privateKey"),
};

const first = new ApplianceRootKey("root-key", { connection });
const second = new ApplianceRootKey("root-key-again", { connection });

export const publicKey = first.publicKey;
export const fingerprint = first.fingerprint;
export const sameKey = pulumi.all([first.publicKey, second.publicKey]).apply(([a, b]) => a === b);
