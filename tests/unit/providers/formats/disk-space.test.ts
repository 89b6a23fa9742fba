// The free-space answers of df, smbclient and nfs-ls (providers/formats/disk-space.ts),
// on the tools' real output as this machine's versions print it.
import { strict as assert } from "assert";
import { formatBytes, parseDfPortable, parseNfsSummary, parseSmbDu } from "../../../../providers/formats/disk-space";

describe("providers/formats/disk-space.ts", () => {
    it("df -P -k: the figures read from the right, so a filesystem name with spaces does not shift them", () => {
        const text = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/sda1        264212084 184905932  79306152      70% /var\n";
        assert.deepEqual(parseDfPortable(text), { totalBytes: 264212084 * 1024, freeBytes: 79306152 * 1024 });
        const spaced = "Filesystem 1024-blocks Used Available Capacity Mounted on\nmy share:/x 4096 0 4096 0% /srv/backup\n";
        assert.deepEqual(parseDfPortable(spaced), { totalBytes: 4096 * 1024, freeBytes: 4096 * 1024 });
    });

    it("df: another header, a missing figure line or a human-readable size is refused with the reason", () => {
        assert.match(parseDfPortable("Filesystem Size Used Avail Use% Mounted on\n/dev/sda1 252G 177G 76G 70% /\n") as string, /not `df -P -k` output/);
        assert.match(parseDfPortable("Filesystem 1024-blocks Used Available Capacity Mounted on\n") as string, /not `df -P -k` output/);
        assert.match(parseDfPortable("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1G 2 3 4% /\n") as string, /line of figures/);
    });

    it("smbclient du and nfs-ls -s: total and free in bytes", () => {
        assert.deepEqual(parseSmbDu("\n\t\t264212084 blocks of size 1024. 79306152 blocks available\nTotal number of bytes: 56\n"), { totalBytes: 264212084 * 1024, freeBytes: 79306152 * 1024 });
        assert.deepEqual(parseNfsSummary("drwxr-xr-x  5 65534 65534         4096 backup\n\n253969403904 of 270553174016 bytes free.\n"), { totalBytes: 270553174016, freeBytes: 253969403904 });
        assert.match(parseSmbDu("NT_STATUS_ACCESS_DENIED") as string, /not smbclient's `du` answer/);
        assert.match(parseNfsSummary("drwxr-xr-x  5 65534 65534 4096 backup\n") as string, /not `nfs-ls -s`'s summary/);
    });

    it("formatBytes: one decimal in the largest binary unit", () => {
        assert.deepEqual([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(3 * 2 ** 30)], ["0 B", "1023 B", "1.5 KiB", "3.0 GiB"]);
    });
});
