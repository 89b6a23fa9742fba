// Prints $LAB_ROOT/lab.json (the lab's machine-readable description) from the
// environment lab/start passes. Node stdlib only.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const e = process.env;
const root = e.LAB_ROOT;
const host = e.LAB_HOST;

function hostKey(name) {
  const line = fs.readFileSync(path.join(root, 'sshd', name, 'ssh_host_ed25519_key.pub'), 'utf8').trim().split(/\s+/);
  const key = `${line[0]} ${line[1]}`;
  const fp = 'SHA256:' + crypto.createHash('sha256').update(Buffer.from(line[1], 'base64')).digest('base64').replace(/=+$/, '');
  return { hostKey: key, hostKeyFingerprint: fp };
}
function pid(name) {
  try {
    const p = parseInt(fs.readFileSync(path.join(root, 'run', `${name}.pid`), 'utf8'), 10);
    return Number.isFinite(p) ? p : null;
  } catch {
    return null;
  }
}

/** Whether `dir` is a mount point: the mount table names it. */
function mounted(dir) {
  try {
    return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);
  } catch {
    return false;
  }
}

const appliances = [];
for (let i = 0; i < Number(e.N); i++) {
  const name = `appliance-${i}`;
  const orbitRoot = path.join(root, 'appliances', name);
  appliances.push({
    name,
    host,
    port: Number(e.APPLIANCE_BASE_PORT) + i,
    user: e.ADMIN_USER,
    privateKeyPath: path.join(root, 'keys', 'mt4adm_ed25519'),
    ...hostKey(name),
    orbitRoot,
    rootPublicKey: fs.readFileSync(path.join(orbitRoot, 'root', '.ssh', 'id_rsa.pub'), 'utf8').trim(),
    sshdPid: pid(`sshd-${name}`),
    sshdLog: path.join(root, 'logs', `sshd-${name}.log`),
    orbitCommand: e.ORBIT_COMMAND,
    // What the appliance's orbit spoke when the lab started (tests may switch one: tests/support/lab.ts).
    orbit: e.ORBIT_MODE,
    sudoPasswordPath: path.join(root, 'secrets', 'mt4adm-sudo-password'),
    // The vendor mode's master key once lab/orbit-web masterKeyCeremony=yes made it (0600).
    masterKeyPath: path.join(orbitRoot, 'lab-ceremony', 'master-key'),
    // The vendor driver's paths (connection.paths): a real appliance's, under the appliance's root.
    vendorPaths: {
      fstab: path.join(orbitRoot, 'etc', 'fstab'),
      mountTable: path.join(orbitRoot, 'proc', 'mounts'),
      mountPoint: path.join(orbitRoot, 'srv', 'backup_remoto'),
      rootPublicKey: path.join(orbitRoot, 'root', '.ssh', 'id_rsa.pub'),
      rootPrivateKey: path.join(orbitRoot, 'root', '.ssh', 'id_rsa'),
      rootKnownHosts: path.join(orbitRoot, 'root', '.ssh', 'known_hosts'),
      rootSshConfig: path.join(orbitRoot, 'root', '.ssh', 'config'),
      backupLog: path.join(orbitRoot, 'var', 'log', 'orbinibkp.log'),
      localBackupDir: path.join(orbitRoot, 'var', 'orbini', 'backup', 'senhasegura'),
      hostname: path.join(orbitRoot, 'etc', 'hostname'),
      cifsCredentials: path.join(orbitRoot, 'root', '.senhasegura-backup', 'cifs-credentials'),
      // The appliance's /var for drift's sizing rule, when lab/start could mount one (else the machine's /var).
      ...(mounted(path.join(root, 'var-fs', name)) ? { varDirectory: path.join(root, 'var-fs', name) } : {}),
    },
  });
}

const lab = {
  version: 1,
  root,
  privileged: e.IS_ROOT === '1',
  appliances,
  rsyncServer: {
    host,
    port: Number(e.RSYNC_PORT),
    ...hostKey('rsync'),
    backupUser: e.BACKUP_USER,
    backupPath: e.BACKUP_PATH,
    authorizedKeysPath: path.join(root, 'home', 'senhauser', '.ssh', 'authorized_keys'),
    adminUser: e.BKPADMIN_USER,
    adminPrivateKeyPath: path.join(root, 'keys', 'bkpadmin_ed25519'),
    operatorPrivateKeyPath: path.join(root, 'keys', 'senhauser_ed25519'),
    sshdPid: pid('sshd-rsync'),
    sshdLog: path.join(root, 'logs', 'sshd-rsync.log'),
  },
  cifs: {
    available: e.SMB_ENABLED === '1',
    host,
    port: Number(e.SMB_PORT),
    share: e.CIFS_SHARE,
    remotePath: `/${e.CIFS_SHARE}`,
    user: e.CIFS_USER,
    passwordPath: path.join(root, 'secrets', 'cifs-password'),
    localPath: path.join(root, 'cifs', e.CIFS_SHARE),
    credentialId: e.CIFS_CREDENTIAL_ID,
    smbdPid: pid('smbd'),
  },
  nfs: {
    available: e.NFS_ENABLED === '1',
    host,
    port: Number(e.NFS_PORT),
    remotePath: e.NFS_PSEUDO,
    localPath: path.join(root, 'nfs', 'export'),
    ganeshaPid: pid('ganesha'),
  },
  skipped: (e.SKIPPED || '').split('\n').filter(Boolean),
  startedAt: new Date().toISOString(),
};
process.stdout.write(JSON.stringify(lab, null, 2) + '\n');
