// The Ansible peer's pure half (bench/peers/ansible.ts, reset.ts, proc-tree.ts): the
// inventory, known_hosts and ansible.cfg it writes, reading ansible-playbook's JSON
// output, the task -> drift case mapping, the scratch state's orbit commands and the
// process-tree arithmetic. No lab and no ansible: bench/peers/ansible/trial.ts runs the real thing.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
    BACKUP_SERVER_HOST, CASE_TASKS, KEY_TASK, MODE_TASK, PLAYBOOK, READ_TASK, changedCount, changesElsewhere, detectedCases, knownHostsLine,
    parseAnsibleJson, renderAnsibleCfg, renderInventory, renderKnownHosts,
} from "../../../../bench/peers/ansible";
import { parseStat, treeOf } from "../../../../bench/peers/proc-tree";
import { SCRATCH_HOUR, scratchCommands, withoutKeys } from "../../../../bench/peers/reset";
import { labFixture } from "../../../support/lab-fixture";
import { DRIFT_CASES, type PeerLab, keyOptions } from "../../../../bench/peers/spec";

const KEY0 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCkey0 root@appliance-0";
const KEY1 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCkey1 root@appliance-1";
const BLOB0 = KEY0.split(" ")[1];

function lab(n = 2): PeerLab {
    return labFixture(n, (i) => i === 0 ? KEY0 : i === 1 ? KEY1 : `ssh-rsa AAAAkey${i} root@appliance-${i}`);
}

describe("bench/peers/ansible: the work directory", () => {
    it("pins every host key in known_hosts, bracketed with the port", () => {
        assert.equal(renderKnownHosts(lab(2), 2), [
            "[127.0.0.1]:59022 ssh-ed25519 AAAAC3host0",
            "[127.0.0.1]:59023 ssh-ed25519 AAAAC3host1",
            "[127.0.0.1]:2222 ssh-ed25519 AAAAC3server",
            "",
        ].join("\n"));
        assert.equal(renderKnownHosts(lab(2), 1).split("\n").length, 3, "only the first n appliances, and the server");
        assert.equal(knownHostsLine("backup.example", 22, " ssh-ed25519 AAAA \n"), "backup.example ssh-ed25519 AAAA");
    });

    it("writes the inventory: the first n appliances, appliance 0 with both partitions, the backup server, the desired values", () => {
        assert.equal(renderInventory(lab(3), 2), `# Written by bench/peers/ansible.ts for 2 lab appliance(s); the desired values come from bench/peers/spec.ts.
all:
  vars:
    ansible_python_interpreter: "/usr/bin/python3"
    orbit_path: "/usr/local/bin/orbit"
    desired_rsync:
      user: "senhauser"
      host: "127.0.0.1"
      port: 2222
      path: "/files/backup/senhasegura"
    desired_hour: 5
    backup_user: "senhauser"
    backup_path: "/files/backup/senhasegura"
    authorized_keys_path: "/lab/home/senhauser/.ssh/authorized_keys"
  children:
    appliances:
      hosts:
        appliance-0:
          ansible_host: "127.0.0.1"
          ansible_port: 59022
          ansible_user: "mt4adm"
          ansible_ssh_private_key_file: "/lab/keys/mt4adm_ed25519"
          cifs_partition:
            id: "peer-cifs"
            host: "127.0.0.1"
            port: 4450
            path: "/backup"
            user: "senhabkp"
            password_file: "/lab/secrets/cifs-password"
          nfs_partition:
            id: "peer-nfs"
            host: "127.0.0.1"
            port: 20490
            path: "/senhasegura"
        appliance-1:
          ansible_host: "127.0.0.1"
          ansible_port: 59023
          ansible_user: "mt4adm"
          ansible_ssh_private_key_file: "/lab/keys/mt4adm_ed25519"
    backup_server:
      hosts:
        ${BACKUP_SERVER_HOST}:
          ansible_host: "127.0.0.1"
          ansible_port: 2222
          ansible_user: "bkpadmin"
          ansible_ssh_private_key_file: "/lab/keys/bkpadmin_ed25519"
`);
    });

    it("refuses a fleet larger than the lab, naming the fix", () => {
        assert.throws(() => renderInventory(lab(1), 5), /lab\/start --appliances 5/);
    });

    it("writes ansible.cfg: forks 8, pipelining, ControlPersist, pinned host keys, the JSON callback, no fact gathering", () => {
        const cfg = renderAnsibleCfg("/tmp/ssb-ansible");
        for (const line of [
            "inventory = /tmp/ssb-ansible/inventory.yml", "forks = 8", "host_key_checking = True", "gathering = explicit",
            "stdout_callback = ansible.posix.json", "pipelining = True", "control_path_dir = /tmp/ssb-ansible/cp",
            "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/tmp/ssb-ansible/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes",
        ]) assert.ok(cfg.split("\n").includes(line), `ansible.cfg has ${JSON.stringify(line)}`);
        assert.doesNotMatch(cfg, /host_key_checking\s*=\s*False|StrictHostKeyChecking=no/i);
    });

    it("refuses a work directory too long for ssh's control sockets", () => {
        assert.throws(() => renderAnsibleCfg(`/tmp/${"x".repeat(80)}`), /too long for ssh's control sockets.*at most 66 bytes/);
    });
});

describe("bench/peers/ansible: site.yml and the drift cases", () => {
    const site = fs.readFileSync(PLAYBOOK, "utf8");
    const taskNames = [...site.matchAll(/^\s+- name: (.+)$/gm)].map((m) => m[1].replace(/^"(.*)"$/, "$1"));

    it("has a task for every case of spec.ts, and each mapped task exists in site.yml", () => {
        assert.deepEqual(Object.keys(CASE_TASKS).sort(), DRIFT_CASES.map((c) => c.id).sort());
        for (const [id, c] of Object.entries(CASE_TASKS)) assert.ok(taskNames.includes(c.task), `${id}: task ${JSON.stringify(c.task)} is in site.yml`);
        for (const t of [READ_TASK, KEY_TASK, MODE_TASK]) assert.ok(taskNames.includes(t), t);
    });

    it("keeps secrets out of argv and output: every task that reads one is no_log and feeds it on stdin", () => {
        const blocks = site.split(/\n(?=\s+- name: )/);
        const secretTasks = blocks.filter((b) => /master_password }}|lookup\('ansible\.builtin\.file'/.test(b) && /ansible\.builtin\.command/.test(b));
        assert.equal(secretTasks.length, 3, "CIFS add, CIFS update, secrets enable");
        for (const block of secretTasks) {
            assert.match(block, /no_log: true/, block.split("\n")[0]);
            assert.match(block, /stdin: /, block.split("\n")[0]);
            assert.doesNotMatch(block.slice(block.indexOf("argv:"), block.indexOf("stdin:")), /\{\{[^}]*(password|lookup)[^}]*\}\}/, "no secret in argv");
        }
        assert.match(site, /gather_facts: false[\s\S]*gather_facts: false/, "both plays skip facts");
        assert.match(site, /check_mode: false/, "the read runs under --check");
        assert.match(site, /exclusive: false/);
        assert.match(site, /key_options: 'restrict,command="rrsync -wo -no-lock -absolute \{\{ backup_path \}\}"'/);
        assert.equal(`restrict,command="rrsync -wo -no-lock -absolute /b"`, keyOptions("/b"), "the same options as spec.ts (and the provider)");
    });
});

/** A minimal document in the shape of the ansible.posix.json callback. */
function doc(tasks: Array<{ name: string; hosts: Record<string, any> }>, stats: Record<string, any> = {}): string {
    return JSON.stringify({ custom_stats: {}, global_custom_stats: {}, plays: [{ play: { name: "p" }, tasks: tasks.map((t) => ({ task: { name: t.name }, hosts: t.hosts })) }], stats });
}
const read = (key: string) => ({ changed: false, stdout: JSON.stringify({ ok: true, rootKey: { publicKey: key } }) });
const ok = { changed: 0, failures: 0, ok: 2, skipped: 1, unreachable: 0 };
const OPTIONS = keyOptions("/files/backup/senhasegura");

describe("bench/peers/ansible: reading ansible-playbook's JSON", () => {
    it("lists the changed tasks per host, and skipped ones not at all", () => {
        const out = parseAnsibleJson(doc([
            { name: READ_TASK, hosts: { "appliance-0": read(KEY0), "appliance-1": read(KEY1) } },
            { name: "backup hour: set", hosts: { "appliance-0": { changed: true, msg: "Command would have run if not in check mode" }, "appliance-1": { changed: false, skipped: true, skip_reason: "Conditional result was False" } } },
            { name: "looped", hosts: { "appliance-1": { changed: false, results: [{ changed: false }, { changed: true }] } } },
        ], { "appliance-0": ok, "appliance-1": ok }));
        assert.deepEqual(out.changedByHost, { "appliance-0": ["backup hour: set"], "appliance-1": ["looped"] });
        assert.deepEqual(out.failedHosts, []);
        assert.equal(changedCount(out), 2);
    });

    it("names failed and unreachable hosts with their first error", () => {
        const out = parseAnsibleJson(`[WARNING]: noise before the document\n${doc([
            { name: READ_TASK, hosts: { "appliance-0": { unreachable: true, msg: "Failed to connect to the host via ssh: Host key verification failed.\n" }, "appliance-1": read(KEY1) } },
            { name: "rsync target: set", hosts: { "appliance-1": { failed: true, changed: true, msg: "non-zero return code" } } },
        ], { "appliance-0": { ...ok, unreachable: 1 }, "appliance-1": { ...ok, failures: 1 } })}`);
        assert.deepEqual(out.failedHosts, ["appliance-0", "appliance-1"]);
        assert.deepEqual(out.errors, { "appliance-0": `${READ_TASK}: Failed to connect to the host via ssh: Host key verification failed.`, "appliance-1": "rsync target: set: non-zero return code" });
    });

    it("refuses output without a JSON document, saying which callback it expects", () => {
        assert.throws(() => parseAnsibleJson("PLAY [x] ****"), /stdout_callback = ansible\.posix\.json/);
    });

    it("tells options changed from a key added, from the authorized_key diff and each appliance's own key", () => {
        const keyTask = (before: string, after: string) => ({ name: KEY_TASK, hosts: { [BACKUP_SERVER_HOST]: { changed: true, diff: { before, after } } } });
        const reads = { name: READ_TASK, hosts: { "appliance-0": read(KEY0), "appliance-1": read(KEY1) } };
        const other = "ssh-ed25519 AAAAother someone@else\n";
        const both = `${other}${OPTIONS} ${KEY0}\n${OPTIONS} ${KEY1}\n`;
        assert.deepEqual(parseAnsibleJson(doc([reads, keyTask(`${other}no-pty ${KEY0}\n${OPTIONS} ${KEY1}\n`, both)])).keyChanges, { "appliance-0": "options" });
        assert.deepEqual(parseAnsibleJson(doc([reads, keyTask(`${other}${OPTIONS} ${KEY1}\n`, both)])).keyChanges, { "appliance-0": "added" });
        assert.deepEqual(parseAnsibleJson(doc([reads, keyTask(other, both)])).keyChanges, { "appliance-0": "added", "appliance-1": "added" });
        assert.deepEqual(parseAnsibleJson(doc([reads, { name: KEY_TASK, hosts: { [BACKUP_SERVER_HOST]: { changed: true } } }])).keyChanges, {}, "no diff (a run without --diff): nothing to tell");
    });
});

describe("bench/peers/ansible: detectedCases", () => {
    const base = { driftTarget: "appliance-0", backupServer: BACKUP_SERVER_HOST, keyChanges: {} as Record<string, "options" | "added"> };

    it("maps round 1's seven changed tasks to the seven cases, in spec.ts's order", () => {
        const run = {
            ...base, keyChanges: { "appliance-0": "options" as const },
            changedByHost: {
                "appliance-0": ["rsync target: set", "CIFS partition: mount", "NFS partition: add", "backup kind video: enable", "backup hour: set"],
                [BACKUP_SERVER_HOST]: [KEY_TASK, MODE_TASK],
            },
        };
        assert.deepEqual(detectedCases(run), ["key-options", "key-mode", "nfs-removed", "cifs-unmounted", "rsync-path", "video-off", "hour"]);
    });

    it("maps round 2's re-added key to key-removed only", () => {
        assert.deepEqual(detectedCases({ ...base, keyChanges: { "appliance-0": "added" }, changedByHost: { [BACKUP_SERVER_HOST]: [KEY_TASK] } }), ["key-removed"]);
    });

    it("counts nothing on other hosts, nothing for an unexplained key change, nothing on a no-op", () => {
        assert.deepEqual(detectedCases({ ...base, changedByHost: {} }), []);
        assert.deepEqual(detectedCases({ ...base, changedByHost: { "appliance-1": ["backup hour: set", "NFS partition: add"] } }), []);
        assert.deepEqual(detectedCases({ ...base, keyChanges: { "appliance-1": "added" }, changedByHost: { [BACKUP_SERVER_HOST]: [KEY_TASK] } }), []);
        assert.deepEqual(changesElsewhere({ ...base, changedByHost: { "appliance-0": ["x"], "appliance-1": ["y"], [BACKUP_SERVER_HOST]: ["z"] } }), { "appliance-1": ["y"] });
    });
});

describe("bench/peers/reset: the scratch state", () => {
    it("runs nothing on an appliance already at scratch", () => {
        assert.deepEqual(scratchCommands({
            backup: { system: false, secrets: false, video: false, hour: SCRATCH_HOUR, destination: { mode: "none" }, notifications: { email: false, siem: false } },
            partitions: [{ id: "someone-elses" }], rsync: null,
        }), []);
    });

    it("clears the destination first, then the peers' partitions and the rsync target, then the policy", () => {
        assert.deepEqual(scratchCommands({
            backup: { system: true, secrets: true, video: true, hour: 5, destination: { mode: "rsync" }, notifications: { email: true, siem: false } },
            partitions: [{ id: "peer-nfs" }, { id: "peer-cifs" }, { id: "other" }], rsync: { user: "u" },
        }).map((c) => c.join(" ")), [
            "backup destination none", "partition remove --id peer-cifs", "partition remove --id peer-nfs", "rsync clear",
            "backup kind disable system", "backup kind disable video", "backup kind disable secrets",
            `backup time --hour ${SCRATCH_HOUR}`, "backup notify --email off --siem off",
        ]);
    });

    it("removes only the lines of the given keys from authorized_keys", () => {
        const text = `# comment\n${OPTIONS} ${KEY0}\nssh-ed25519 AAAAother x\nno-pty ${KEY1}\n`;
        assert.equal(withoutKeys(text, [KEY0, KEY1]), "# comment\nssh-ed25519 AAAAother x\n");
        assert.equal(withoutKeys(text, [`ssh-rsa ${BLOB0}`]), `# comment\nssh-ed25519 AAAAother x\nno-pty ${KEY1}\n`);
    });
});

describe("bench/peers/proc-tree: the process tree", () => {
    it("reads ppid and a command name with spaces and parentheses from /proc/<pid>/stat", () => {
        assert.deepEqual(parseStat("4242 (ansible-playbook) S 100 4242 100 0 -1"), { ppid: 100, comm: "ansible-playbook" });
        assert.deepEqual(parseStat("77 (a (b) c) R 4242 77 77 0"), { ppid: 4242, comm: "a (b) c" });
        assert.equal(parseStat("garbage"), undefined);
    });

    it("takes the root's descendants and the marked processes, not the rest", () => {
        const parents = new Map([[1, 0], [10, 1], [11, 10], [12, 11], [13, 10], [20, 1], [21, 20], [30, 1]]);
        assert.deepEqual([...treeOf(10, parents)].sort((a, b) => a - b), [10, 11, 12, 13]);
        assert.deepEqual([...treeOf(10, parents, [30, 99])].sort((a, b) => a - b), [10, 11, 12, 13, 30], "a marked process that is gone is skipped");
        assert.deepEqual([...treeOf(5, parents)], [], "a root that exited");
    });
});

describe("bench/peers/ansible: the playbook's path", () => {
    it("is the committed site.yml beside ansible.ts", () => {
        assert.equal(PLAYBOOK, path.join(__dirname, "..", "..", "..", "..", "bench", "peers", "ansible", "site.yml"));
    });
});
