// A lab key file's contents as a Pulumi secret, read once per file: what a program
// of remote.Commands passes as connection.privateKey (it takes the key, not a file),
// encrypted in state and never shown. Shared by the baseline and the command peer.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";

const keys = new Map<string, pulumi.Output<string>>();

export function labKeySecret(file: string): pulumi.Output<string> {
    let key = keys.get(file);
    if (!key) {
        let text: string;
        try {
            text = fs.readFileSync(file, "utf8");
        } catch (err) {
            throw new Error(`cannot read the lab key file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}; run the benchmark as root, like the lab (bash lab/start writes the keys)`);
        }
        key = pulumi.secret(text);
        keys.set(file, key);
    }
    return key;
}
