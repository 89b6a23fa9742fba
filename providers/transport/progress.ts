// Progress and diagnostics from inside the dynamic-provider process.
//
// @pulumi/pulumi does not connect that process's log calls to the engine (its
// runtime settings are only set up for the program), so pulumi.log there falls
// back to stdout, which the engine hides. The engine's address is the process's
// first argument; we talk to it directly so retries and long steps show up in
// `pulumi up` as they happen.
import { appendFileSync } from "fs";

type EngineLogClient = { log(req: unknown, cb: (err: unknown) => void): void };

let engine: EngineLogClient | null | undefined;
let LogRequest: (new () => any) | undefined;
let Severity: Record<string, number> | undefined;

function engineClient(): EngineLogClient | null {
    if (engine !== undefined) return engine;
    engine = null;
    const inProviderHost = /dynamic-provider/.test(process.argv[1] ?? "");
    const address = process.env.PULUMI_NODEJS_ENGINE || (inProviderHost ? process.argv[2] : undefined);
    if (!address) return engine;
    try {
        // grpc-js is resolved from @pulumi/pulumi's own directory, not declared by this
        // package: the client stubs below are the SDK's and require its copy, and
        // credentials from a second copy would fail their instanceof check.
        const sdkDirectory = require("path").dirname(require.resolve("@pulumi/pulumi/package.json"));
        const grpc = require(require.resolve("@grpc/grpc-js", { paths: [sdkDirectory] }));
        const rpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
        const proto = require("@pulumi/pulumi/proto/engine_pb");
        LogRequest = proto.LogRequest;
        Severity = proto.LogSeverity;
        engine = new rpc.EngineClient(address, grpc.credentials.createInsecure()) as EngineLogClient;
    } catch {
        engine = null;
    }
    return engine;
}

function send(severity: "INFO" | "WARNING", message: string, ephemeral: boolean): void {
    const logFile = process.env.SSB_PROVIDER_LOG;
    if (logFile) {
        try { appendFileSync(logFile, `${new Date().toISOString()} ${severity} ${message}\n`); } catch { /* diagnostics must never fail an operation */ }
    }
    const client = engineClient();
    if (!client || !LogRequest || !Severity) {
        if (process.env.SSB_PROVIDER_STDERR === "1") process.stderr.write(`${severity.toLowerCase()}: ${message}\n`);
        return;
    }
    const req = new LogRequest();
    req.setSeverity(Severity[severity]);
    req.setMessage(message);
    req.setEphemeral(ephemeral);
    client.log(req, () => { /* a lost progress line is not worth failing for */ });
}

/** A status line for long work; shown while it runs. */
export function progress(message: string): void { send("INFO", message, true); }
/** Kept in the run's diagnostics. */
export function info(message: string): void { send("INFO", message, false); }
export function warn(message: string): void { send("WARNING", message, false); }
