// providers/transport/far-side.ts without a lab: the listing parsers on the clients' real output,
// and the CIFS and NFS paths against stand-in smbclient, nfs-cat and nfs-ls scripts
// that serve a fixture directory and record how they were called (argv, environment,
// the auth file). The rsync server's path runs in tests/e2e/checksums.test.ts.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FarSide, describeSide, digestFiles, listEntries, listFiles, parseFindEntries, parseNfsListing, parseSmbListing, readFile, spaceOf, streamFile } from "../../../../providers/transport/far-side";

const PASSWORD = "Far-side-pw.7q";
const ENV_MARK = "SSB_FAR_SIDE_TEST_MARK";

let root: string;
let fixture: string;
let log: string;
let savedPath: string | undefined;

function sha256(data: Buffer | string): string {
    return createHash("sha256").update(data).digest("hex");
}

function script(name: string, body: string): void {
    fs.writeFileSync(path.join(root, "bin", name), `#!/bin/sh\nD='${fixture}'\nL='${log}'\n${body}`, { mode: 0o755 });
}

// Inside one describe: hooks at a file's top level would be root hooks, and put the
// stand-ins on PATH for every other test of the run.
describe("providers/transport/far-side.ts", () => {
    before(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-far-side-"));
        fixture = path.join(root, "share");
        log = path.join(root, "log");
        fs.mkdirSync(path.join(root, "bin"));
        fs.mkdirSync(path.join(fixture, "sub/backup/db/x"), { recursive: true });
        fs.writeFileSync(path.join(fixture, "sub/backup/db/a.bin"), Buffer.alloc(300_000, 7));
        fs.writeFileSync(path.join(fixture, "sub/backup/db/b.bin"), "bee");
        fs.mkdirSync(log);
        // smbclient //host/share -p P -A AUTH -t 10 -c CMD; the share's path here is /share/sub.
        script("smbclient", `
    for a; do printf '%s\\n' "$a" >> "$L/smb.argv"; done
    env >> "$L/smb.env"
    stat -c %a "$5" >> "$L/smb.mode"; cat "$5" >> "$L/smb.auth"; printf '%s\\n' "$5" >> "$L/smb.authpath"
    for c; do :; done
    case "$c" in
      'get "'*) f=\${c#get \\"}; f=\${f%\\" -}
        if [ -d "$D/$f" ]; then echo "NT_STATUS_FILE_IS_A_DIRECTORY opening remote file \\\\$f"; exit 1; fi
        if [ -f "$D/$f" ]; then cat "$D/$f"; echo "getting file $f" >&2; exit 0; fi
        echo "NT_STATUS_OBJECT_NAME_NOT_FOUND opening remote file \\\\$f"; exit 1;;
      'ls "'*) d=\${c#ls \\"}; d=\${d%/\\*\\"}
        [ -d "$D/$d" ] || { echo "NT_STATUS_OBJECT_NAME_NOT_FOUND listing \\\\$d\\\\*"; exit 1; }
        printf '  .                                   D        0  Tue Dec  1 00:48:10 2026\\n'
        for f in "$D/$d"/*; do n=\${f##*/}; if [ -d "$f" ]; then a=D; else a=A; fi
          printf '  %-35s %s %8d  Tue Dec  1 00:48:10 2026\\n' "$n" "$a" 1; done
        printf '\\n\\t\\t264212084 blocks of size 1024. 74800044 blocks available\\n';;
      du) printf '\\n\\t\\t1000 blocks of size 65536. 250 blocks available\\nTotal number of bytes: 56\\n';;
    esac
    `);
        // nfs-cat nfs://host/exp/<file>?version=4&nfsport=P
        script("nfs-cat", `
    env >> "$L/nfs.env"
    f=\${1#nfs://*/exp/}; f=\${f%%\\?*}
    if [ -d "$D/$f" ]; then echo "open call failed with NFS4ERR_ISDIR(-21)" >&2; exit 10; fi
    [ -f "$D/$f" ] || { echo "Failed to open file: NFS4: (path /) failed with NFS4ERR_NOENT(-2)" >&2; exit 10; }
    exec cat "$D/$f"
    `);
        script("nfs-ls", `
    if [ "$1" = -s ]; then printf 'drwxr-xr-x  5 65534 65534  4096 backup\\n\\n1500 of 9000 bytes free.\\n'; exit 0; fi
    d=\${1#nfs://*/exp/}; d=\${d%%\\?*}
    [ -d "$D/$d" ] || { echo "Failed to mount nfs share : NFS4ERR_NOENT(-2)" >&2; exit 254; }
    for f in "$D/$d"/*; do n=\${f##*/}; if [ -d "$f" ]; then m=drwxr-xr-x; else m=-rw-r--r--; fi
      printf '%s  1 65534 65534         4096 %s\\n' "$m" "$n"; done
    `);
        savedPath = process.env.PATH;
        process.env.PATH = `${path.join(root, "bin")}:${savedPath}`;
        process.env[ENV_MARK] = "must-not-reach-a-child";
    });

    after(() => {
        process.env.PATH = savedPath;
        delete process.env[ENV_MARK];
        fs.rmSync(root, { recursive: true, force: true });
    });

    const cifs = FarSide.parse({ type: "cifs", host: "files.example.com", port: 4450, path: "/share/sub", user: "senhabkp", password: PASSWORD });
    const nfs = FarSide.parse({ type: "nfs", host: "nfs.example.com", port: 20490, path: "/exp/sub" });

    describe("the far side's listing parsers", () => {
        it("smbclient ls: regular files only, names with spaces kept, . .. and directories left out", () => {
            const text = [
                "  .                                   D        0  Tue Dec  1 00:48:10 2026",
                "  ..                                  D        0  Tue Dec  1 00:58:02 2026",
                "  system.tar.gz                       A      452  Tue Dec  1 00:48:10 2026",
                "  20261201T004810Z-bb69               D        0  Tue Dec  1 00:48:10 2026",
                "  a name with  spaces.enc             AH   12345  Wed Jan  7 09:05:01 2026",
                "  plain                               N        0  Sun Nov 30 23:59:59 2025",
                "",
                "\t\t264212084 blocks of size 1024. 74800044 blocks available",
            ].join("\n");
            assert.deepEqual(parseSmbListing(text), [
                { file: "a name with  spaces.enc", size: 12345, modifiedAt: "2026-01-07T09:05:01.000Z" },
                { file: "plain", size: 0, modifiedAt: "2025-11-30T23:59:59.000Z" },
                { file: "system.tar.gz", size: 452, modifiedAt: "2026-12-01T00:48:10.000Z" },
            ]);
        });

        it("nfs-ls: regular files only", () => {
            const text = "drwxr-xr-x  2 65534 65534         4096 20261201T004818Z-8b4c\n-rw-r--r--  1 0 0          452 system.tar.gz\nlrwxrwxrwx  1 0 0 4 link\n";
            assert.deepEqual(parseNfsListing(text), [{ file: "system.tar.gz", size: 452 }]);
        });

        it("find -printf: size, time and a name that may hold spaces or a newline; other records dropped", () => {
            const text = "12 1765100000.1234567890 b file\0" + "3 1765000000 a\nname\0" + "garbage\0";
            assert.deepEqual(parseFindEntries(text), [
                { file: "a\nname", size: 3, modifiedAt: "2025-12-06T05:46:40.000Z" },
                { file: "b file", size: 12, modifiedAt: "2025-12-07T09:33:20.000Z" },
            ]);
        });
    });

    describe("the far side over CIFS and NFS (stand-in clients)", () => {
        const a = "backup/db/a.bin";
        const b = "backup/db/b.bin";

        for (const side of [cifs, nfs]) {
            it(`${side.type}: digests stream the content into a hash here; a missing file is undefined; progress per file`, async () => {
                const seen: Array<[number, number]> = [];
                const found = await digestFiles(side, [a, "backup/db/gone.bin", b], (done, total) => seen.push([done, total]));
                assert.deepEqual(found.get(a), { size: 300_000, sha256: sha256(Buffer.alloc(300_000, 7)) });
                assert.deepEqual(found.get(b), { size: 3, sha256: sha256("bee") });
                assert.ok(found.has("backup/db/gone.bin") && found.get("backup/db/gone.bin") === undefined);
                assert.deepEqual(seen, [[1, 3], [2, 3], [3, 3]]);
            });

            it(`${side.type}: lists the regular files directly in a directory, [] for a directory that is not there`, async () => {
                assert.deepEqual(await listFiles(side, "backup/db"), [a, b]);
                assert.deepEqual(await listFiles(side, "backup/none"), []);
                const entries = await listEntries(side, "backup/db");
                assert.deepEqual(entries.map((e) => e.file), [a, b]);
                // The stand-ins print fixed sizes; CIFS shows a time (here in UTC), NFS none.
                assert.deepEqual(entries.map((e) => e.modifiedAt), side.type === "cifs" ? ["2026-12-01T00:48:10.000Z", "2026-12-01T00:48:10.000Z"] : [undefined, undefined]);
            });

            it(`${side.type}: reads the free space of the share or export`, async () => {
                assert.deepEqual(await spaceOf(side), side.type === "cifs" ? { totalBytes: 65_536_000, freeBytes: 16_384_000 } : { totalBytes: 9000, freeBytes: 1500 });
            });

            it(`${side.type}: streamFile and readFile name the file and the side when it is missing or not a file`, async () => {
                await assert.rejects(streamFile(side, "backup/db/gone.bin", () => undefined), (err: Error) => {
                    assert.match(err.message, new RegExp(`^read backup/db/gone\\.bin on ${describeSide(side).replace(/[.]/g, "\\.")} failed: the file is not there`));
                    return true;
                });
                await assert.rejects(digestFiles(side, ["backup/db/x"]), /read backup\/db\/x on .* failed: it is not a regular file/);
                assert.equal((await readFile(side, b, 3)).toString(), "bee");
                await assert.rejects(readFile(side, a, 1000), /backup\/db\/a\.bin is larger than the 1000 bytes it may be read into memory/);
            });

            it(`${side.type}: refuses a path outside the destination before running anything`, async () => {
                for (const bad of ["../etc/shadow", "/etc/shadow", "a/../../b", "a b", "x;rm -rf y", 'q"uote']) {
                    await assert.rejects(digestFiles(side, [bad]), /must (be a relative path|not contain a '\.\.' segment)/);
                    await assert.rejects(streamFile(side, bad, () => undefined), /failed: the file name/);
                }
            });
        }

        it("cifs: the password is only in a 0600 auth file that is gone afterwards; argv and the children's environment hold neither it nor this process's environment", async () => {
            await digestFiles(cifs, [a]);
            const argv = fs.readFileSync(path.join(log, "smb.argv"), "utf8");
            assert.ok(!argv.includes(PASSWORD), "the password is not on argv");
            assert.match(argv, /^\/\/files\.example\.com\/share\n-p\n4450\n-A\n/);
            assert.match(argv, /-c\nget "sub\/backup\/db\/a\.bin" -\n/);
            assert.ok(fs.readFileSync(path.join(log, "smb.mode"), "utf8").split("\n").filter(Boolean).every((m) => m === "600"));
            assert.match(fs.readFileSync(path.join(log, "smb.auth"), "utf8"), new RegExp(`^username = senhabkp\npassword = ${PASSWORD}\n`));
            for (const file of fs.readFileSync(path.join(log, "smb.authpath"), "utf8").split("\n").filter(Boolean)) {
                assert.ok(!fs.existsSync(path.dirname(file)), `${path.dirname(file)} is removed`);
            }
            for (const env of ["smb.env", "nfs.env"]) {
                const text = fs.readFileSync(path.join(log, env), "utf8");
                assert.ok(!text.includes(ENV_MARK) && !text.includes(PASSWORD), `${env} holds nothing of this process's environment`);
            }
        });

        it("a throw from the callback stops the transfer and is what streamFile rejects with", async () => {
            for (const side of [cifs, nfs]) {
                let chunks = 0;
                await assert.rejects(streamFile(side, a, () => { chunks++; throw new Error("enough"); }), /^Error: enough$/);
                assert.equal(chunks, 1);
            }
        });
    });
});
