// A lab description as lab/start writes it (lab/description.ts checks every field),
// for unit tests that need one without a lab: the bench peers' and the dev program's.
import type { LabAppliance, LabDescription } from "../../lab/description";

export const LAB_ROOT = "/lab";

/** Appliance i of the fixture; `rootPublicKey` gives each its root key line. */
export function fixtureAppliance(i: number, rootPublicKey: (i: number) => string = (n) => `ssh-rsa AAAAkey${n} root@appliance-${n}`): LabAppliance {
    const orbitRoot = `${LAB_ROOT}/appliances/appliance-${i}`;
    return {
        name: `appliance-${i}`, host: "127.0.0.1", port: 59022 + i, hostKeyFingerprint: "SHA256:host", user: "mt4adm", privateKeyPath: `${LAB_ROOT}/keys/mt4adm_ed25519`,
        hostKey: `ssh-ed25519 AAAAC3host${i}`, orbitRoot, rootPublicKey: rootPublicKey(i), sshdLog: `${LAB_ROOT}/logs/sshd-appliance-${i}.log`,
        orbit: "vendor", sudoPasswordPath: `${LAB_ROOT}/secrets/mt4adm-sudo-password`, masterKeyPath: `${LAB_ROOT}/appliances/appliance-0/lab-ceremony/master-key`,
        vendorPaths: {
            fstab: `${orbitRoot}/etc/fstab`, mountTable: `${orbitRoot}/proc/mounts`, mountPoint: `${orbitRoot}/srv/backup_remoto`,
            rootPublicKey: `${orbitRoot}/root/.ssh/id_rsa.pub`, rootPrivateKey: `${orbitRoot}/root/.ssh/id_rsa`, rootKnownHosts: `${orbitRoot}/root/.ssh/known_hosts`,
            rootSshConfig: `${orbitRoot}/root/.ssh/config`, backupLog: `${orbitRoot}/var/log/orbinibkp.log`,
            localBackupDir: `${orbitRoot}/var/orbini/backup/senhasegura`, hostname: `${orbitRoot}/etc/hostname`,
            cifsCredentials: `${orbitRoot}/root/.senhasegura-backup/cifs-credentials`,
        },
    };
}

/** A lab of `n` appliances. */
export function labFixture(n = 2, rootPublicKey?: (i: number) => string): LabDescription {
    return {
        version: 1, skipped: [], privileged: true,
        root: LAB_ROOT,
        appliances: Array.from({ length: n }, (_, i) => fixtureAppliance(i, rootPublicKey)),
        rsyncServer: {
            hostKeyFingerprint: "SHA256:server", operatorPrivateKeyPath: `${LAB_ROOT}/keys/operator`,
            host: "127.0.0.1", port: 2222, hostKey: "ssh-ed25519 AAAAC3server", backupUser: "senhauser", backupPath: "/files/backup/senhasegura",
            authorizedKeysPath: `${LAB_ROOT}/home/senhauser/.ssh/authorized_keys`, adminUser: "bkpadmin", adminPrivateKeyPath: `${LAB_ROOT}/keys/bkpadmin_ed25519`, sshdLog: `${LAB_ROOT}/logs/sshd-rsync.log`,
        },
        cifs: { available: true, host: "127.0.0.1", port: 4450, share: "backup", credentialId: "lab-cifs", remotePath: "/backup", user: "senhabkp", passwordPath: `${LAB_ROOT}/secrets/cifs-password`, localPath: `${LAB_ROOT}/cifs/backup` },
        nfs: { available: true, host: "127.0.0.1", port: 20490, remotePath: "/senhasegura", localPath: `${LAB_ROOT}/nfs/export` },
    };
}
