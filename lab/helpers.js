#!/usr/bin/env node
// The lab's test helpers: make the lab look like a week of real operation without
// waiting a week. Run through lab/age-backup, lab/fill-recordings and lab/notify-lost
// (docs/lab.md). They act on the machine itself, as root, on the appliance's orbit
// root and the backup servers' directories that the lab keeps locally: no appliance
// has such a back door. The layout, the configuration lock and the NFS client are
// orbit's own (lab/appliance/orbit.js), so a helper cannot drift from what orbit writes.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const orbit = require('./appliance/orbit.js');

const LAB_ROOT = process.env.LAB_ROOT || process.env.SENHASEGURA_LAB_ROOT || '/var/lib/senhasegura-lab';

function die(message, code = 1) {
  process.stderr.write(`lab: ${message}\n`);
  process.exit(code);
}

function parse(argv, spec, usage) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') { process.stdout.write(usage); process.exit(0); }
    const kind = spec[a];
    if (!kind) die(`unknown argument ${a}\n${usage}`, 2);
    if (kind === 'bool') out[a] = true;
    else if (i + 1 >= argv.length) die(`${a} needs a value\n${usage}`, 2);
    else out[a] = argv[++i];
  }
  return out;
}

function loadLab() {
  const file = path.join(LAB_ROOT, 'lab.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return die(`${file} is missing: start the lab first (bash lab/start)`);
  }
}

function applianceRoot(lab, n) {
  if (!/^\d+$/.test(n)) die(`--appliance must be an appliance number, got ${JSON.stringify(n)}`, 2);
  const a = lab.appliances.find((x) => x.name === `appliance-${n}`);
  if (!a) die(`appliance-${n} is not in this lab (${lab.appliances.length} appliance(s); lab/start --appliances N)`);
  return { name: a.name, root: a.orbitRoot };
}

// Where the lab keeps a destination's files on this machine.
function localDirOf(lab, dest) {
  if (dest.kind === 'rsync') return dest.target.path; // the rsync server is this machine
  const comps = dest.target.path.split('/').filter(Boolean);
  if (dest.kind === 'cifs') {
    if (comps[0] !== lab.cifs.share) throw new Error(`the CIFS destination's share ${comps[0]} is not the lab's share ${lab.cifs.share}`);
    return path.join(lab.cifs.localPath, ...comps.slice(1));
  }
  const pseudo = lab.nfs.remotePath.split('/').filter(Boolean);
  if (comps.slice(0, pseudo.length).join('/') !== pseudo.join('/')) throw new Error(`the NFS destination ${dest.target.path} is not under the lab's export ${lab.nfs.remotePath}`);
  return path.join(lab.nfs.localPath, ...comps.slice(pseudo.length));
}

const shifted = (iso, hours) => new Date(Date.parse(iso) - hours * 3600 * 1000).toISOString();

// Replaces a file the way its server would keep serving it. Over NFS the write goes
// through NFS (remove, then nfs-cp): a file changed behind nfs-ganesha's back keeps
// being served from its cache, and a new inode under an old name is NFS4ERR_STALE.
// Elsewhere a temp file and a rename, with the old owner and mode.
async function replaceAtDestination(root, dest, localFile, rel, text) {
  if (dest.kind === 'nfs') {
    const tmp = fs.mkdtempSync(path.join(root, 'tmp', 'age-backup-'));
    try {
      const f = path.join(tmp, path.basename(rel));
      fs.writeFileSync(f, text, { mode: 0o640 });
      await orbit.nfsRemove(dest.target, rel);
      const c = await orbit.nfsCopy(root, dest.target, f, rel);
      if (!c.ok) throw new Error(`writing ${rel} through NFS failed: ${c.error}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return;
  }
  const st = fs.statSync(localFile);
  const tmp = `${localFile}.age-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: st.mode & 0o7777 });
  fs.chownSync(tmp, st.uid, st.gid);
  fs.renameSync(tmp, localFile);
}

async function ageBackup(argv) {
  const usage = 'usage: lab/age-backup [--appliance N] --hours H\n'
    + '  makes appliance N\'s last backup look H hours older: lastBackup.startedAt in its orbit\n'
    + '  configuration and createdAt of the newest manifest at its active destination\n';
  const f = parse(argv, { '--appliance': 'value', '--hours': 'value' }, usage);
  if (f['--hours'] === undefined) die(`--hours is required\n${usage}`, 2);
  if (!/^\d+(\.\d+)?$/.test(f['--hours'])) die(`--hours must be a number of hours, got ${JSON.stringify(f['--hours'])}`, 2);
  const hours = +f['--hours'];
  const lab = loadLab();
  const { name, root } = applianceRoot(lab, f['--appliance'] ?? '0');
  const store = new orbit.Store(root, 10);
  // A failure inside throws, so that mutate releases orbit's lock on the way out.
  const changes = [];
  // Under orbit's own configuration lock, held across the manifest's rewrite too, so a
  // backup that finishes meanwhile cannot be half aged.
  await store.mutate(async (cfg) => {
    let dest = null;
    try { dest = orbit.destinationOf(cfg); } catch { /* no destination: only the configuration */ }
    let manifestRef = null;
    if (dest) {
      const dir = localDirOf(lab, dest);
      const sample = orbit.layoutPath(orbit.LAYOUT.manifest, { id: '@ID@' });
      const mdirRel = path.posix.dirname(sample);
      const [pre, post] = path.posix.basename(sample).split('@ID@');
      const mdir = path.join(dir, mdirRel);
      const ids = (fs.existsSync(mdir) ? fs.readdirSync(mdir) : [])
        .filter((n) => n.startsWith(pre) && n.endsWith(post))
        .map((n) => n.slice(pre.length, n.length - post.length))
        .filter((id) => /^\d{8}T\d{6}Z-[0-9a-f]+$/.test(id));
      // Ids start with their start time, so the newest sorts last.
      const newest = ids.sort().at(-1);
      if (newest) {
        const rel = orbit.layoutPath(orbit.LAYOUT.manifest, { id: newest });
        const file = path.join(dir, rel);
        const manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
        const before = manifest.createdAt;
        manifest.createdAt = shifted(before, hours);
        const text = JSON.stringify(manifest, null, 2) + '\n';
        await replaceAtDestination(root, dest, file, rel, text);
        manifestRef = { path: rel, size: Buffer.byteLength(text), sha256: crypto.createHash('sha256').update(text).digest('hex') };
        changes.push(`${name}: ${rel} at ${dest.url}: createdAt ${before} -> ${manifest.createdAt}`);
      } else {
        changes.push(`${name}: no manifest at ${dest.url} (${mdir} holds none)`);
      }
    } else {
      changes.push(`${name}: no backup destination is set: no manifest to age`);
    }
    if (!cfg.lastBackup) {
      changes.push(`${name}: orbinibkp.conf has no lastBackup to age`);
    } else {
      const before = cfg.lastBackup.startedAt;
      cfg.lastBackup.startedAt = shifted(before, hours);
      changes.push(`${name}: orbinibkp.conf lastBackup.startedAt ${before} -> ${cfg.lastBackup.startedAt}`);
      // The rewritten manifest has a new digest: the last backup's reference follows it.
      if (manifestRef && cfg.lastBackup.manifest && cfg.lastBackup.manifest.path === manifestRef.path) {
        Object.assign(cfg.lastBackup.manifest, { size: manifestRef.size, sha256: manifestRef.sha256 });
        changes.push(`${name}: orbinibkp.conf lastBackup.manifest size and sha256 follow the rewritten manifest`);
      }
    }
    return true;
  });
  for (const c of changes) process.stdout.write(`${c}\n`);
  process.stdout.write(`${name}: the backup ids and file paths keep the real start time; ages are read from startedAt and createdAt\n`);
}

// Random bytes, so gzip and the envelope cannot shrink them: a recordings set of the
// size asked for is a backup set of about that size.
async function fillRecordings(argv) {
  const usage = 'usage: lab/fill-recordings [--appliance N] (--mib M | --clear)\n'
    + '  puts M MiB of random data in appliance N\'s recordings (recordings/bulk/), replacing\n'
    + '  what an earlier call put there; --clear removes it\n';
  const f = parse(argv, { '--appliance': 'value', '--mib': 'value', '--clear': 'bool' }, usage);
  if ((f['--mib'] === undefined) === !f['--clear']) die(`give one of --mib M and --clear\n${usage}`, 2);
  const lab = loadLab();
  const { name, root } = applianceRoot(lab, f['--appliance'] ?? '0');
  const bulk = path.join(orbit.ensureRecordings(root), 'bulk');
  const had = fs.existsSync(bulk) ? fs.readdirSync(bulk).reduce((n, e) => n + fs.statSync(path.join(bulk, e)).size, 0) : 0;
  fs.rmSync(bulk, { recursive: true, force: true });
  if (f['--clear']) {
    process.stdout.write(`${name}: removed ${bulk} (${(had / 1048576).toFixed(1)} MiB)\n`);
    return;
  }
  if (!/^\d+$/.test(f['--mib']) || +f['--mib'] < 1 || +f['--mib'] > 65536) die('--mib must be a whole number of MiB from 1 to 65536', 2);
  const mib = +f['--mib'];
  const started = Date.now();
  fs.mkdirSync(bulk, { mode: 0o750 });
  const FILE_MIB = 64;
  const chunk = Buffer.alloc(1048576);
  for (let i = 0, left = mib; left > 0; i++, left -= FILE_MIB) {
    const fd = fs.openSync(path.join(bulk, `bulk-${String(i + 1).padStart(4, '0')}.bin`), 'wx', 0o640);
    try {
      for (let m = 0; m < Math.min(FILE_MIB, left); m++) {
        crypto.randomFillSync(chunk);
        fs.writeSync(fd, chunk);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  process.stdout.write(`${name}: wrote ${mib} MiB of random data in ${Math.ceil(mib / FILE_MIB)} file(s) under ${bulk} in ${((Date.now() - started) / 1000).toFixed(1)} s; the next video backup carries it (lab/fill-recordings --clear removes it)\n`);
}

async function notifyLost(argv) {
  const usage = 'usage: lab/notify-lost [--appliance N] [--error TEXT]\n'
    + '  records a remote_directory_lost notification, as orbit does when it loses the destination\n';
  const f = parse(argv, { '--appliance': 'value', '--error': 'value' }, usage);
  const lab = loadLab();
  const { name, root } = applianceRoot(lab, f['--appliance'] ?? '0');
  const cfg = new orbit.Store(root, 10).read();
  let url = 'none';
  try { url = orbit.destinationOf(cfg).url; } catch { /* none set */ }
  const error = f['--error'] ?? 'simulated by lab/notify-lost';
  orbit.notify(root, cfg, url, error);
  const last = orbit.recentEvents(root).at(-1);
  process.stdout.write(`${name}: recorded ${JSON.stringify(last)} (channels: e-mail ${cfg.backup.notifications.email ? 'on' : 'off'}, SIEM ${cfg.backup.notifications.siem ? 'on' : 'off'})\n`);
}

function applianceContract(argv) {
  const usage = 'usage: lab/appliance-contract [--appliance N] 1|2\n'
    + '  makes the appliance answer version and config show as contract 1 (without lastFailure, events, rootKey) or 2\n';
  const contract = argv.at(-1);
  if (contract !== '1' && contract !== '2') die(`the contract (last argument) must be 1 or 2\n${usage}`, 2);
  const f = parse(argv.slice(0, -1), { '--appliance': 'value' }, usage);
  const lab = loadLab();
  const { name, root } = applianceRoot(lab, f['--appliance'] ?? '0');
  const marker = path.join(root, orbit.CONTRACT_1_MARKER);
  if (contract === '1') fs.writeFileSync(marker, 'answer as contract 1 (lab/appliance-contract)\n', { mode: 0o600 });
  else fs.rmSync(marker, { force: true });
  process.stdout.write(`${name}: answers as contract ${contract}\n`);
}

const COMMANDS = { 'age-backup': ageBackup, 'fill-recordings': fillRecordings, 'notify-lost': notifyLost, 'appliance-contract': applianceContract };

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!COMMANDS[cmd]) die(`usage: node lab/helpers.js ${Object.keys(COMMANDS).join('|')} …`, 2);
  if (process.geteuid() !== 0) die('the lab helpers change root-owned files of the root lab: run them as root');
  await COMMANDS[cmd](rest);
}

main().catch((e) => die(e && e.message ? e.message : String(e)));
