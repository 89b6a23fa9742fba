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
const fs = require('fs');
const path = require('path');
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
});

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
  if (settings.sendMode !== 'rsync') {
    log('senhasegura FILE', 'ERROR', `send mode ${settings.sendMode} is not simulated by this lab release`);
    return finish(1);
  }
  const r = settings.rsync || {};
  if (!r.user || !r.server || !r.path) {
    log('senhasegura FILE', 'ERROR', 'the rsync User, Server and Remote path are not all set');
    return finish(1);
  }
  // The files go into the vendor's layout: backup/system/db, and backup/system/arz/<YYYY>/<MMDD> for sessions.
  const staging = ctx.privateTmp(root, 'vendor-backup-');
  try {
    const db = path.join(staging, 'backup', 'system', 'db');
    fs.mkdirSync(db, { recursive: true });
    for (const name of dumps) fs.copyFileSync(path.join(f.local, name), path.join(db, name));
    if (settings.sessionsBackup) {
      const now = new Date();
      const day = path.join(staging, 'backup', 'system', 'arz', String(now.getFullYear()), `${String(now.getMonth() + 1).padStart(2, '0')}${String(now.getDate()).padStart(2, '0')}`);
      fs.mkdirSync(day, { recursive: true });
      const rec = ctx.ensureRecordings(root);
      for (const name of fs.readdirSync(rec)) fs.copyFileSync(path.join(rec, name), path.join(day, name));
    }
    log('senhasegura FILE', 'INFO', `Starting db backup files via rsync from the ${LOCAL_SHOWN} with delete source`);
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
  const ctx = { root, run: lab.run, privateTmp: lab.privateTmp, ensureRecordings: lab.ensureRecordings };
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

module.exports = { VENDOR_MARKER, NOT_ROOT, vendorMain, readSettings, writeSettings, defaultSettings, files };
