'use strict';
// The lab appliance's vendor mode: an `orbit` that answers only the commands,
// flags, prompts and outputs senhasegura documents (../shared/vendor-docs/, listed
// in docs/vendor-appliance.md), and refuses anything else as a usage error. What
// the vendor leaves undocumented (exit codes, `backup time --show`'s answer) is
// the lab's choice, and docs/lab.md says so. What only Orbit Web sets is changed by
// lab/orbit-web, never by orbit. lab/appliance/orbit.js hands over to this file for
// an appliance root that holds the marker VENDOR_MARKER.
//
// The appliance's files live under its root as on a real appliance under /:
// etc/hostname, etc/fstab, proc/mounts, srv/backup_remoto, var/log/orbinibkp.log,
// var/orbini/backup/senhasegura, var/senhasegura/orbinibkp.conf (the lab's JSON:
// the real format is not documented), root/.ssh.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const zlib = require('zlib');

const VENDOR_MARKER = 'lab-orbit-vendor';
const NOT_ROOT = 'This program must be run with root permissions!';
const VERSION = '3.31.1-4';
const PACKAGES = [['orbini-fwk', '3.31.1-9'], ['senhasegura-pam', '3.31.1-5']];
/** Where the vendor's log line says its configuration is: the real path, whatever the lab root. */
const CONF_SHOWN = '/var/senhasegura/orbinibkp.conf';
const LOCAL_SHOWN = '/var/orbini/backup/senhasegura/';
const TRANSFER_TIMEOUT_MS = 120000;

class UsageError extends Error {}

const files = (root) => ({
  conf: path.join(root, 'var', 'senhasegura', 'orbinibkp.conf'),
  log: path.join(root, 'var', 'log', 'orbinibkp.log'),
  local: path.join(root, 'var', 'orbini', 'backup', 'senhasegura'),
  hostname: path.join(root, 'etc', 'hostname'),
  fstab: path.join(root, 'etc', 'fstab'),
  mounts: path.join(root, 'proc', 'mounts'),
  ssh: path.join(root, 'root', '.ssh'),
  // The lab's stand-in for the master key ceremony's outcome: the complete key (0600),
  // and the keys of earlier ceremonies as master-key.1, .2, ... (newest last).
  masterKey: path.join(root, 'lab-ceremony', 'master-key'),
});

/**
 * The appliance's AES Crypt: the tests' second implementation (tests/oracle/aescrypt.py,
 * Debian's python3-cryptography), so that what the lab writes is not made by the code
 * that reads it. Stream format version 2 (AES Crypt 3.x's, the assumption for a 3.x
 * appliance; docs/vendor-appliance.md). The key goes on a file descriptor. lab/start
 * installs it beside this file; the Orbit Web helper runs this file from the checkout.
 */
const AESCRYPT = [path.join(__dirname, 'aescrypt.py'), path.join(__dirname, '..', '..', 'tests', 'oracle', 'aescrypt.py')].find((f) => fs.existsSync(f));

function encryptFile(src, dst, keyFile) {
  const fds = [fs.openSync(src, 'r'), fs.openSync(dst, 'w', 0o600), fs.openSync(keyFile, 'r')];
  try {
    const r = spawnSync('/usr/bin/python3', [AESCRYPT, 'encrypt', '--version', '2', '--key-fd', '3'], { stdio: [fds[0], fds[1], 'pipe', fds[2]] });
    if (r.status !== 0) throw new Error(`aescrypt failed on ${path.basename(src)}: ${(r.stderr || '').toString().trim() || r.error}`);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

/** The master key ceremony, as the lab plays it: a new complete key; an earlier one is kept, numbered. */
function masterKeyCeremony(root) {
  const f = files(root).masterKey;
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
  if (fs.existsSync(f)) {
    let n = 1;
    while (fs.existsSync(`${f}.${n}`)) n++;
    fs.renameSync(f, `${f}.${n}`);
  }
  const parts = Array.from({ length: 4 }, () => crypto.randomBytes(8).toString('hex'));
  fs.writeFileSync(f, parts.join('-'), { mode: 0o600 });
  return f;
}

/** What Orbit Web holds: the lab's stand-in for the settings no documented command reads or writes. */
function defaultSettings() {
  return {
    // The daily hour: `orbit backup time`. The vendor's default is 5.
    hour: 5,
    // Orbit Config Manager ➔ Settings ➔ Backup. The system backup is on by default.
    applicationBackup: true,
    sessionsBackup: false,
    totalBackups: 7,
    remotePartition: false,
    sendMode: 'rsync',
    rsync: { user: null, server: null, path: null },
    // Settings ➔ Backup ➔ Servers; runs only after the master key ceremony.
    secrets: { enabled: false },
    masterKeyCeremony: false,
  };
}

function readSettings(root) {
  const f = files(root).conf;
  try {
    return { ...defaultSettings(), ...JSON.parse(fs.readFileSync(f, 'utf8')) };
  } catch (e) {
    if (e.code === 'ENOENT') return defaultSettings();
    throw new Error(`${f} is not the lab's settings JSON: ${e.message}`);
  }
}

function writeSettings(root, settings) {
  const f = files(root).conf;
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o750 });
  const tmp = `${f}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, f);
}

// ---------------------------------------------------------------- arguments

/**
 * Parses argv against one command's flags: `--flag=value`, `--flag value`, and the
 * documented short forms. Anything else is a usage error, as kong (the vendor's CLI
 * library, judging by its help layout) would answer.
 */
function parseFlags(argv, spec) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const raw = eq > 0 ? a.slice(0, eq) : a;
    const name = spec.short && spec.short[raw] ? spec.short[raw] : raw;
    const kind = spec.flags[name];
    if (!kind) throw new UsageError(a.startsWith('-') ? `unknown flag ${raw}` : 'unexpected argument');
    if (kind === 'bool') {
      if (eq > 0) throw new UsageError(`${raw} takes no value`);
      flags[name] = true;
    } else if (eq > 0) {
      flags[name] = a.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`${raw} needs a value`);
      flags[name] = argv[++i];
    }
  }
  return flags;
}

const HELP_TOP = `Usage: orbit <command>

Orbit is the senhasegura console created to provide tools for system configuration and administrative routines.

Commands:
  backup                Application backup settings
  partition             File system partitions management tools
  version               Print version information and quit

Flags:
  -h, --help    Show context-sensitive help.

Run "orbit <command> --help" for more information on a command.`;

const HELP_BACKUP_TIME = `Usage: orbit backup time --hour=STRING

Configure the system backup daily time

Flags:
  -h, --help           Show context-sensitive help.
      --hour=STRING    Backup daily time: 0 to 24
      --show           Show the backup daily time
      --force          Force the command execution, never prompt`;

/** One line from stdin, as a prompt reads it; '' at end of input. */
function readAnswer() {
  const buf = Buffer.alloc(1);
  let line = '';
  for (;;) {
    let n;
    try { n = fs.readSync(0, buf, 0, 1, null); } catch (e) { if (e.code === 'EAGAIN') continue; break; }
    if (n === 0) break;
    const c = buf.toString('latin1');
    if (c === '\n') break;
    line += c;
  }
  return line.replace(/\r$/, '').trim();
}

/** Prints a prompt and reads the answer: true only for y or yes, as the vendor's samples answer. */
function confirm(question) {
  process.stdout.write(`${question}: `);
  const answer = readAnswer();
  process.stdout.write('\n');
  return /^(y|yes)$/i.test(answer);
}

// ---------------------------------------------------------------- backup create

function stamp(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fileStamp(d) {
  return stamp(d).replace(' ', '_').replace(/:/g, '');
}

/** Writes a log line to stdout and to the backup log, in the vendor's format. */
function logger(root) {
  const f = files(root).log;
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o750 });
  return (component, level, message) => {
    const line = `[${stamp(new Date())}]: ${component} ${level} ${message}`;
    process.stdout.write(line + '\n');
    fs.appendFileSync(f, line + '\n', { mode: 0o640 });
  };
}

/** A stand-in mysqldump of one database, gzipped, ending with mysqldump's completion line. */
function dumpDatabase(root, db, out, when) {
  const settings = path.join(root, 'data', 'system', 'settings.json');
  const records = path.join(root, 'data', 'system', 'access-records.log');
  const read = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return ''; } };
  const sql = [
    `-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)`,
    `--`,
    `-- Host: localhost    Database: ${db}`,
    `-- ------------------------------------------------------`,
    `CREATE DATABASE IF NOT EXISTS \`${db}\`;`,
    `USE \`${db}\`;`,
    `CREATE TABLE \`lab_settings\` (\`doc\` TEXT);`,
    `INSERT INTO \`lab_settings\` VALUES (${JSON.stringify(read(settings).trim())});`,
    `CREATE TABLE \`lab_access_records\` (\`line\` TEXT);`,
    ...read(records).split('\n').filter(Boolean).map((l) => `INSERT INTO \`lab_access_records\` VALUES (${JSON.stringify(l)});`),
    `-- Dump completed on ${stamp(when)}`,
    '',
  ].join('\n');
  fs.writeFileSync(out, zlib.gzipSync(Buffer.from(sql)), { mode: 0o600 });
}

/** The ssh the appliance's rsync uses: root's key, root's known_hosts (strict), root's ssh configuration. */
function rootSsh(root) {
  const ssh = files(root).ssh;
  const config = path.join(ssh, 'config');
  return ['ssh', ...(fs.existsSync(config) ? ['-F', config] : []), '-i', path.join(ssh, 'id_rsa'),
    '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${path.join(ssh, 'known_hosts')}`, '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10'].join(' ');
}

async function backupCreate(ctx, argv) {
  const flags = parseFlags(argv, { flags: { '--help': 'bool' }, short: { '-h': '--help' } });
  if (flags['--help']) { process.stdout.write('Usage: orbit backup create\n\nCreate a new backup\n'); return 0; }
  if (!confirm('Are you sure you want to perform a data backup now')) return 1;
  const started = Date.now();
  const { root, run } = ctx;
  const settings = readSettings(root);
  const f = files(root);
  const log = logger(root);
  process.stdout.write('Orbini Backup 1.1.0.2\n');
  log('BACKUP', 'INFO', `Using configuration file '${CONF_SHOWN}'`);
  const finish = (code) => { process.stdout.write(`Duration: ${((Date.now() - started) / 1000).toFixed(9)}s\n`); return code; };
  if (!settings.applicationBackup) {
    log('BACKUP', 'INFO', 'Application backup is disabled');
    return finish(0);
  }
  fs.mkdirSync(f.local, { recursive: true, mode: 0o700 });
  const dumps = [];
  for (const db of ['mt4', 'senhasegura']) {
    const when = new Date();
    const name = `senhasegura-db-${fileStamp(when)}${db}.sql.gz`;
    log('senhasegura DB', 'INFO', `Starting database backup to ${LOCAL_SHOWN}${name}`);
    dumpDatabase(root, db, path.join(f.local, name), when);
    dumps.push(name);
  }
  log('senhasegura DB', 'INFO', 'Database backup performed successfully');
  log('senhasegura DB', 'INFO', 'Cleaning up old backup files');
  // "Total of backups": the sets kept here, two dumps each.
  const kept = fs.readdirSync(f.local).filter((n) => /^senhasegura-db-.*\.sql\.gz$/.test(n)).sort();
  for (const old of kept.slice(0, Math.max(0, kept.length - 2 * settings.totalBackups))) fs.rmSync(path.join(f.local, old), { force: true });

  if (!settings.remotePartition) {
    log('senhasegura FILE', 'WARNING', `no remote partition is set: the backup stays in ${LOCAL_SHOWN}`);
    return finish(0);
  }
  const share = settings.sendMode === 'partition' ? mountedShare(root) : null;
  if (settings.sendMode === 'partition' && !share) {
    log('senhasegura FILE', 'ERROR', 'the remote partition is not mounted');
    return finish(1);
  }
  const r = settings.rsync || {};
  if (!share && (!r.user || !r.server || !r.path)) {
    log('senhasegura FILE', 'ERROR', 'the rsync User, Server and Remote path are not all set');
    return finish(1);
  }
  // The files go into the vendor's layout: backup/system/db, and backup/system/arz/<YYYY>/<MMDD> for sessions.
  const staging = ctx.privateTmp(root, 'vendor-backup-');
  try {
    const db = path.join(staging, 'backup', 'system', 'db');
    fs.mkdirSync(db, { recursive: true });
    // After the ceremony the appliance encrypts what it sends with the master key (AES Crypt, `.aes`).
    const key = settings.masterKeyCeremony && fs.existsSync(f.masterKey) ? f.masterKey : null;
    const place = (src, dir, name) => (key ? encryptFile(src, path.join(dir, `${name}.aes`), key) : fs.copyFileSync(src, path.join(dir, name)));
    for (const name of dumps) place(path.join(f.local, name), db, name);
    if (settings.sessionsBackup) {
      const now = new Date();
      const day = path.join(staging, 'backup', 'system', 'arz', String(now.getFullYear()), `${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`);
      fs.mkdirSync(day, { recursive: true });
      const rec = ctx.ensureRecordings(root);
      for (const name of fs.readdirSync(rec)) place(path.join(rec, name), day, name);
    }
    if (settings.secrets && settings.secrets.enabled && key) {
      // Break the glass: one file per item (credentials, SSH keys, other entities), AES-256.
      log('senhasegura SECRETS', 'INFO', 'Starting secrets backup');
      const dir = path.join(staging, 'backup', 'secrets');
      fs.mkdirSync(dir, { recursive: true });
      const hostname = (() => { try { return fs.readFileSync(f.hostname, 'utf8').trim(); } catch { return 'appliance'; } })();
      for (const [i, item] of [['credential', 'mt4adm on db-01'], ['ssh-key', 'deploy key of app-02'], ['credential', 'sa on mssql-03']].entries()) {
        const plain = path.join(staging, `secret-${i}.json`);
        fs.writeFileSync(plain, JSON.stringify({ type: item[0], name: item[1], appliance: hostname, secret: crypto.randomBytes(12).toString('hex') }) + '\n', { mode: 0o600 });
        encryptFile(plain, path.join(dir, `${item[0]}-${String(i + 1).padStart(4, '0')}.json.aes`), key);
        fs.rmSync(plain);
      }
    }
    log('senhasegura FILE', 'INFO', `Starting db backup files via rsync from the ${LOCAL_SHOWN} with delete source`);
    if (share) {
      const rel = [];
      const walk = (d) => { for (const n of fs.readdirSync(path.join(staging, d))) { const x = d ? `${d}/${n}` : n; if (fs.statSync(path.join(staging, x)).isDirectory()) walk(x); else rel.push(x); } };
      walk('');
      const t = await ctx.transfer(root, { hostname: 'appliance', credentials: [] }, { kind: share.protocol, target: share }, staging, rel, 0);
      if (!t.ok) {
        log('senhasegura FILE', 'ERROR', `copy to the remote partition ${share.protocol}://${share.host}${share.path} failed: ${t.error}`);
        return finish(1);
      }
      log('senhasegura FILE', 'INFO', `${LOCAL_SHOWN} backup successfully performed`);
      return finish(0);
    }
    const res = await run('rsync', ['-rt', '--chmod=Du=rwx,Dgo=,Fu=rw,Fgo=', '--timeout=60', '-e', rootSsh(root), `${staging}/`, `${r.user}@${r.server}:${r.path.replace(/\/+$/, '')}/`],
      { timeoutMs: TRANSFER_TIMEOUT_MS });
    if (res.code !== 0) {
      const why = res.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^rsync error:/.test(l))[0] || `rsync exit ${res.code}`;
      log('senhasegura FILE', 'ERROR', `rsync to ${r.user}@${r.server}:${r.path} failed: ${why}`);
      return finish(1);
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  log('senhasegura FILE', 'INFO', `${LOCAL_SHOWN} backup successfully performed`);
  return finish(0);
}

// ---------------------------------------------------------------- backup time

function backupTime(ctx, argv) {
  const flags = parseFlags(argv, { flags: { '--help': 'bool', '--hour': 'value', '--show': 'bool', '--force': 'bool' }, short: { '-h': '--help' } });
  if (flags['--help']) { process.stdout.write(HELP_BACKUP_TIME + '\n'); return 0; }
  const settings = readSettings(ctx.root);
  if (flags['--show']) {
    // Not documented: the lab's answer. The driver's parser and the probe say what is assumed.
    process.stdout.write(`Backup daily time: ${settings.hour}\n`);
    return 0;
  }
  if (flags['--hour'] === undefined) throw new UsageError('missing flags: --hour=STRING');
  const hour = flags['--hour'];
  if (!/^\d{1,2}$/.test(hour) || Number(hour) > 24) {
    process.stdout.write(`Invalid hour "${hour}": use a number from 0 to 24\n`);
    return 1;
  }
  if (!flags['--force'] && !confirm('Are you sure you want to proceed')) return 1;
  writeSettings(ctx.root, { ...settings, hour: Number(hour) % 24 });
  process.stdout.write('Done!\nNo errors reported\n');
  return 0;
}

// ---------------------------------------------------------------- partition

const DEFAULT_PORT = { cifs: 445, nfs: 2049 };

function readTable(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch (e) { if (e.code === 'ENOENT') return ''; throw e; }
}

/** The table's lines but the one for mountPoint, then `line` (none: removed). Written atomically. */
function putEntry(file, mountPoint, line) {
  const kept = readTable(file).split('\n').filter((l) => l !== '' && !(l.trim().split(/\s+/)[1] === mountPoint && !l.trim().startsWith('#')));
  if (line) kept.push(line);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, kept.join('\n') + '\n', { mode: 0o644 });
  fs.renameSync(tmp, file);
}

function entryAt(file, mountPoint) {
  const line = readTable(file).split('\n').reverse().find((l) => !l.trim().startsWith('#') && l.trim().split(/\s+/)[1] === mountPoint);
  if (!line) return null;
  const [spec, mp, type, options] = line.trim().split(/\s+/);
  return { spec, mountPoint: mp, type, options: (options || '').split(',').filter(Boolean) };
}

const optionOf = (entry, key) => { const o = entry.options.find((x) => x.startsWith(`${key}=`)); return o === undefined ? undefined : o.slice(key.length + 1); };

function readCredentialsFile(file) {
  const out = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).replace(/\r$/, '');
  }
  return out;
}

/** The share an fstab entry names, as orbit.js's transports take it. */
function shareOf(entry) {
  const port = Number(optionOf(entry, 'port')) || undefined;
  if (entry.type === 'cifs') {
    const m = /^\/\/([^/]+)(\/.+)$/.exec(entry.spec);
    const file = optionOf(entry, 'credentials');
    const creds = file ? readCredentialsFile(file) : {};
    return { protocol: 'cifs', host: m[1], path: m[2], port: port || DEFAULT_PORT.cifs, user: optionOf(entry, 'username') || optionOf(entry, 'user') || creds.username,
      password: creds.password, domain: optionOf(entry, 'domain') || creds.domain || null };
  }
  const m = /^([^:]+):(\/.*)$/.exec(entry.spec);
  return { protocol: 'nfs', host: m[1], path: m[2], port: port || DEFAULT_PORT.nfs };
}

/** Checks the share and writes write_test there, as the vendor's validation does; then the mount point shows it. */
async function validate(ctx, entry) {
  const p = shareOf(entry);
  const hostname = readTable(files(ctx.root).hostname).trim() || 'appliance';
  const r = await ctx.probe(ctx.root, { hostname, credentials: [] }, { kind: p.protocol, target: p }, { writeTest: true });
  if (!r.ok) return r;
  fs.mkdirSync(entry.mountPoint, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(entry.mountPoint, 'write_test'), `write test from ${hostname} at ${new Date().toISOString()}\n`);
  putEntry(files(ctx.root).mounts, entry.mountPoint, `${entry.spec} ${entry.mountPoint} ${entry.type} rw,${entry.options.filter((o) => !o.startsWith('credentials=') && o !== '_netdev').join(',')} 0 0`.replace(/,+ 0 0$/, ' 0 0'));
  return r;
}

async function partition(ctx, argv) {
  const flags = parseFlags(argv, {
    flags: { '--help': 'bool', '--local': 'value', '--remote-host': 'value', '--remote-path': 'value', '--type': 'value', '--options': 'value', '--user': 'value',
      '--password': 'value', '--domain': 'value', '--remount': 'bool', '--umount': 'bool', '--delete': 'bool', '--force': 'bool', '--show': 'bool' },
    short: { '-l': '--local', '-h': '--remote-host', '-r': '--remote-path', '-o': '--options', '-u': '--user', '-p': '--password', '-d': '--domain' },
  });
  if (flags['--help']) { process.stdout.write('Usage: orbit partition\n\nFile system partitions management tools\n'); return 0; }
  const f = files(ctx.root);
  const mountPoint = (flags['--local'] || path.join(ctx.root, 'srv', 'backup_remoto')).replace(/\/+$/, '');
  const existing = entryAt(f.fstab, mountPoint);
  if (flags['--show']) {
    // Not documented: the lab prints the fstab entry, its password masked.
    process.stdout.write(existing ? `${existing.spec} ${mountPoint} ${existing.type} ${existing.options.join(',')}\n` : 'No remote partition configured\n');
    return 0;
  }
  const action = ['--remount', '--umount', '--delete'].filter((a) => flags[a]);
  if (action.length > 1) throw new UsageError(`${action.join(' and ')} cannot be combined`);
  if (action.length === 0 && (!flags['--remote-host'] || !flags['--remote-path'])) throw new UsageError('missing flags: --remote-host=STRING --remote-path=STRING');
  if (action.length > 0 && !existing) { process.stdout.write('No remote partition configured\n'); return 1; }
  if (!flags['--force'] && !confirm('Are you sure you want to proceed')) return 1;
  if (flags['--umount'] || flags['--delete']) {
    putEntry(f.mounts, mountPoint, null);
    fs.rmSync(path.join(mountPoint, 'write_test'), { force: true });
    if (flags['--delete']) putEntry(f.fstab, mountPoint, null);
    process.stdout.write('Done!\nNo errors reported\n');
    return 0;
  }
  let entry = existing;
  if (!flags['--remount']) {
    const type = flags['--type'] || 'cifs';
    if (!/^(cifs|nfs)$/.test(type)) { process.stdout.write(`Invalid filesystem type "${type}": use nfs or cifs\n`); return 1; }
    const remotePath = flags['--remote-path'];
    if (!remotePath.startsWith('/')) { process.stdout.write('The remote path must start with /\n'); return 1; }
    const password = flags['--password'];
    if (password !== undefined && /[\\&!]/.test(password)) { process.stdout.write('The password must not contain \\, & or !\n'); return 1; }
    const options = (flags['--options'] || '').split(',').filter(Boolean);
    if (type === 'cifs') {
      if (flags['--user']) options.unshift(`username=${flags['--user']}`);
      if (flags['--domain']) options.push(`domain=${flags['--domain']}`);
      if (password !== undefined) {
        // The lab keeps a password given on argv in a file of its own, never in fstab.
        const file = path.join(ctx.root, 'var', 'senhasegura', 'partition-credentials');
        fs.writeFileSync(file, `username=${flags['--user'] || ''}\npassword=${password}\n`, { mode: 0o600 });
        options.push(`credentials=${file}`);
      }
    }
    options.push('_netdev');
    const spec = type === 'cifs' ? `//${flags['--remote-host']}${remotePath}` : `${flags['--remote-host']}:${remotePath}`;
    entry = { spec, mountPoint, type: type === 'nfs' ? 'nfs4' : 'cifs', options };
    putEntry(f.fstab, mountPoint, `${spec} ${mountPoint} ${entry.type} ${options.join(',')} 0 0`);
  }
  const r = await validate(ctx, entry);
  if (!r.ok) {
    putEntry(f.mounts, mountPoint, null);
    process.stdout.write(`mount error: ${r.error}\n`);
    return 32;
  }
  if (flags['--remount']) {
    const p = shareOf(entry);
    const lines = ['Partition remounted successfully'];
    if (p.protocol === 'cifs') {
      if (p.domain) lines.push(`- domain=${p.domain}`);
      lines.push(`mount.cifs kernel mount options: ip=${p.host},`, `unc=\\\\${p.host}${p.path.replace(/\//g, '\\')},file_mode=0750,dir_mode=0750,`, `uid=0,gid=0,user=${p.user || ''}${p.domain ? `,domain=${p.domain}` : ''},pass=*******`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  } else {
    process.stdout.write('Done!\nNo errors reported\n');
  }
  return 0;
}

/** The one partition's share, when it is mounted: where a partition backup goes. */
function mountedShare(root) {
  const f = files(root);
  const entry = readTable(f.fstab).split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')).map((l) => l.trim().split(/\s+/))
    .find((x) => x[2] === 'cifs' || x[2] === 'nfs4' || x[2] === 'nfs');
  if (!entry || !entryAt(f.mounts, entry[1])) return null;
  return shareOf(entryAt(f.fstab, entry[1]));
}

// ---------------------------------------------------------------- version

function version(ctx, argv) {
  parseFlags(argv, { flags: { '--help': 'bool' }, short: { '-h': '--help' } });
  const rows = PACKAGES.map(([n, v]) => `| ${n} | ${v} |`);
  process.stdout.write(['senhasegura Orbit Command-Line Interface', `Version ${VERSION}`, '+--------------------+--------+',
    '| APPLICATION PACKAGES | VERSION |', '+--------------------+--------+', ...rows, '+--------------------+--------+', ''].join('\n'));
  return 0;
}

// ---------------------------------------------------------------- main

/** The documented commands: `orbit <words…>` and what handles them. */
const COMMANDS = {
  'version': version,
  'backup time': backupTime,
  'backup create': backupCreate,
  'partition': partition,
};

/** The audit log's view of argv: a value given to a password flag is never written. */
function auditedArgv(argv) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (/^(--password|-p)=/.test(a)) { out.push(`${a.split('=')[0]}=<redacted>`); continue; }
    out.push(a);
    if (a === '--password' || a === '-p') { if (i + 1 < argv.length) out.push('<redacted>'); i++; }
  }
  return out;
}

/**
 * Runs one vendor-mode call for an appliance root; returns the exit code. `lab`
 * holds orbit.js's process and file helpers, so the two modes share them.
 */
async function vendorMain(argv, root, lab) {
  const ctx = { root, run: lab.run, privateTmp: lab.privateTmp, ensureRecordings: lab.ensureRecordings, probe: lab.probe, transfer: lab.transfer };
  let code;
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
      process.stdout.write(HELP_TOP + '\n');
      code = 0;
    } else {
      const key = Object.keys(COMMANDS).sort((a, b) => b.length - a.length).find((k) => argv.slice(0, k.split(' ').length).join(' ') === k);
      // Only the first word or flag name is echoed: a value after it may be a password.
      if (!key) throw new UsageError(argv[0].startsWith('-') ? `unknown flag ${argv[0].split('=')[0]}` : `unexpected argument ${argv[0]}`);
      code = await COMMANDS[key](ctx, argv.slice(key.split(' ').length));
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`orbit: error: ${e.message}\n`);
    code = 80;
  }
  lab.audit(root, { time: new Date().toISOString(), mode: 'vendor', user: process.env.SUDO_USER || String(process.getuid()), argv: auditedArgv(argv), exit: code });
  return code;
}

module.exports = { VENDOR_MARKER, NOT_ROOT, vendorMain, readSettings, writeSettings, defaultSettings, files, masterKeyCeremony };
