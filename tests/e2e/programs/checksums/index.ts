// One BackupVerification per destination of the lab: the rsync server (read as its
// admin, through sudo), the CIFS share and the NFS export. Each gets the report a real
// `orbit backup create --json` printed, from stack config, so tests/e2e/checksums.test.ts
// can change what landed between the backup and the check.
import * as pulumi from "@pulumi/pulumi";
import { BackupVerification } from "senhasegura-backup";

const cfg = new pulumi.Config();
const appliance = cfg.require("appliance");

const rsync = new BackupVerification("verify-rsync", {
    report: cfg.require("reportRsync"),
    appliance,
    destination: {
        type: "rsync",
        server: {
            host: cfg.require("serverHost"), port: cfg.requireNumber("serverPort"), user: cfg.require("serverAdminUser"),
            hostKey: cfg.require("serverHostKey"), privateKey: cfg.requireSecret("serverAdminPrivateKey"),
        },
        path: cfg.require("backupPath"),
    },
});

const cifs = new BackupVerification("verify-cifs", {
    report: cfg.require("reportCifs"),
    appliance,
    destination: {
        type: "cifs", host: cfg.require("cifsHost"), port: cfg.requireNumber("cifsPort"), path: cfg.require("cifsPath"),
        user: cfg.require("cifsUser"), password: cfg.requireSecret("cifsPassword"),
    },
});

const nfs = new BackupVerification("verify-nfs", {
    report: cfg.require("reportNfs"),
    appliance,
    destination: { type: "nfs", host: cfg.require("nfsHost"), port: cfg.requireNumber("nfsPort"), path: cfg.require("nfsPath") },
});

const proof = (v: BackupVerification) => pulumi.all([v.backupId, v.checked, v.files]).apply(([backupId, checked, files]) => ({ backupId, checked, files }));
export const proofs = { rsync: proof(rsync), cifs: proof(cifs), nfs: proof(nfs) };
