#!/usr/bin/env node
// orbit: the lab's simulator of the senhasegura appliance's `orbit` command.
// It honours docs/appliance-contract.md (contract version 2).
// Plain JavaScript, Node stdlib only: the lab copies it to $LAB_ROOT/bin and
// /usr/local/bin/orbit runs it through sudo for mt4adm.
'use strict';

const fs = require('fs');
const path = require('path');
const os = require('os');
const net = require('net');
const crypto = require('crypto');
const { spawn } = require('child_process');

const CONTRACT = 2;
const PRODUCT = 'senhasegura Orbit (lab simulator)';
const ALLOWLIST = '/etc/senhasegura-lab/appliances';
const TRANSFER_TIMEOUT_MS = 60000;
const CHECK_TIMEOUT_MS = 15000;
const CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// Every notification event, whatever its delivery channels (e-mail, SIEM), relative to the orbit root.
const EVENTS_LOG = 'notifications/events.log';
const EVENT_WINDOW_MS = 7 * 24 * 3600 * 1000;
const MAX_EVENTS = 20;

const EXIT = { internal: 1, usage: 2, invalid: 3, not_found: 4, locked: 5, unreachable: 6, backup_failed: 7, conflict: 8 };

class OrbitError extends Error {
  constructor(code, message, field) {
    super(message);
    this.code = code;
    this.field = field;
  }
}
const usage = (m) => new OrbitError('usage', m);
const invalid = (field, m) => new OrbitError('invalid', m, field);

// ---------------------------------------------------------------- arguments

// Global flags, accepted with every command.
const GLOBAL_FLAGS = { '--json': 'bool', '--lock-timeout-sec': 'value' };

// command path -> allowed flags ('bool' or 'value')
const COMMANDS = {
  'version': {},
  'backup config show': {},
  'backup time': { '--hour': 'value' },
  'backup kind enable': { $arg: ['system', 'secrets', 'video'] },
  'backup kind disable': { $arg: ['system', 'secrets', 'video'] },
  'backup notify': { '--email': 'value', '--siem': 'value', '--email-to': 'value', '--no-email-to': 'bool' },
  'backup destination': { $arg: ['none', 'rsync', 'partition'], '--partition': 'value' },
  'backup create': {},
  'backup check': {},
  'partition add': null, // filled below
  'partition update': null,
  'partition mount': { '--id': 'value' },
  'partition unmount': { '--id': 'value' },
  'partition remove': { '--id': 'value' },
  'credential add': { '--id': 'value', '--user': 'value', '--domain': 'value' },
  'credential remove': { '--id': 'value' },
  'rsync set': { '--user': 'value', '--host': 'value', '--port': 'value', '--path': 'value' },
  'rsync clear': {},
  'rsync test': {},
  'root-key show': {},
};
const PARTITION_FLAGS = {
  '--id': 'value', '--protocol': 'value', '--host': 'value', '--port': 'value', '--path': 'value',
  '--user': 'value', '--domain': 'value', '--credential-id': 'value', '--password-stdin': 'bool', '--no-mount': 'bool',
};
COMMANDS['partition add'] = PARTITION_FLAGS;
COMMANDS['partition update'] = PARTITION_FLAGS;

const WORDS = new Set(['version', 'backup', 'config', 'show', 'time', 'kind', 'enable', 'disable', 'system', 'secrets',
  'video', 'notify', 'destination', 'none', 'rsync', 'partition', 'create', 'check', 'add', 'update', 'mount', 'unmount',
  'remove', 'credential', 'set', 'clear', 'test', 'root-key', 'cifs', 'nfs', 'on', 'off']);

// Every flag has the same kind ('bool' or 'value') in every command that takes it.
const FLAG_KINDS = { ...GLOBAL_FLAGS };
for (const spec of Object.values(COMMANDS)) {
  for (const [k, v] of Object.entries(spec)) if (k !== '$arg') FLAG_KINDS[k] = v;
}

function parseArgs(argv) {
  const words = [];
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      words.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const kind = FLAG_KINDS[name];
    if (!kind) throw usage(`unknown flag ${name}`);
    if (kind === 'bool') {
      if (eq > 0) throw usage(`flag ${name} takes no value`);
      flags[name] = true;
    } else if (eq > 0) {
      flags[name] = a.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw usage(`flag ${name} needs a value`);
      flags[name] = argv[++i];
    }
  }
  if (words.length === 0) throw usage('no command given (try: orbit backup config show --json)');
  const keys = Object.keys(COMMANDS).sort((a, b) => b.split(' ').length - a.split(' ').length);
  const cmd = keys.find((k) => words.slice(0, k.split(' ').length).join(' ') === k);
  if (!cmd) throw usage(`unknown command "${words.join(' ')}"`);
  const spec = COMMANDS[cmd];
  const rest = words.slice(cmd.split(' ').length);
  let arg;
  if (spec.$arg) {
    if (rest.length !== 1) throw usage(`"${cmd}" needs one of: ${spec.$arg.join(', ')}`);
    if (!spec.$arg.includes(rest[0])) throw usage(`"${cmd}" does not know "${rest[0]}" (one of: ${spec.$arg.join(', ')})`);
    arg = rest[0];
  } else if (rest.length) {
    throw usage(`unexpected argument "${rest[0]}" for "${cmd}"`);
  }
  for (const name of Object.keys(flags)) {
    if (!GLOBAL_FLAGS[name] && !spec[name]) throw usage(`"${cmd}" takes no flag ${name}`);
  }
  return { cmd, arg, flags };
}

// For the audit log of a call that could not be parsed: keep known words and
// flag names, mask everything else (a secret put in argv by mistake is not logged).
function redactedArgv(argv) {
  const known = new Set([...Object.keys(GLOBAL_FLAGS), ...Object.keys(PARTITION_FLAGS),
    ...Object.values(COMMANDS).flatMap((s) => Object.keys(s || {}))]);
  return argv.map((a) => {
    const name = a.split('=')[0];
    if (WORDS.has(a) || (known.has(name) && !a.includes('='))) return a;
    return '<redacted>';
  });
}

// ---------------------------------------------------------------- value rules

const RE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const RE_USER = /^[A-Za-z_][A-Za-z0-9._-]{0,63}$/;
const RE_DOMAIN = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;
const RE_IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const RE_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const RE_EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

function checkId(v, field = 'id') {
  if (typeof v !== 'string' || !RE_ID.test(v)) throw invalid(field, `${field} must match ^[a-z0-9][a-z0-9-]{0,62}$`);
  return v;
}
function checkHost(v) {
  if (typeof v !== 'string' || v.length === 0 || v.length > 253) throw invalid('host', 'host must be an IPv4 address or a DNS name of at most 253 characters');
  if (RE_IPV4.test(v)) return v;
  const labels = v.split('.');
  if (labels.every((l) => /^\d+$/.test(l))) throw invalid('host', `host "${v}" is not a valid IPv4 address`);
  if (!labels.every((l) => RE_LABEL.test(l))) throw invalid('host', `host "${v}" is not a valid IPv4 address or DNS name`);
  return v;
}
function checkPort(v) {
  if (typeof v !== 'string' || !/^\d{1,5}$/.test(v) || +v < 1 || +v > 65535) throw invalid('port', 'port must be an integer from 1 to 65535');
  return +v;
}
function checkPath(v, field = 'path') {
  if (typeof v !== 'string' || !v.startsWith('/')) throw invalid(field, `${field} must be absolute`);
  if (v.length > 1024) throw invalid(field, `${field} must be at most 1024 characters`);
  if (!/^[A-Za-z0-9._\/-]+$/.test(v)) throw invalid(field, `${field} may contain only A-Za-z0-9._-/`);
  if (v.includes('//')) throw invalid(field, `${field} must not contain //`);
  if (v.split('/').includes('..')) throw invalid(field, `${field} must not contain a .. segment`);
  return v;
}
function checkUser(v, field = 'user') {
  if (typeof v !== 'string' || !RE_USER.test(v)) throw invalid(field, `${field} must match ^[A-Za-z_][A-Za-z0-9._-]{0,63}$`);
  return v;
}
function checkDomain(v) {
  if (typeof v !== 'string' || !RE_DOMAIN.test(v)) throw invalid('domain', 'domain must match ^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$');
  return v;
}
function checkCifsPassword(v, field = 'password') {
  if (typeof v !== 'string' || v.length < 1 || v.length > 128) throw invalid(field, 'the password must have 1 to 128 characters');
  if (!/^[\x20-\x7e]+$/.test(v)) throw invalid(field, 'the password must be printable ASCII');
  if (/[\\&!]/.test(v)) throw invalid(field, 'the password must not contain \\, & or ! (vendor rule)');
  return v;
}
function checkMasterPassword(v) {
  if (typeof v !== 'string' || v.length === 0) throw invalid('masterPassword', 'enabling the secrets backup needs the master password on stdin');
  if (v.length < 12 || v.length > 128) throw invalid('masterPassword', 'the master password must have 12 to 128 characters');
  if (!/^[\x20-\x7e]+$/.test(v)) throw invalid('masterPassword', 'the master password must be printable ASCII');
  return v;
}
function checkHour(v) {
  if (typeof v !== 'string' || !/^\d{1,2}$/.test(v) || +v > 23) throw invalid('hour', 'hour must be an integer from 0 to 23');
  return +v;
}
function checkEmail(v) {
  if (typeof v !== 'string' || v.length > 254 || !RE_EMAIL.test(v)) throw invalid('emailTo', 'email-to must be one e-mail address');
  return v;
}
function onOff(v, field) {
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw invalid(field, `${field} must be on or off`);
}

// ---------------------------------------------------------------- stdin

// One line from stdin (the secret), read synchronously; '' when stdin is empty.
function readStdinLine() {
  const chunks = [];
  const buf = Buffer.alloc(4096);
  let total = 0;
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') { sleepSync(10); continue; }
      if (e.code === 'EOF' || e.code === 'EBADF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
    if (buf.subarray(0, n).includes(0x0a) || total > 65536) break;
  }
  const s = Buffer.concat(chunks).toString('utf8');
  return s.split('\n')[0].replace(/\r$/, '');
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- orbit root

function resolveRoot() {
  const root = process.env.ORBIT_ROOT;
  if (!root) throw new OrbitError('internal', 'ORBIT_ROOT is not set (the appliance sshd sets it)');
  if (!/^\/[A-Za-z0-9._\/-]+$/.test(root)) throw new OrbitError('internal', 'ORBIT_ROOT must be an absolute path of A-Za-z0-9._-/');
  let real;
  try {
    real = fs.realpathSync(root);
  } catch {
    throw new OrbitError('internal', `ORBIT_ROOT ${root} does not exist`);
  }
  const euid = process.geteuid();
  if (euid === 0) {
    // mt4adm controls its environment: only roots the lab registered, in a
    // root-owned file nobody else can write, are accepted.
    let st;
    let dst;
    try {
      st = fs.statSync(ALLOWLIST);
      dst = fs.statSync(path.dirname(ALLOWLIST));
    } catch {
      throw new OrbitError('internal', `${ALLOWLIST} is missing (lab/start writes it)`);
    }
    if (st.uid !== 0 || (st.mode & 0o022) !== 0 || dst.uid !== 0 || (dst.mode & 0o022) !== 0) {
      throw new OrbitError('internal', `${ALLOWLIST} and its directory must be root-owned and writable only by root`);
    }
    const listed = fs.readFileSync(ALLOWLIST, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const ok = listed.some((l) => {
      try { return fs.realpathSync(l) === real; } catch { return false; }
    });
    if (!ok) throw new OrbitError('internal', `ORBIT_ROOT ${root} is not an appliance root registered in ${ALLOWLIST}`);
    return real;
  }
  // Unprivileged lab: orbit runs as the user itself, so it may only use roots it owns.
  if (fs.statSync(real).uid !== euid) throw new OrbitError('internal', `ORBIT_ROOT ${root} is not owned by the calling user`);
  return real;
}

// ---------------------------------------------------------------- config storage

function defaultConfig(hostname) {
  return {
    version: 1,
    hostname,
    backup: {
      system: true,
      secrets: false,
      video: false,
      masterPassword: null,
      hour: 5,
      destination: { mode: 'none', partitionId: null },
      notifications: { email: true, siem: true, emailTo: null },
    },
    partitions: [],
    credentials: [],
    rsync: null,
    lastBackup: null,
    lastFailure: null,
  };
}

class Store {
  constructor(root, lockTimeoutSec) {
    this.root = root;
    this.conf = path.join(root, 'orbinibkp.conf');
    this.lockPath = this.conf + '.lock';
    this.lockTimeoutSec = lockTimeoutSec;
    this.hostname = path.basename(root);
  }

  read() {
    let text;
    try {
      text = fs.readFileSync(this.conf, 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT') return defaultConfig(this.hostname);
      throw e;
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new OrbitError('internal', `${this.conf} is not valid JSON: ${e.message}`);
    }
  }

  write(cfg) {
    const tmp = `${this.conf}.tmp-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(cfg, null, 2) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.conf);
    const dfd = fs.openSync(this.root, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  }

  async lock() {
    const deadline = Date.now() + this.lockTimeoutSec * 1000;
    for (;;) {
      try {
        const fd = fs.openSync(this.lockPath, 'wx', 0o600);
        fs.writeSync(fd, `${process.pid}\n`);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        return () => {
          try {
            if (readPid(this.lockPath) === process.pid) fs.unlinkSync(this.lockPath);
          } catch { /* already gone */ }
        };
      } catch (e) {
        if (e.code !== 'EEXIST') throw e;
      }
      const holder = readPid(this.lockPath);
      let stale = false;
      if (holder !== null) {
        stale = !pidAlive(holder);
      } else {
        // created but not yet written, or garbage: stale only when old
        try {
          stale = Date.now() - fs.statSync(this.lockPath).mtimeMs > 5000;
        } catch { continue; }
      }
      if (stale) {
        breakStaleLock(this.lockPath, holder);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new OrbitError('locked', `the configuration lock ${this.lockPath} is held by pid ${holder} (waited ${this.lockTimeoutSec} s)`);
      }
      await sleep(50);
    }
  }

  // Run fn(cfg) under the lock; fn returns true when it changed cfg.
  async mutate(fn) {
    const release = await this.lock();
    try {
      const cfg = this.read();
      const changed = await fn(cfg);
      if (changed || !fs.existsSync(this.conf)) this.write(cfg);
      return { cfg, changed: !!changed };
    } finally {
      release();
    }
  }
}

function readPid(p) {
  try {
    const s = fs.readFileSync(p, 'utf8').trim();
    return /^\d+$/.test(s) ? +s : null;
  } catch {
    return null;
  }
}
function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}
// Break a lock whose holder is dead without removing a fresh lock that another
// process may have taken meanwhile: move it aside atomically, then look.
function breakStaleLock(lockPath, deadPid) {
  const aside = `${lockPath}.stale-${process.pid}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch {
    return; // someone else broke it
  }
  const now = readPid(aside);
  if (now !== deadPid && now !== null && pidAlive(now)) {
    try { fs.linkSync(aside, lockPath); } catch { /* a newer lock exists */ }
  }
  try { fs.unlinkSync(aside); } catch { /* gone */ }
}

// ---------------------------------------------------------------- views

const DEFAULT_PORT = { cifs: 445, nfs: 2049, rsync: 22 };

function partitionView(p) {
  return {
    id: p.id,
    protocol: p.protocol,
    host: p.host,
    port: p.port,
    path: p.path,
    user: p.user,
    domain: p.domain,
    credentialId: p.credentialId,
    passwordSet: !!p.password,
    mounted: !!p.mounted,
    mountedAt: p.mountedAt || null,
  };
}

const rootKeyPath = (root) => path.join(root, 'root', '.ssh', 'id_rsa.pub');

// The root's public key and its fingerprint, or null when it has none yet. Contract 2
// shows it in `config show` too, so a refresh reads an appliance with one orbit run.
function rootKeyView(root) {
  let pub;
  try {
    pub = fs.readFileSync(rootKeyPath(root), 'utf8').trim();
  } catch {
    return null;
  }
  const blob = Buffer.from(pub.split(/\s+/)[1] || '', 'base64');
  const fingerprint = 'SHA256:' + crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return { publicKey: pub, fingerprint };
}

// The lab can play an appliance of contract 1 (`bash lab/appliance-contract 1`): a
// fleet runs mixed versions, and state written by a release that spoke only contract
// 1 must be producible. Only the answers of `version` and `config show` change.
const CONTRACT_1_MARKER = 'lab-contract-1';
function contractOf(root) {
  return root && fs.existsSync(path.join(root, CONTRACT_1_MARKER)) ? 1 : CONTRACT;
}

function configView(cfg, root) {
  const b = cfg.backup;
  return {
    ok: true,
    contract: CONTRACT,
    hostname: cfg.hostname,
    backup: {
      system: b.system,
      secrets: b.secrets,
      video: b.video,
      masterPasswordSet: !!b.masterPassword,
      hour: b.hour,
      destination: { mode: b.destination.mode, partitionId: b.destination.partitionId },
      notifications: { email: b.notifications.email, siem: b.notifications.siem, emailTo: b.notifications.emailTo },
    },
    partitions: cfg.partitions.map(partitionView),
    credentials: cfg.credentials.map((c) => ({ id: c.id, user: c.user, domain: c.domain })),
    rsync: cfg.rsync ? { ...cfg.rsync } : null,
    lastBackup: cfg.lastBackup || null,
    lastFailure: cfg.lastFailure || null,
    events: recentEvents(root),
    rootKey: rootKeyView(root),
  };
}

function configViewFor(cfg, root) {
  const v = configView(cfg, root);
  if (contractOf(root) !== 1) return v;
  const { lastFailure, events, rootKey, ...v1 } = v;
  return { ...v1, contract: 1 };
}

function humanConfig(v) {
  const b = v.backup;
  const lines = [
    `Appliance ${v.hostname} (contract ${v.contract})`,
    `Backup kinds: system=${b.system ? 'yes' : 'no'} secrets=${b.secrets ? 'yes' : 'no'} video=${b.video ? 'yes' : 'no'} (master password ${b.masterPasswordSet ? 'set' : 'not set'})`,
    `Daily backup at ${String(b.hour).padStart(2, '0')}:00`,
    `Destination: ${b.destination.mode}${b.destination.partitionId ? ` (partition ${b.destination.partitionId})` : ''}`,
    `Notifications: email=${b.notifications.email ? 'on' : 'off'}${b.notifications.emailTo ? ` to ${b.notifications.emailTo}` : ''} siem=${b.notifications.siem ? 'on' : 'off'}`,
    `Rsync target: ${v.rsync ? `${v.rsync.user}@${v.rsync.host}:${v.rsync.port}${v.rsync.path}` : 'none'}`,
    `Partitions: ${v.partitions.length ? '' : 'none'}`,
    ...v.partitions.map((p) => `  ${p.id}: ${p.protocol}://${p.host}:${p.port}${p.path} user=${p.user || '-'} credential=${p.credentialId || '-'} password=${p.passwordSet ? 'set' : 'not set'} ${p.mounted ? `mounted since ${p.mountedAt}` : 'not mounted'}`),
    `Credentials: ${v.credentials.map((c) => `${c.id} (${c.domain ? c.domain + '\\' : ''}${c.user})`).join(', ') || 'none'}`,
    `Last backup: ${v.lastBackup ? `${v.lastBackup.id} to ${v.lastBackup.destination} at ${v.lastBackup.startedAt}` : 'never'}`,
    `Last failure: ${v.lastFailure ? `${v.lastFailure.id} at ${v.lastFailure.time}: ${v.lastFailure.code}: ${v.lastFailure.message}` : 'none since the last backup'}`,
    `Notifications in the last 7 days: ${v.events.length ? '' : 'none'}`,
    ...v.events.map((e) => `  ${e.time} ${e.kind} ${e.destination || '-'}: ${e.error || ''}`),
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------- processes

// Run a command with a hard timeout; the whole process group is killed on timeout.
function run(cmd, args, { input, timeoutMs = CHECK_TIMEOUT_MS, env } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    let child;
    try {
      child = spawn(cmd, args, {
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { PATH: CHILD_PATH, LANG: 'C', LC_ALL: 'C', ...env },
      });
    } catch (e) {
      resolve({ code: 127, signal: null, stdout: '', stderr: e.message, timedOut: false, durationMs: 0 });
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { try { child.kill('SIGKILL'); } catch { /* gone */ } }
    }, timeoutMs);
    child.stdout.on('data', (d) => { if (stdout.length < 1e6) stdout += d; });
    child.stderr.on('data', (d) => { if (stderr.length < 1e6) stderr += d; });
    child.on('error', (e) => { stderr += e.message; });
    child.stdin.on('error', () => {});
    child.stdin.end(input || '');
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code === null ? 128 : code,
        signal,
        stdout,
        stderr: timedOut ? `${stderr}\n${cmd} timed out after ${timeoutMs / 1000} s`.trim() : stderr,
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}

function firstMeaningfulLine(text, skip = []) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const good = lines.filter((l) => !skip.some((re) => re.test(l)));
  return (good[0] || lines[lines.length - 1] || 'unknown error');
}

// A private temp dir under the orbit root (root-only), removed by the caller.
function privateTmp(root, prefix) {
  const base = path.join(root, 'tmp');
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  fs.chmodSync(base, 0o700);
  return fs.mkdtempSync(path.join(base, prefix));
}
function rmrf(p) {
  try { fs.rmSync(p, { recursive: true, force: true }); } catch { /* best effort */ }
}

// ---------------------------------------------------------------- rsync transport

function sshCommand(root, port) {
  const sshDir = path.join(root, 'root', '.ssh');
  return [
    'ssh', '-F', '/dev/null',
    '-i', path.join(sshDir, 'id_rsa'),
    '-p', String(port),
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${path.join(sshDir, 'known_hosts')}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
  ].join(' ');
}

function rsyncDest(r) {
  return `rsync://${r.user}@${r.host}:${r.port}${r.path}`;
}

async function rsyncPush(root, r, srcDir, { dryRun = false, timeoutMs = TRANSFER_TIMEOUT_MS } = {}) {
  const remote = `${r.user}@${r.host}:${r.path.replace(/\/+$/, '')}/`;
  const args = ['-a', `--timeout=${Math.ceil(timeoutMs / 2000)}`, '-e', sshCommand(root, r.port)];
  if (dryRun) args.push('--dry-run');
  args.push(srcDir.replace(/\/?$/, '/'), remote);
  const res = await run('rsync', args, { timeoutMs, env: { HOME: path.join(root, 'root') } });
  if (res.code === 0) return { ok: true, durationMs: res.durationMs };
  const err = firstMeaningfulLine(res.stderr, [/^rsync: connection unexpectedly closed/, /^rsync error:/, /^rsync: \[sender\]/])
    .replace(/^[^ @]+@[^ :]+: /, '')
    .replace(/\.$/, '');
  // 255: ssh failed; 5/10/12/30/35: could not start or talk to the remote side
  const unreachable = res.timedOut || [255, 5, 10, 12, 30, 35].includes(res.code);
  return { ok: false, unreachable, error: err, code: res.code, durationMs: res.durationMs };
}

// ---------------------------------------------------------------- CIFS transport

function cifsParts(p) {
  const comps = p.path.split('/').filter(Boolean);
  return { share: comps[0], subdir: comps.slice(1).join('/') };
}
function cifsCredentials(cfg, p) {
  if (p.credentialId) {
    const c = cfg.credentials.find((x) => x.id === p.credentialId);
    if (!c) throw new OrbitError('not_found', `credential ${p.credentialId} does not exist`);
    return { user: c.user, domain: c.domain, password: c.password };
  }
  return { user: p.user, domain: p.domain, password: p.password };
}

// smbclient with the password in a 0600 auth file in a private dir, deleted right after.
async function smbclient(root, p, creds, commands, timeoutMs) {
  const { share, subdir } = cifsParts(p);
  const dir = privateTmp(root, 'smbauth-');
  const auth = path.join(dir, 'auth');
  try {
    const lines = [`username = ${creds.user}`, `password = ${creds.password || ''}`];
    if (creds.domain) lines.push(`domain = ${creds.domain}`);
    fs.writeFileSync(auth, lines.join('\n') + '\n', { mode: 0o600 });
    const args = [`//${p.host}/${share}`, '-p', String(p.port), '-A', auth, '-t', '10', '-c', commands.join('; ')];
    if (subdir) args.splice(5, 0, '-D', subdir);
    const res = await run('smbclient', args, { timeoutMs, env: { HOME: path.join(root, 'root') } });
    const out = `${res.stdout}\n${res.stderr}`;
    const errors = out.split('\n').filter((l) => /NT_STATUS_|timed out|Connection to .* failed/.test(l) && !/NT_STATUS_OBJECT_NAME_COLLISION/.test(l));
    if (res.code === 0 && errors.length === 0) return { ok: true, durationMs: res.durationMs, out };
    const error = (errors[0] || firstMeaningfulLine(out)).trim();
    const unreachable = res.timedOut || /do_connect|CONNECTION_REFUSED|LOGON_FAILURE|ACCESS_DENIED|BAD_NETWORK_NAME|session setup failed|tree connect failed|OBJECT_NAME_NOT_FOUND|OBJECT_PATH_NOT_FOUND|IO_TIMEOUT|HOST_UNREACHABLE|NETWORK_UNREACHABLE|timed out|failed/.test(error)
      && !/putting file/.test(error);
    return { ok: false, unreachable, error, durationMs: res.durationMs };
  } finally {
    rmrf(dir);
  }
}

// ---------------------------------------------------------------- NFS transport

function nfsUrl(p, rel) {
  const base = p.path.replace(/\/+$/, '');
  return `nfs://${p.host}${base}${rel ? '/' + rel : ''}?version=4&nfsport=${p.port}`;
}

// A minimal NFSv4.0 client (ONC RPC over TCP, AUTH_SYS) for what libnfs-utils 4.0 has no
// working tool for: creating a directory, removing a file, and writing a file of 4 KB or
// more (its nfs-cp fails with "ZDR error: Failed to encode COMPOUND4args" at about 4000
// bytes, so it only ever carried the small files of contract 1).
function xdr() {
  const parts = [];
  const w = {
    u32(v) { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); parts.push(b); return w; },
    u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); parts.push(b); return w; },
    fixed(buf) { parts.push(buf); const pad = (4 - (buf.length % 4)) % 4; if (pad) parts.push(Buffer.alloc(pad)); return w; },
    opaque(buf) { w.u32(buf.length); return w.fixed(buf); },
    str(s) { return w.opaque(Buffer.from(s, 'utf8')); },
    buf() { return Buffer.concat(parts); },
  };
  return w;
}
function xdrReader(buf, at = 0) {
  let o = at;
  const r = {
    u32() { const v = buf.readUInt32BE(o); o += 4; return v; },
    u64() { const v = buf.readBigUInt64BE(o); o += 8; return v; },
    fixed(n) { const v = buf.subarray(o, o + n); o += n + ((4 - (n % 4)) % 4); return Buffer.from(v); },
    opaque() { return r.fixed(r.u32()); },
  };
  return r;
}
const NFS4ERR = {
  1: 'NFS4ERR_PERM', 2: 'NFS4ERR_NOENT', 5: 'NFS4ERR_IO', 13: 'NFS4ERR_ACCES', 17: 'NFS4ERR_EXIST', 20: 'NFS4ERR_NOTDIR', 21: 'NFS4ERR_ISDIR',
  22: 'NFS4ERR_INVAL', 27: 'NFS4ERR_FBIG', 28: 'NFS4ERR_NOSPC', 30: 'NFS4ERR_ROFS', 69: 'NFS4ERR_DQUOT', 70: 'NFS4ERR_STALE', 10001: 'NFS4ERR_BADHANDLE',
  10006: 'NFS4ERR_SERVERFAULT', 10011: 'NFS4ERR_EXPIRED', 10013: 'NFS4ERR_GRACE', 10016: 'NFS4ERR_WRONGSEC', 10017: 'NFS4ERR_CLID_INUSE',
  10022: 'NFS4ERR_STALE_CLIENTID', 10023: 'NFS4ERR_STALE_STATEID', 10025: 'NFS4ERR_BAD_STATEID', 10026: 'NFS4ERR_BAD_SEQID',
};
const nfs4err = (st) => NFS4ERR[st] || `NFS4 error ${st}`;
const OPEN4 = { shareAccessWrite: 2, shareDenyNone: 0, create: 1, guarded: 1, claimNull: 0, resultConfirm: 2 };
const WRITE_CHUNK = 512 * 1024; // below nfs-ganesha's default MaxWrite (1 MiB)
const OP = {
  putrootfh: (w) => w.u32(24),
  putfh: (fh) => (w) => w.u32(22).opaque(fh),
  getfh: (w) => w.u32(10),
  lookup: (name) => (w) => w.u32(15).str(name),
  remove: (name) => (w) => w.u32(28).str(name),
  mkdir: (name) => (w) => {
    const mode = Buffer.alloc(4);
    mode.writeUInt32BE(0o755);
    // CREATE, type NF4DIR, name, fattr4 { bitmap [0, 1<<(FATTR4_MODE-32)], mode }
    w.u32(6).u32(2).str(name).u32(2).u32(0).u32(1 << (33 - 32)).opaque(mode);
  },
  setclientid: (verifier, id) => (w) => w.u32(35).fixed(verifier).str(id).u32(0x40000000).str('tcp').str('127.0.0.1.0.0').u32(0),
  setclientidConfirm: (clientid, confirm) => (w) => w.u32(36).u64(clientid).fixed(confirm),
  // OPEN for writing, creating the file GUARDED (an existing file is NFS4ERR_EXIST, as nfs-cp
  // refuses to overwrite) with mode 0640.
  openCreate: (seqid, clientid, owner, name) => (w) => {
    const mode = Buffer.alloc(4);
    mode.writeUInt32BE(0o640);
    w.u32(18).u32(seqid).u32(OPEN4.shareAccessWrite).u32(OPEN4.shareDenyNone).u64(clientid).opaque(owner)
      .u32(OPEN4.create).u32(OPEN4.guarded).u32(2).u32(0).u32(1 << (33 - 32)).opaque(mode)
      .u32(OPEN4.claimNull).str(name);
  },
  openConfirm: (stateid, seqid) => (w) => w.u32(20).fixed(stateid).u32(seqid),
  write: (stateid, offset, data) => (w) => w.u32(38).fixed(stateid).u64(offset).u32(0 /* UNSTABLE4 */).opaque(data),
  commit: (w) => w.u32(5).u64(0).u32(0),
  close: (seqid, stateid) => (w) => w.u32(4).u32(seqid).fixed(stateid),
};

// One TCP connection to the server, one COMPOUND at a time. `call` resolves with the
// compound's status and a reader at its first operation's result.
class Nfs4Conn {
  constructor(host, port, timeoutMs = CHECK_TIMEOUT_MS) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.sock = null;
    this.pending = null;
    this.dead = null;
  }

  open() {
    if (this.sock) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: this.host, port: this.port });
      let buf = Buffer.alloc(0);
      let frags = [];
      const fail = (e) => {
        this.dead = e;
        const p = this.pending;
        this.pending = null;
        sock.destroy();
        if (p) p.reject(e); else reject(e);
      };
      sock.setNoDelay(true);
      sock.on('connect', () => { this.sock = sock; resolve(); });
      sock.on('error', (e) => fail(new Error(`NFS server ${this.host}:${this.port}: ${e.message}`)));
      sock.on('close', () => fail(new Error(`NFS server ${this.host}:${this.port} closed the connection`)));
      sock.on('data', (d) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        while (buf.length >= 4) {
          const h = buf.readUInt32BE(0);
          const len = h & 0x7fffffff;
          if (buf.length < 4 + len) return;
          frags.push(buf.subarray(4, 4 + len));
          buf = buf.subarray(4 + len);
          if (h & 0x80000000) {
            const reply = Buffer.concat(frags);
            frags = [];
            const p = this.pending;
            this.pending = null;
            if (p) p.settle(reply);
          }
        }
      });
    });
  }

  async call(ops) {
    if (this.dead) throw this.dead;
    await this.open();
    const xid = crypto.randomBytes(4).readUInt32BE(0);
    const cred = xdr().u32(Math.floor(Date.now() / 1000)).str(os.hostname().slice(0, 64))
      .u32(process.getuid()).u32(process.getgid()).u32(0).buf();
    const w = xdr().u32(xid).u32(0).u32(2).u32(100003).u32(4).u32(1) // CALL, RPC v2, NFS v4, COMPOUND
      .u32(1).opaque(cred).u32(0).u32(0) // AUTH_SYS, AUTH_NONE verifier
      .str('orbit').u32(0).u32(ops.length); // tag, minorversion 0
    for (const op of ops) op(w);
    const body = w.buf();
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE((0x80000000 | body.length) >>> 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const e = new Error(`NFS server ${this.host}:${this.port} did not answer within ${this.timeoutMs / 1000} s`);
        this.dead = e;
        this.pending = null;
        this.sock.destroy();
        reject(e);
      }, this.timeoutMs);
      this.pending = {
        reject: (e) => { clearTimeout(timer); reject(e); },
        settle: (reply) => {
          clearTimeout(timer);
          try {
            const r = xdrReader(reply);
            if (r.u32() !== xid || r.u32() !== 1) throw new Error('malformed NFS reply');
            if (r.u32() !== 0) throw new Error('NFS RPC call denied');
            r.u32();
            r.opaque(); // verifier
            const accept = r.u32();
            if (accept !== 0) throw new Error(`NFS RPC not accepted (accept_stat ${accept})`);
            const status = r.u32();
            r.opaque(); // tag
            r.u32(); // number of results
            resolve({ status, r });
          } catch (e) {
            reject(e);
          }
        },
      };
      this.sock.write(Buffer.concat([hdr, body]));
    });
  }

  // A compound whose every operation must succeed. Only its last operation may have a
  // result beyond its status (PUTROOTFH, PUTFH, LOOKUP have none), so the reader is
  // returned at that result.
  async expect(ops, what) {
    const { status, r } = await this.call(ops);
    for (let i = 0; i < ops.length; i++) {
      r.u32(); // the operation
      const st = r.u32();
      if (st !== 0) throw new Error(`${what}: ${nfs4err(st)}`);
    }
    if (status !== 0) throw new Error(`${what}: ${nfs4err(status)}`);
    return r;
  }

  close() {
    if (this.sock) this.sock.destroy();
    this.sock = null;
    this.dead = this.dead || new Error('closed');
  }
}

async function nfs4Compound(host, port, ops, timeoutMs = CHECK_TIMEOUT_MS) {
  const c = new Nfs4Conn(host, port, timeoutMs);
  try {
    return (await c.call(ops)).status;
  } finally {
    c.close();
  }
}
function lookups(p) {
  return p.split('/').filter(Boolean).map((c) => OP.lookup(c));
}
async function nfsMkdirs(p, rels) {
  for (const rel of rels) {
    const comps = rel.split('/').filter(Boolean);
    const name = comps.pop();
    const st = await nfs4Compound(p.host, p.port, [OP.putrootfh, ...lookups(p.path), ...comps.map((c) => OP.lookup(c)), OP.mkdir(name)]);
    if (st !== 0 && st !== 17) throw new Error(`creating ${p.path}/${rel}: ${NFS4ERR[st] || 'NFS4 error ' + st}`);
  }
}
// Removes `rel` (a file under the export path); an absent file is not an error.
async function nfsRemove(p, rel) {
  const comps = rel.split('/').filter(Boolean);
  const name = comps.pop();
  const st = await nfs4Compound(p.host, p.port, [OP.putrootfh, ...lookups(p.path), ...comps.map((c) => OP.lookup(c)), OP.remove(name)]);
  if (st !== 0 && st !== 2) throw new Error(`removing ${p.path}/${rel}: ${NFS4ERR[st] || 'NFS4 error ' + st}`);
}
// Writes the local file to `rel` under the export path: a new file (never an existing
// one), in WRITE_CHUNK pieces over one connection, committed to stable storage before it
// is closed. A write that fails removes what it wrote, so no partial file is left.
async function nfsWriteFile(p, local, rel, timeoutMs = TRANSFER_TIMEOUT_MS) {
  const comps = rel.split('/').filter(Boolean);
  const name = comps.pop();
  const dir = [OP.putrootfh, ...lookups(p.path), ...comps.map((c) => OP.lookup(c))];
  const where = `${p.path}/${rel}`;
  const deadline = Date.now() + timeoutMs;
  const c = new Nfs4Conn(p.host, p.port, CHECK_TIMEOUT_MS);
  let created = false;
  const fd = fs.openSync(local, 'r');
  try {
    let r = await c.expect([OP.setclientid(crypto.randomBytes(8), `orbit ${os.hostname()} ${process.pid} ${crypto.randomBytes(4).toString('hex')}`)], 'NFS SETCLIENTID');
    const clientid = r.u64();
    await c.expect([OP.setclientidConfirm(clientid, r.fixed(8))], 'NFS SETCLIENTID_CONFIRM');
    let seqid = 0;
    r = await c.expect([...dir, OP.openCreate(seqid++, clientid, Buffer.from(`orbit-${process.pid}`), name)], `creating ${where}`);
    created = true;
    let stateid = r.fixed(16);
    r.u32(); r.u64(); r.u64(); // change_info4
    const rflags = r.u32();
    const fh = (await c.expect([...dir, OP.lookup(name), OP.getfh], `looking up ${where}`)).opaque();
    if (rflags & OPEN4.resultConfirm) stateid = (await c.expect([OP.putfh(fh), OP.openConfirm(stateid, seqid++)], `confirming the open of ${where}`)).fixed(16);
    const chunk = Buffer.alloc(WRITE_CHUNK);
    for (let offset = 0; ;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, offset);
      if (n === 0) break;
      if (Date.now() > deadline) throw new Error(`writing ${where} timed out after ${timeoutMs / 1000} s`);
      const count = (await c.expect([OP.putfh(fh), OP.write(stateid, offset, chunk.subarray(0, n))], `writing ${where}`)).u32();
      if (count === 0) throw new Error(`writing ${where}: the server accepted no bytes`);
      offset += count;
    }
    await c.expect([OP.putfh(fh), OP.commit], `committing ${where}`);
    await c.expect([OP.putfh(fh), OP.close(seqid++, stateid)], `closing ${where}`);
    created = false;
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e.message };
  } finally {
    fs.closeSync(fd);
    c.close();
    if (created) await nfsRemove(p, rel).catch(() => undefined);
  }
}
async function nfsList(root, p) {
  const res = await run('nfs-ls', [nfsUrl(p, '')], { timeoutMs: CHECK_TIMEOUT_MS, env: { HOME: path.join(root, 'root') } });
  if (res.code === 0) return { ok: true, durationMs: res.durationMs };
  return { ok: false, unreachable: true, error: firstMeaningfulLine(`${res.stderr}\n${res.stdout}`, [/^Failed to open/]), durationMs: res.durationMs };
}
async function nfsCopy(root, p, local, rel, timeoutMs = TRANSFER_TIMEOUT_MS) {
  const res = await run('nfs-cp', [local, nfsUrl(p, rel)], { timeoutMs, env: { HOME: path.join(root, 'root') } });
  if (res.code === 0) return { ok: true };
  return { ok: false, error: firstMeaningfulLine(`${res.stderr}\n${res.stdout}`, [/^Failed to open/]) };
}

// ---------------------------------------------------------------- destinations

function destinationOf(cfg) {
  const d = cfg.backup.destination;
  if (d.mode === 'rsync') {
    if (!cfg.rsync) throw new OrbitError('conflict', 'the destination is rsync but no rsync target is set');
    return { kind: 'rsync', target: cfg.rsync, url: rsyncDest(cfg.rsync) };
  }
  if (d.mode === 'partition') {
    const p = cfg.partitions.find((x) => x.id === d.partitionId);
    if (!p) throw new OrbitError('conflict', `the destination partition ${d.partitionId} does not exist`);
    return { kind: p.protocol, target: p, url: `${p.protocol}://${p.host}:${p.port}${p.path}` };
  }
  throw invalid('destination', 'no backup destination is set (orbit backup destination rsync|partition)');
}

// Check access; for a partition also write write_test at its root, as a mount does.
async function probe(root, cfg, dest, { writeTest }) {
  const started = Date.now();
  if (dest.kind === 'rsync') {
    const empty = privateTmp(root, 'rsync-test-');
    try {
      const r = await rsyncPush(root, dest.target, empty, { dryRun: true, timeoutMs: CHECK_TIMEOUT_MS });
      return { ...r, durationMs: Date.now() - started };
    } finally {
      rmrf(empty);
    }
  }
  const p = dest.target;
  const tmp = privateTmp(root, 'probe-');
  try {
    const wt = path.join(tmp, 'write_test');
    fs.writeFileSync(wt, `write test from ${cfg.hostname} at ${new Date().toISOString()}\n`);
    if (p.protocol === 'cifs') {
      const creds = cifsCredentials(cfg, p);
      const cmds = writeTest ? [`put ${wt} write_test`] : ['ls'];
      const r = await smbclient(root, p, creds, cmds, CHECK_TIMEOUT_MS);
      return { ...r, unreachable: !r.ok, durationMs: Date.now() - started };
    }
    const l = await nfsList(root, p);
    if (!l.ok) return { ...l, durationMs: Date.now() - started };
    if (writeTest) {
      try {
        await nfsRemove(p, 'write_test');
      } catch (e) {
        return { ok: false, unreachable: true, error: e.message, durationMs: Date.now() - started };
      }
      const c = await nfsCopy(root, p, wt, 'write_test');
      if (!c.ok) return { ok: false, unreachable: true, error: c.error, durationMs: Date.now() - started };
    }
    return { ok: true, durationMs: Date.now() - started };
  } finally {
    rmrf(tmp);
  }
}

// A remote directory lost: the vendor sends an e-mail and a SIEM event (each when on).
// The event also goes to the appliance's own event log, whatever the channels, since
// `backup config show` reports recent events (contract 2) and the channels are only
// how they are delivered.
function notify(root, cfg, destination, error) {
  const n = cfg.backup.notifications;
  const event = { time: new Date().toISOString(), kind: 'remote_directory_lost', hostname: cfg.hostname, destination, error };
  const dir = path.join(root, 'notifications');
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  fs.appendFileSync(path.join(root, EVENTS_LOG), JSON.stringify(event) + '\n', { mode: 0o640 });
  if (n.email) fs.appendFileSync(path.join(dir, 'email.log'), JSON.stringify({ ...event, to: n.emailTo }) + '\n', { mode: 0o640 });
  if (n.siem) fs.appendFileSync(path.join(dir, 'siem.log'), JSON.stringify(event) + '\n', { mode: 0o640 });
}

// The events of the last EVENT_WINDOW_MS, at most MAX_EVENTS, oldest first. A line that
// is not an event (a torn write, a hand edit) is skipped rather than failing the read.
function recentEvents(root, now = Date.now()) {
  let text;
  try {
    text = fs.readFileSync(path.join(root, EVENTS_LOG), 'utf8');
  } catch {
    return [];
  }
  const events = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e;
    try { e = JSON.parse(line); } catch { continue; }
    const t = e && typeof e.time === 'string' ? Date.parse(e.time) : NaN;
    if (Number.isNaN(t) || t < now - EVENT_WINDOW_MS || typeof e.kind !== 'string') continue;
    events.push({ time: e.time, kind: e.kind, hostname: e.hostname ?? null, destination: e.destination ?? null, error: e.error ?? null });
  }
  events.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return events.slice(-MAX_EVENTS);
}

// ---------------------------------------------------------------- backup layout

// Where every file of a backup goes, relative to the destination's remote path: the
// vendor's layout (docs/appliance-contract.md, "Layout"). This is the one place to
// change when a real appliance differs in detail; the lab helpers read it from here.
// Every path carries the backup id, so a file of a backup that its manifest does not
// list can be told apart from another backup's.
const LAYOUT = {
  /** The system kind's database dumps: one directory per backup. */
  db: 'backup/system/db/{id}/{name}.tar.gz',
  /** The video kind's session recordings, filed under the backup's start date (UTC). */
  arz: 'backup/system/arz/{YYYY}/{MMDD}/{id}-sessions.tar.gz',
  /** The secrets kind: always in the envelope. */
  secrets: 'backup/secrets/{id}.secrets.enc',
  /** One manifest per backup, written last. */
  manifest: 'backup/manifests/{id}.json',
  /** Appended to a db or arz archive that is wrapped in the envelope. */
  encryptedSuffix: '.enc',
};

// The system kind's dumps: what each archives, relative to a directory orbit picks.
// Never the vault (data/secrets.json: that is the secrets kind, which always has a
// master key) nor a stored password (orbit-config is written without them).
const DB_DUMPS = ['senhasegura-db', 'orbit-config'];

function layoutPath(template, vars) {
  return template.replace(/\{(\w+)\}/g, (_, k) => {
    if (vars[k] === undefined) throw new OrbitError('internal', `LAYOUT placeholder {${k}} has no value`);
    return vars[k];
  });
}

function layoutVars(id, startedAt) {
  const iso = startedAt.toISOString();
  return { id, YYYY: iso.slice(0, 4), MMDD: iso.slice(5, 7) + iso.slice(8, 10) };
}

// ---------------------------------------------------------------- the envelope

// "OSEC" | version 1 | scrypt salt (16) | GCM IV (12) | GCM tag (16) | ciphertext,
// key = scrypt(masterPassword, salt, 32, N=16384, r=8, p=1), AES-256-GCM.
// The same format as providers/formats/backup-format.ts reads.
const ENVELOPE = { magic: 'OSEC', version: 1, saltBytes: 16, ivBytes: 12, tagBytes: 16, keyBytes: 32, scrypt: { N: 16384, r: 8, p: 1 } };
const ENVELOPE_TAG_OFFSET = ENVELOPE.magic.length + 1 + ENVELOPE.saltBytes + ENVELOPE.ivBytes;
const ENVELOPE_HEADER_BYTES = ENVELOPE_TAG_OFFSET + ENVELOPE.tagBytes;

// Writes `source` (a readable stream) to `out`, in the envelope when masterPassword is
// set. It streams: the tag is known only at the end, so the header is written with a
// zero placeholder and the tag put at its offset afterwards. Memory stays flat
// whatever the size of the recordings.
async function writeSealed(out, source, masterPassword) {
  const { pipeline } = require('stream/promises');
  if (!masterPassword) {
    await pipeline(source, fs.createWriteStream(out, { flags: 'wx', mode: 0o640 }));
    return;
  }
  const salt = crypto.randomBytes(ENVELOPE.saltBytes);
  const iv = crypto.randomBytes(ENVELOPE.ivBytes);
  const { N, r, p } = ENVELOPE.scrypt;
  const key = crypto.scryptSync(masterPassword, salt, ENVELOPE.keyBytes, { N, r, p });
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  key.fill(0);
  const header = Buffer.concat([Buffer.from(ENVELOPE.magic, 'latin1'), Buffer.from([ENVELOPE.version]), salt, iv, Buffer.alloc(ENVELOPE.tagBytes)]);
  fs.writeFileSync(out, header, { flag: 'wx', mode: 0o640 });
  await pipeline(source, cipher, fs.createWriteStream(out, { flags: 'r+', start: ENVELOPE_HEADER_BYTES }));
  const fd = fs.openSync(out, 'r+');
  try {
    fs.writeSync(fd, cipher.getAuthTag(), 0, ENVELOPE.tagBytes, ENVELOPE_TAG_OFFSET);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// Size and SHA-256 of a written file, read back in chunks (the envelope's tag lands in
// the header last, so the digest cannot be taken while writing).
async function fileDigest(file) {
  const h = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    h.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: h.digest('hex') };
}

// ---------------------------------------------------------------- backup contents

function backupId(now) {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z') + '-' + crypto.randomBytes(2).toString('hex');
}

// The hard timeout of a step that moves `bytes`: the base, plus time for the size, so
// a 1 GiB recordings set is not cut off while a dead server still fails fast.
const BYTES_PER_EXTRA_SECOND = 4 * 1024 * 1024;
function transferTimeoutMs(bytes) {
  return TRANSFER_TIMEOUT_MS + Math.ceil(bytes / BYTES_PER_EXTRA_SECOND) * 1000;
}

function treeBytes(p) {
  let st;
  try { st = fs.lstatSync(p); } catch { return 0; }
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  return fs.readdirSync(p).reduce((n, e) => n + treeBytes(path.join(p, e)), 0);
}

// A gzip'd tar of `entries` (relative to cwd) written to `out`, sealed when
// masterPassword is set. tar streams into the cipher; its member list goes to an index
// file in `work`, so the manifest can count the members without reading the archive.
async function writeArchive(out, cwd, entries, masterPassword, work) {
  const index = path.join(work, `${path.basename(out)}.index`);
  const timeoutMs = transferTimeoutMs(entries.reduce((n, e) => n + treeBytes(path.join(cwd, e)), 0));
  const child = spawn('tar', ['-czvf', '-', `--index-file=${index}`, '-C', cwd, ...entries], {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: CHILD_PATH, LANG: 'C', LC_ALL: 'C' },
  });
  let stderr = '';
  let timedOut = false;
  child.stderr.on('data', (d) => { if (stderr.length < 65536) stderr += d; });
  const closed = new Promise((resolve) => {
    child.on('error', (e) => { stderr += e.message; resolve(127); });
    child.on('close', (code) => resolve(code === null ? 128 : code));
  });
  const kill = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  const timer = setTimeout(() => { timedOut = true; kill(); }, timeoutMs);
  try {
    await writeSealed(out, child.stdout, masterPassword);
    const code = await closed;
    if (timedOut) throw new OrbitError('backup_failed', `tar of ${entries.join(', ')} timed out after ${timeoutMs / 1000} s`);
    if (code !== 0) throw new OrbitError('backup_failed', `tar of ${entries.join(', ')} failed: ${firstMeaningfulLine(stderr)}`);
  } catch (e) {
    kill();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const members = fs.readFileSync(index, 'utf8').split('\n').filter(Boolean).length;
  return { entries: members };
}

// The appliance's recordings directory, with a stand-in proxy session the first time
// (lab/fill-recordings adds bulk data beside it).
function ensureRecordings(root) {
  const rec = path.join(root, 'recordings');
  fs.mkdirSync(rec, { recursive: true, mode: 0o750 });
  const cast = path.join(rec, 'session-0001.cast');
  if (!fs.existsSync(cast)) {
    fs.writeFileSync(cast, '{"version":2,"width":80,"height":24,"title":"stand-in proxy session"}\n[0.5,"o","$ whoami\\r\\n"]\n[0.9,"o","root\\r\\n"]\n');
  }
  return rec;
}

// The orbit configuration as a dump may hold it: every stored secret replaced by
// whether it is set.
function configWithoutSecrets(cfg) {
  const c = JSON.parse(JSON.stringify(cfg));
  c.backup.masterPasswordSet = !!c.backup.masterPassword;
  delete c.backup.masterPassword;
  for (const x of [...(c.partitions || []), ...(c.credentials || [])]) {
    x.passwordSet = !!x.password;
    delete x.password;
  }
  return c;
}

// The vault as the secrets kind archives it: {"secrets":[…]}, and how many entries.
function readVault(root) {
  const file = path.join(root, 'data', 'secrets.json');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return { plain: Buffer.from('{"secrets":[]}'), entries: 0 };
    throw e;
  }
  let doc;
  try { doc = JSON.parse(text); } catch { doc = null; }
  if (!doc || !Array.isArray(doc.secrets)) throw new OrbitError('backup_failed', `${file} is not a vault document {"secrets":[…]}`);
  return { plain: Buffer.from(JSON.stringify({ secrets: doc.secrets })), entries: doc.secrets.length };
}

// Builds every content file of the backup under `content` (in the LAYOUT tree) and
// returns the manifest's file list, in the order: system, secrets, video.
async function buildBackup(root, cfg, id, startedAt, content, work) {
  const b = cfg.backup;
  const kinds = ['system', 'secrets', 'video'].filter((k) => b[k]);
  const master = b.masterPassword || null;
  const vars = layoutVars(id, startedAt);
  const files = [];
  const place = (rel) => {
    fs.mkdirSync(path.dirname(path.join(content, rel)), { recursive: true, mode: 0o750 });
    return path.join(content, rel);
  };
  const archive = async (kind, role, template, extra, cwd, entries) => {
    const rel = layoutPath(template, { ...vars, ...extra }) + (master ? LAYOUT.encryptedSuffix : '');
    const r = await writeArchive(place(rel), cwd, entries, master, work);
    files.push({ path: rel, kind, role, encrypted: !!master, entries: r.entries });
  };
  if (b.system) {
    fs.mkdirSync(path.join(root, 'data', 'system'), { recursive: true });
    await archive('system', 'db', LAYOUT.db, { name: DB_DUMPS[0] }, root, ['data/system']);
    const dump = path.join(work, DB_DUMPS[1]);
    fs.mkdirSync(dump, { mode: 0o700 });
    fs.writeFileSync(path.join(dump, 'orbinibkp.json'), JSON.stringify(configWithoutSecrets(cfg), null, 2) + '\n', { mode: 0o600 });
    await archive('system', 'db', LAYOUT.db, { name: DB_DUMPS[1] }, work, [DB_DUMPS[1]]);
  }
  if (b.secrets) {
    if (!master) throw invalid('masterPassword', 'the secrets backup is on but no master password is set');
    const rel = layoutPath(LAYOUT.secrets, vars);
    const vault = readVault(root);
    const { Readable } = require('stream');
    try {
      await writeSealed(place(rel), Readable.from([vault.plain]), master);
    } finally {
      vault.plain.fill(0);
    }
    files.push({ path: rel, kind: 'secrets', role: 'secrets', encrypted: true, entries: vault.entries });
  }
  if (b.video) {
    ensureRecordings(root);
    await archive('video', 'arz', LAYOUT.arz, {}, root, ['recordings']);
  }
  const manifestFiles = [];
  for (const f of files) {
    const d = await fileDigest(path.join(content, f.path));
    manifestFiles.push({ path: f.path, kind: f.kind, role: f.role, size: d.size, sha256: d.sha256, encrypted: f.encrypted, entries: f.entries });
  }
  return { kinds, files: manifestFiles };
}

// The manifest, written under `dir` once the content has landed: it lists every
// content file, never itself.
async function writeManifest(dir, cfg, id, kinds, files) {
  const rel = layoutPath(LAYOUT.manifest, { id });
  const manifest = { format: 'orbit-backup-manifest', version: 1, id, hostname: cfg.hostname, createdAt: new Date().toISOString(), kinds, files };
  const out = path.join(dir, rel);
  fs.mkdirSync(path.dirname(out), { recursive: true, mode: 0o750 });
  fs.writeFileSync(out, JSON.stringify(manifest, null, 2) + '\n', { mode: 0o640 });
  const d = await fileDigest(out);
  return { path: rel, size: d.size, sha256: d.sha256 };
}

// Sends the tree under `srcDir` (the relative `files`, `bytes` in all) to the destination.
async function transfer(root, cfg, dest, srcDir, files, bytes) {
  const started = Date.now();
  const timeoutMs = transferTimeoutMs(bytes);
  if (dest.kind === 'rsync') {
    const r = await rsyncPush(root, dest.target, srcDir, { timeoutMs });
    return { ...r, durationMs: Date.now() - started };
  }
  const p = dest.target;
  const dirs = [];
  for (const f of files) {
    const comps = path.dirname(f).split('/');
    for (let i = 1; i <= comps.length; i++) {
      const d = comps.slice(0, i).join('/');
      if (!dirs.includes(d)) dirs.push(d);
    }
  }
  if (p.protocol === 'cifs') {
    const creds = cifsCredentials(cfg, p);
    const cmds = [...dirs.map((d) => `mkdir ${d}`), ...files.map((f) => `put ${path.join(srcDir, f)} ${f}`)];
    const r = await smbclient(root, p, creds, cmds, timeoutMs);
    return { ...r, durationMs: Date.now() - started };
  }
  try {
    await nfsMkdirs(p, dirs);
  } catch (e) {
    return { ok: false, unreachable: /did not answer|ECONNREFUSED|closed|denied|NOENT|ACCES|PERM/.test(e.message), error: e.message, durationMs: Date.now() - started };
  }
  for (const f of files) {
    const c = await nfsWriteFile(p, path.join(srcDir, f), f, transferTimeoutMs(fs.statSync(path.join(srcDir, f)).size));
    if (!c.ok) return { ok: false, unreachable: /did not answer|ECONNREFUSED|closed the connection/.test(c.error), error: c.error, durationMs: Date.now() - started };
  }
  return { ok: true, durationMs: Date.now() - started };
}

function backupLog(root, line) {
  fs.mkdirSync(path.join(root, 'log'), { recursive: true, mode: 0o750 });
  fs.appendFileSync(path.join(root, 'log', 'orbinibkp.log'), line + '\n', { mode: 0o640 });
}

// ---------------------------------------------------------------- commands

function partitionFromFlags(f, cfg, existing) {
  const id = checkId(f['--id']);
  const protocol = f['--protocol'];
  if (protocol !== 'cifs' && protocol !== 'nfs') throw invalid('protocol', 'protocol must be cifs or nfs');
  if (f['--host'] === undefined) throw invalid('host', '--host is required');
  if (f['--path'] === undefined) throw invalid('path', '--path is required');
  const host = checkHost(f['--host']);
  const port = f['--port'] === undefined ? DEFAULT_PORT[protocol] : checkPort(f['--port']);
  const p = checkPath(f['--path']);
  const rec = { id, protocol, host, port, path: p, user: null, domain: null, credentialId: null, password: null };
  if (protocol === 'nfs') {
    for (const [flag, field] of [['--user', 'user'], ['--domain', 'domain'], ['--credential-id', 'credentialId'], ['--password-stdin', 'password']]) {
      if (f[flag] !== undefined) throw invalid(field, `an NFS partition takes no ${flag}`);
    }
    return { rec, wantsPassword: false };
  }
  if (p.split('/').filter(Boolean).length === 0) throw invalid('path', 'a CIFS path must name a share: /<share>[/<dir>…]');
  if (f['--credential-id'] !== undefined) {
    for (const [flag, field] of [['--user', 'user'], ['--domain', 'domain'], ['--password-stdin', 'password']]) {
      if (f[flag] !== undefined) throw invalid(field, `${flag} cannot be combined with --credential-id`);
    }
    const cid = checkId(f['--credential-id'], 'credentialId');
    if (!cfg.credentials.some((c) => c.id === cid)) throw new OrbitError('not_found', `credential ${cid} does not exist`);
    rec.credentialId = cid;
    return { rec, wantsPassword: false };
  }
  if (f['--user'] === undefined) throw invalid('user', 'a CIFS partition needs --user with --password-stdin, or --credential-id');
  rec.user = checkUser(f['--user']);
  if (f['--domain'] !== undefined) rec.domain = checkDomain(f['--domain']);
  if (f['--password-stdin']) return { rec, wantsPassword: true };
  // keep the stored password only on update with the same user
  if (existing && existing.protocol === 'cifs' && existing.user === rec.user && existing.password) {
    rec.password = existing.password;
    return { rec, wantsPassword: false };
  }
  throw invalid('password', 'a CIFS partition with --user needs --password-stdin');
}

const SAME_FIELDS = ['protocol', 'host', 'port', 'path', 'user', 'domain', 'credentialId', 'password'];
const samePartition = (a, b) => SAME_FIELDS.every((k) => a[k] === b[k]);

async function mountPartition(ctx, id) {
  const { store, root } = ctx;
  const cfg = store.read();
  const p = cfg.partitions.find((x) => x.id === id);
  if (!p) throw new OrbitError('not_found', `partition ${id} does not exist`);
  const dest = { kind: p.protocol, target: p, url: `${p.protocol}://${p.host}:${p.port}${p.path}` };
  const r = await probe(root, cfg, dest, { writeTest: true });
  let changed = false;
  const result = await store.mutate((c) => {
    const q = c.partitions.find((x) => x.id === id);
    if (!q || !samePartition(q, p)) throw new OrbitError('conflict', `partition ${id} changed while it was being mounted`);
    if (r.ok) {
      if (!q.mounted) { q.mounted = true; q.mountedAt = new Date().toISOString(); changed = true; }
    } else if (q.mounted) {
      q.mounted = false; q.mountedAt = null; changed = true;
    }
    return changed;
  });
  if (!r.ok) {
    notify(root, result.cfg, dest.url, r.error);
    throw new OrbitError('unreachable', `mounting ${dest.url} failed: ${r.error}`);
  }
  return { changed, partition: partitionView(result.cfg.partitions.find((x) => x.id === id)) };
}

const handlers = {
  async 'version'(ctx) {
    const contract = contractOf(ctx.root);
    return { json: { ok: true, contract, product: PRODUCT, hostname: ctx.store.read().hostname }, text: `${PRODUCT}, contract ${contract}, appliance ${ctx.store.read().hostname}` };
  },

  async 'backup config show'(ctx) {
    const cfg = ctx.store.read();
    return { json: configViewFor(cfg, ctx.root), text: humanConfig(configView(cfg, ctx.root)) };
  },

  async 'backup time'(ctx, f) {
    if (f['--hour'] === undefined) throw usage('backup time needs --hour H');
    const hour = checkHour(f['--hour']);
    const { changed } = await ctx.store.mutate((c) => {
      if (c.backup.hour === hour) return false;
      c.backup.hour = hour;
      return true;
    });
    return { json: { ok: true, changed, hour }, text: `Daily backup hour ${changed ? 'set to' : 'already'} ${String(hour).padStart(2, '0')}:00` };
  },

  async 'backup kind enable'(ctx, f, kind) {
    let master = null;
    if (kind === 'secrets') master = checkMasterPassword(readStdinLine());
    const { changed } = await ctx.store.mutate((c) => {
      const b = c.backup;
      if (kind === 'secrets') {
        if (b.secrets && b.masterPassword === master) return false;
        b.secrets = true;
        b.masterPassword = master;
        return true;
      }
      if (b[kind]) return false;
      b[kind] = true;
      return true;
    });
    return { json: { ok: true, changed, kind, enabled: true }, text: `${kind} backup ${changed ? 'enabled' : 'already enabled'}` };
  },

  async 'backup kind disable'(ctx, f, kind) {
    const { changed } = await ctx.store.mutate((c) => {
      const b = c.backup;
      if (!b[kind] && (kind !== 'secrets' || !b.masterPassword)) return false;
      b[kind] = false;
      if (kind === 'secrets') b.masterPassword = null;
      return true;
    });
    return { json: { ok: true, changed, kind, enabled: false }, text: `${kind} backup ${changed ? 'disabled' : 'already disabled'}` };
  },

  async 'backup notify'(ctx, f) {
    const want = {};
    if (f['--email'] !== undefined) want.email = onOff(f['--email'], 'email');
    if (f['--siem'] !== undefined) want.siem = onOff(f['--siem'], 'siem');
    if (f['--email-to'] !== undefined && f['--no-email-to']) throw usage('--email-to and --no-email-to exclude each other');
    if (f['--email-to'] !== undefined) want.emailTo = checkEmail(f['--email-to']);
    if (f['--no-email-to']) want.emailTo = null;
    const { cfg, changed } = await ctx.store.mutate((c) => {
      const n = c.backup.notifications;
      let ch = false;
      for (const [k, v] of Object.entries(want)) if (n[k] !== v) { n[k] = v; ch = true; }
      return ch;
    });
    const n = cfg.backup.notifications;
    return { json: { ok: true, changed, notifications: { ...n } }, text: `Notifications: email=${n.email ? 'on' : 'off'}${n.emailTo ? ` to ${n.emailTo}` : ''} siem=${n.siem ? 'on' : 'off'}${changed ? '' : ' (unchanged)'}` };
  },

  async 'backup destination'(ctx, f, mode) {
    let pid = null;
    if (mode === 'partition') {
      if (f['--partition'] === undefined) throw invalid('partitionId', 'backup destination partition needs --partition ID');
      pid = checkId(f['--partition'], 'partitionId');
    } else if (f['--partition'] !== undefined) {
      throw usage(`--partition goes only with "backup destination partition"`);
    }
    const { changed } = await ctx.store.mutate((c) => {
      if (mode === 'rsync' && !c.rsync) throw new OrbitError('conflict', 'no rsync target is set (orbit rsync set …)');
      if (mode === 'partition' && !c.partitions.some((p) => p.id === pid)) throw new OrbitError('conflict', `partition ${pid} does not exist`);
      const d = c.backup.destination;
      if (d.mode === mode && d.partitionId === pid) return false;
      c.backup.destination = { mode, partitionId: pid };
      return true;
    });
    return { json: { ok: true, changed, destination: { mode, partitionId: pid } }, text: `Backup destination ${changed ? 'set to' : 'already'} ${mode}${pid ? ` (${pid})` : ''}` };
  },

  async 'backup create'(ctx) {
    const { store, root } = ctx;
    const cfg = store.read();
    const startedAt = new Date();
    const id = backupId(startedAt);
    let dest;
    let logged = false;
    const fail = async (err) => {
      const destUrl = dest ? dest.url : null;
      backupLog(root, `${new Date().toISOString()} [${cfg.hostname}] backup ${id} status=failed destination=${destUrl || 'none'} code=${err.code} error=${JSON.stringify(err.message)}`);
      logged = true;
      // The failure must not hide behind a lock: the backup log above has it either way.
      try {
        await store.mutate((c) => {
          c.lastFailure = { time: new Date().toISOString(), id, code: err.code, message: err.message, destination: destUrl };
          return true;
        });
      } catch { /* reported by the exit code and the backup log */ }
      return err;
    };
    try {
      dest = destinationOf(cfg);
      if (!['system', 'secrets', 'video'].some((k) => cfg.backup[k])) throw invalid('kinds', 'no backup kind is enabled (orbit backup kind enable …)');
    } catch (e) {
      throw await fail(e instanceof OrbitError ? e : new OrbitError('internal', e.message));
    }
    // content/ and manifest/ are the trees sent, in that order; work/ is never sent.
    const staging = privateTmp(root, `backup-${id}-`);
    const content = path.join(staging, 'content');
    const manifestDir = path.join(staging, 'manifest');
    const work = path.join(staging, 'work');
    for (const d of [content, manifestDir, work]) fs.mkdirSync(d, { mode: 0o700 });
    try {
      let built;
      try {
        built = await buildBackup(root, cfg, id, startedAt, content, work);
      } catch (e) {
        throw await fail(e instanceof OrbitError ? e : new OrbitError('backup_failed', e.message));
      }
      const send = async (dir, files, bytes) => {
        const t = await transfer(root, cfg, dest, dir, files, bytes);
        if (t.ok) return t.durationMs;
        if (t.unreachable) {
          notify(root, cfg, dest.url, t.error);
          throw await fail(new OrbitError('unreachable', `${dest.url} could not be reached: ${t.error}`));
        }
        throw await fail(new OrbitError('backup_failed', `the transfer to ${dest.url} did not complete: ${t.error}`));
      };
      const contentBytes = built.files.reduce((n, f) => n + f.size, 0);
      let durationMs = await send(content, built.files.map((f) => f.path), contentBytes);
      // Written last, once every file it lists has landed: a backup without its
      // manifest is an incomplete one.
      let manifest;
      try {
        manifest = await writeManifest(manifestDir, cfg, id, built.kinds, built.files);
      } catch (e) {
        throw await fail(e instanceof OrbitError ? e : new OrbitError('backup_failed', e.message));
      }
      durationMs += await send(manifestDir, [manifest.path], manifest.size);
      const files = [...built.files.map((f) => f.path), manifest.path];
      const summary = {
        ok: true,
        contract: CONTRACT,
        id,
        destination: dest.url,
        kinds: built.kinds,
        files,
        bytes: contentBytes + manifest.size,
        durationMs,
        startedAt: startedAt.toISOString(),
        manifest: { ...manifest, files: built.files },
      };
      backupLog(root, `${new Date().toISOString()} [${cfg.hostname}] backup ${id} status=ok destination=${dest.url} kinds=${built.kinds.join(',')} files=${files.length} bytes=${summary.bytes} durationMs=${durationMs}`);
      logged = true;
      await store.mutate((c) => {
        const { ok, manifest: { files: _listed, ...manifestRef }, ...last } = summary;
        c.lastBackup = { ...last, manifest: manifestRef };
        c.lastFailure = null;
        return true;
      });
      const via = dest.kind === 'rsync' ? 'Rsync' : dest.kind === 'cifs' ? 'CIFS (smbclient)' : 'NFS (NFSv4 WRITE)';
      const text = [
        `Backup ${id} started at ${summary.startedAt}`,
        `Destination: ${dest.url}`,
        `Kinds: ${built.kinds.join(', ')}`,
        ...built.files.map((f) => `  ${f.path} (${f.size} bytes, ${f.encrypted ? 'encrypted' : 'not encrypted'}, ${f.entries} entries, sha256 ${f.sha256})`),
        `  ${manifest.path} (${manifest.size} bytes, manifest, sha256 ${manifest.sha256})`,
        `${via} transfer completed: ${files.length} files, ${summary.bytes} bytes`,
        `Transfer duration: ${(durationMs / 1000).toFixed(2)} s`,
      ].join('\n');
      return { json: summary, text };
    } catch (e) {
      if (!logged) await fail(e instanceof OrbitError ? e : new OrbitError('internal', e.message));
      throw e;
    } finally {
      rmrf(staging);
    }
  },

  async 'backup check'(ctx) {
    const { store, root } = ctx;
    const cfg = store.read();
    const dest = destinationOf(cfg);
    const r = await probe(root, cfg, dest, { writeTest: false });
    if (!r.ok) {
      notify(root, cfg, dest.url, r.error);
      throw new OrbitError('unreachable', `${dest.url} could not be reached: ${r.error}`);
    }
    return { json: { ok: true, reachable: true, destination: dest.url, durationMs: r.durationMs }, text: `${dest.url} is reachable (${r.durationMs} ms)` };
  },

  async 'partition add'(ctx, f) {
    const cfg0 = ctx.store.read();
    const { rec, wantsPassword } = partitionFromFlags(f, cfg0, null);
    if (wantsPassword) rec.password = checkCifsPassword(readStdinLine());
    await ctx.store.mutate((c) => {
      if (c.partitions.some((p) => p.id === rec.id)) throw new OrbitError('conflict', `partition ${rec.id} already exists`);
      if (rec.credentialId && !c.credentials.some((x) => x.id === rec.credentialId)) throw new OrbitError('not_found', `credential ${rec.credentialId} does not exist`);
      c.partitions.push({ ...rec, mounted: false, mountedAt: null });
      return true;
    });
    if (!f['--no-mount']) await mountPartition(ctx, rec.id);
    const p = ctx.store.read().partitions.find((x) => x.id === rec.id);
    return { json: { ok: true, changed: true, partition: partitionView(p) }, text: `Partition ${rec.id} added${p.mounted ? ' and mounted' : ''}` };
  },

  async 'partition update'(ctx, f) {
    const cfg0 = ctx.store.read();
    const id = checkId(f['--id']);
    const existing0 = cfg0.partitions.find((p) => p.id === id);
    if (!existing0) {
      partitionFromFlags(f, cfg0, null); // report invalid values first
      throw new OrbitError('not_found', `partition ${id} does not exist`);
    }
    const { rec, wantsPassword } = partitionFromFlags(f, cfg0, existing0);
    if (wantsPassword) rec.password = checkCifsPassword(readStdinLine());
    const { changed } = await ctx.store.mutate((c) => {
      const i = c.partitions.findIndex((p) => p.id === id);
      if (i < 0) throw new OrbitError('not_found', `partition ${id} does not exist`);
      const cur = c.partitions[i];
      if (!wantsPassword && rec.user && cur.user === rec.user) rec.password = cur.password;
      if (rec.credentialId && !c.credentials.some((x) => x.id === rec.credentialId)) throw new OrbitError('not_found', `credential ${rec.credentialId} does not exist`);
      if (samePartition(cur, rec)) return false;
      c.partitions[i] = { ...rec, mounted: false, mountedAt: null };
      return true;
    });
    let mchanged = false;
    if (!f['--no-mount']) {
      const p = ctx.store.read().partitions.find((x) => x.id === id);
      if (changed || !p.mounted) mchanged = (await mountPartition(ctx, id)).changed;
    }
    const p = ctx.store.read().partitions.find((x) => x.id === id);
    const ch = changed || mchanged;
    return { json: { ok: true, changed: ch, partition: partitionView(p) }, text: `Partition ${id} ${ch ? 'updated' : 'unchanged'}${p.mounted ? ' (mounted)' : ''}` };
  },

  async 'partition mount'(ctx, f) {
    if (f['--id'] === undefined) throw usage('partition mount needs --id ID');
    const id = checkId(f['--id']);
    const r = await mountPartition(ctx, id);
    return { json: { ok: true, changed: r.changed, partition: r.partition }, text: `Partition ${id} ${r.changed ? 'mounted' : 'already mounted (access checked)'}` };
  },

  async 'partition unmount'(ctx, f) {
    if (f['--id'] === undefined) throw usage('partition unmount needs --id ID');
    const id = checkId(f['--id']);
    const { cfg, changed } = await ctx.store.mutate((c) => {
      const p = c.partitions.find((x) => x.id === id);
      if (!p) throw new OrbitError('not_found', `partition ${id} does not exist`);
      if (!p.mounted) return false;
      p.mounted = false;
      p.mountedAt = null;
      return true;
    });
    const p = cfg.partitions.find((x) => x.id === id);
    return { json: { ok: true, changed, partition: partitionView(p) }, text: `Partition ${id} ${changed ? 'unmounted' : 'already unmounted'}` };
  },

  async 'partition remove'(ctx, f) {
    if (f['--id'] === undefined) throw usage('partition remove needs --id ID');
    const id = checkId(f['--id']);
    const { changed } = await ctx.store.mutate((c) => {
      const i = c.partitions.findIndex((x) => x.id === id);
      if (i < 0) return false;
      const d = c.backup.destination;
      if (d.mode === 'partition' && d.partitionId === id) throw new OrbitError('conflict', `partition ${id} is the active backup destination`);
      c.partitions.splice(i, 1);
      return true;
    });
    return { json: { ok: true, changed, id }, text: `Partition ${id} ${changed ? 'unmounted and removed' : 'does not exist (nothing to do)'}` };
  },

  async 'credential add'(ctx, f) {
    if (f['--id'] === undefined) throw usage('credential add needs --id ID');
    const id = checkId(f['--id']);
    if (f['--user'] === undefined) throw invalid('user', 'credential add needs --user');
    const user = checkUser(f['--user']);
    const domain = f['--domain'] === undefined ? null : checkDomain(f['--domain']);
    const password = checkCifsPassword(readStdinLine());
    const { changed } = await ctx.store.mutate((c) => {
      const cur = c.credentials.find((x) => x.id === id);
      if (cur && cur.user === user && cur.domain === domain && cur.password === password) return false;
      const rec = { id, user, domain, password };
      if (cur) Object.assign(cur, rec); else c.credentials.push(rec);
      return true;
    });
    return { json: { ok: true, changed, credential: { id, user, domain } }, text: `Credential ${id} ${changed ? 'saved' : 'unchanged'}` };
  },

  async 'credential remove'(ctx, f) {
    if (f['--id'] === undefined) throw usage('credential remove needs --id ID');
    const id = checkId(f['--id']);
    const { changed } = await ctx.store.mutate((c) => {
      const i = c.credentials.findIndex((x) => x.id === id);
      if (i < 0) return false;
      const users = c.partitions.filter((p) => p.credentialId === id).map((p) => p.id);
      if (users.length) throw new OrbitError('conflict', `credential ${id} is used by partition ${users.join(', ')}`);
      c.credentials.splice(i, 1);
      return true;
    });
    return { json: { ok: true, changed, id }, text: `Credential ${id} ${changed ? 'removed' : 'does not exist (nothing to do)'}` };
  },

  async 'rsync set'(ctx, f) {
    for (const [flag, field] of [['--user', 'user'], ['--host', 'host'], ['--path', 'path']]) {
      if (f[flag] === undefined) throw invalid(field, `rsync set needs ${flag}`);
    }
    const r = {
      user: checkUser(f['--user']),
      host: checkHost(f['--host']),
      port: f['--port'] === undefined ? DEFAULT_PORT.rsync : checkPort(f['--port']),
      path: checkPath(f['--path']),
    };
    const { changed } = await ctx.store.mutate((c) => {
      const cur = c.rsync;
      if (cur && cur.user === r.user && cur.host === r.host && cur.port === r.port && cur.path === r.path) return false;
      c.rsync = r;
      return true;
    });
    return { json: { ok: true, changed, rsync: r }, text: `Rsync target ${changed ? 'set to' : 'already'} ${r.user}@${r.host}:${r.port}${r.path}` };
  },

  async 'rsync clear'(ctx) {
    const { changed } = await ctx.store.mutate((c) => {
      if (!c.rsync) return false;
      if (c.backup.destination.mode === 'rsync') throw new OrbitError('conflict', 'rsync is the active backup destination');
      c.rsync = null;
      return true;
    });
    return { json: { ok: true, changed }, text: `Rsync target ${changed ? 'cleared' : 'already empty'}` };
  },

  async 'rsync test'(ctx) {
    const cfg = ctx.store.read();
    if (!cfg.rsync) {
      return { json: { ok: true, reachable: false, error: 'no rsync target is set', durationMs: 0 }, text: 'No rsync target is set' };
    }
    const dest = { kind: 'rsync', target: cfg.rsync, url: rsyncDest(cfg.rsync) };
    const r = await probe(ctx.root, cfg, dest, { writeTest: false });
    const json = r.ok ? { ok: true, reachable: true, durationMs: r.durationMs } : { ok: true, reachable: false, error: r.error, durationMs: r.durationMs };
    return { json, text: r.ok ? `${dest.url} is reachable (${r.durationMs} ms)` : `${dest.url} is NOT reachable: ${r.error}` };
  },

  async 'root-key show'(ctx) {
    const key = rootKeyView(ctx.root);
    if (!key) throw new OrbitError('internal', `${rootKeyPath(ctx.root)} does not exist`);
    return { json: { ok: true, ...key }, text: key.publicKey };
  },
};

// ---------------------------------------------------------------- main

function audit(root, entry) {
  if (!root) return;
  try {
    fs.mkdirSync(path.join(root, 'log'), { recursive: true, mode: 0o750 });
    fs.appendFileSync(path.join(root, 'log', 'orbit-audit.log'), JSON.stringify(entry) + '\n', { mode: 0o640 });
  } catch { /* the audit log must never break the call */ }
}

async function main() {
  const argv = process.argv.slice(2);
  // As the vendor documents: orbit refuses to run without root. Only the privileged lab
  // (its allowlist exists) has a root to refuse; the unprivileged one runs as its user.
  if (process.geteuid() !== 0 && fs.existsSync(ALLOWLIST)) {
    process.stdout.write(`${require('./orbit-vendor.js').NOT_ROOT}\n`);
    process.exitCode = 1;
    return;
  }
  const json = argv.includes('--json');
  let root = null;
  let parsed = null;
  let exitCode = 0;
  let errCode;
  try {
    root = resolveRoot();
    const vendor = require('./orbit-vendor.js');
    if (fs.existsSync(path.join(root, vendor.VENDOR_MARKER))) {
      // Vendor mode (docs/lab.md): the documented text-only CLI, and nothing of the contract.
      try {
        process.exitCode = await vendor.vendorMain(argv, root, { run, privateTmp, ensureRecordings, audit, probe, transfer });
      } catch (e) {
        process.stderr.write(`orbit: ${e && e.message ? e.message : String(e)}\n`);
        audit(root, { time: new Date().toISOString(), mode: 'vendor', argv: ['<failed>'], exit: 1, error: String(e && e.message) });
        process.exitCode = 1;
      }
      return;
    }
    parsed = parseArgs(argv);
    let lockTimeoutSec = 10;
    if (parsed.flags['--lock-timeout-sec'] !== undefined) {
      const v = parsed.flags['--lock-timeout-sec'];
      if (!/^\d+(\.\d+)?$/.test(v) || +v > 3600) throw invalid('lockTimeoutSec', '--lock-timeout-sec must be a number of seconds from 0 to 3600');
      lockTimeoutSec = +v;
    }
    const store = new Store(root, lockTimeoutSec);
    if (!fs.existsSync(store.conf)) await store.mutate(() => true); // first call: write the defaults
    const out = await handlers[parsed.cmd]({ root, store, json }, parsed.flags, parsed.arg);
    process.stdout.write(json ? JSON.stringify(out.json) + '\n' : out.text + '\n');
  } catch (e) {
    const err = e instanceof OrbitError ? e : new OrbitError('internal', e && e.message ? e.message : String(e));
    exitCode = EXIT[err.code] || 1;
    errCode = err.code;
    const error = { code: err.code, message: err.message };
    if (err.field) error.field = err.field;
    if (json) process.stdout.write(JSON.stringify({ ok: false, error }) + '\n');
    process.stderr.write(`orbit: ${err.message}${err.field ? ` (field ${err.field})` : ''}\n`);
  }
  let user = process.env.SUDO_USER;
  if (!user) {
    try { user = os.userInfo().username; } catch { user = String(process.getuid()); }
  }
  audit(root, {
    time: new Date().toISOString(),
    user,
    uid: process.getuid(),
    argv: parsed ? argv : redactedArgv(argv),
    exit: exitCode,
    ...(errCode ? { code: errCode } : {}),
  });
  process.exitCode = exitCode;
}

// The lab helpers (lab/age-backup, lab/notify-lost) reuse the layout, the lock and the
// NFS client rather than copying them.
if (require.main === module) {
  main();
} else {
  module.exports = { LAYOUT, ENVELOPE, Store, ensureRecordings, OrbitError, layoutPath, destinationOf, notify, nfsMkdirs, nfsRemove, nfsCopy, nfsWriteFile, fileDigest, recentEvents, CONTRACT_1_MARKER };
}
