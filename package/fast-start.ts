// `senhasegura-backup/fast-start`: load it before @pulumi/pulumi, with node's
// --require (Pulumi.yaml: runtime.options.nodeargs), and a program starts about
// 0.6 s sooner.
//
// Why: @pulumi/pulumi loads, at start-up, the code that serializes JavaScript
// closures (pulumi.runtime.serializeFunction), and with it @npmcli/arborist (with
// pacote and sigstore) and the TypeScript compiler: about 0.6 s of the SDK's 0.9 s
// on a 2-core machine, in every `preview` and `up`. This package's resources never
// serialize a closure (their `__provider` names a module: providers/scaffolding/resource.ts),
// so those two modules are loaded only if something touches them: a program that
// does serialize closures (a callback function, an inline dynamic provider) still
// works, and pays the load when it first does.
//
// Only the closure serializer's own requires of those two modules are deferred:
// nothing else the program or the SDK loads changes.
//
// It also keeps the SDK's promise bookkeeping from source-mapping stack traces that
// nobody reads: see the second part below.
import * as fs from "fs";
import * as path from "path";

// ---------------------------------------------------------------------------
// Which SDK it may touch.
//
// Both parts below lean on the SDK's file layout and function names, which no
// release promises to keep. So they apply only to the @pulumi/pulumi versions
// they were checked against (tests/unit/package/fast-start.test.ts, on the
// version this package's lock installs); on any other, fast-start changes
// nothing, says so once on stderr, and the program runs as it would without it.

/** The @pulumi/pulumi versions whose closure serializer and promise bookkeeping these hooks were checked against. */
export const CHECKED_SDK_VERSIONS: readonly string[] = ["3.248.0"];

/** The version of the @pulumi/pulumi the program in this directory loads, or undefined when none is installed. */
function installedSdkVersion(): string | undefined {
    for (const from of [process.cwd(), __dirname]) {
        try {
            const manifest = require.resolve("@pulumi/pulumi/package.json", { paths: [from] });
            return String(JSON.parse(fs.readFileSync(manifest, "utf8")).version);
        } catch { /* not installed from there: try the next */ }
    }
    return undefined;
}

/** Why fast-start stays off for this SDK version, or undefined when it applies. */
export function sdkMismatch(version: string | undefined): string | undefined {
    if (version === undefined) return "@pulumi/pulumi is not installed where the program runs";
    if (CHECKED_SDK_VERSIONS.includes(version)) return undefined;
    return `@pulumi/pulumi ${version} is not a version it was checked against (${CHECKED_SDK_VERSIONS.join(", ")})`;
}

const mismatch = sdkMismatch(installedSdkVersion());
if (mismatch !== undefined) {
    process.stderr.write(`warning: senhasegura-backup/fast-start is off: ${mismatch}; the program runs as it would without it, only slower to start. Update senhasegura-backup, or remove it from runtime.options.nodeargs.\n`);
}

// Module's internals are not in @types/node: the one function used here, typed.
type Load = (request: string, parent: NodeModule | undefined, isMain: boolean) => unknown;
const Module = require("module") as { _load: Load; __ssbFastStart?: true };

/** The requires to defer (the closure serializer's dependencies), and the SDK directory they must come from. */
const DEFERRED = new Set(["@npmcli/arborist", "../../typescript-shim", "normalize-package-data", "fdir", "upath"]);
const CLOSURE_DIR = `${path.sep}@pulumi${path.sep}pulumi${path.sep}runtime${path.sep}closure${path.sep}`;

/**
 * A stand-in for a module that loads it on first use. It says it is an ES module,
 * so TypeScript's `__importStar` and `__importDefault` hand it over as it is instead
 * of copying every export (which would load the module at once); its `default` is
 * then what those helpers would have made it: the module itself, unless the module
 * is an ES module with a default export of its own.
 */
function deferred(load: () => object): object {
    let loaded: object | undefined;
    const real = () => (loaded ??= load());
    const defaultOf = (module: any) => (module?.__esModule ? module.default : module);
    return new Proxy({}, {
        get: (_target, key) => (key === "__esModule" ? true : key === "default" ? defaultOf(real()) : Reflect.get(real(), key)),
        has: (_target, key) => Reflect.has(real(), key),
        ownKeys: () => Reflect.ownKeys(real()),
        getOwnPropertyDescriptor: (_target, key) => {
            const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
            // A proxy may not report a property non-configurable that its own target lacks.
            return descriptor && { ...descriptor, configurable: true };
        },
    });
}

if (mismatch === undefined && !Module.__ssbFastStart) {
    Module.__ssbFastStart = true;
    const load = Module._load;
    Module._load = function (this: unknown, request, parent, isMain) {
        if (DEFERRED.has(request) && parent?.filename?.includes(CLOSURE_DIR)) {
            return deferred(() => load.call(this, request, parent, isMain) as object);
        }
        return load.call(this, request, parent, isMain);
    };
}

// ---------------------------------------------------------------------------
// Stack traces of the SDK's promise bookkeeping.
//
// The SDK records a stack trace on every promise it makes (debuggablePromise in
// runtime/debuggable.js), for a leak report that prints those traces only when
// PULUMI_DEBUG_PROMISE_LEAKS is set. It reads `.stack` at once, and @pulumi/pulumi
// installs source-map-support (ts-node installs its own), so every frame of each
// such trace is source-mapped: several traces per resource, about 1.5 s of CPU in
// the program of a 100-appliance `preview --refresh` (its CPU profile), a quarter of
// that program's time. Even V8's own formatting of them costs 0.2 s there. So such a
// trace is one fixed line that says how to get it back; every other trace keeps the
// installed formatter, and with PULUMI_DEBUG_PROMISE_LEAKS set nothing changes.
//
// Error.prepareStackTrace becomes an accessor, so that a formatter installed later
// (source-map-support when @pulumi/pulumi runs the program, ts-node's) is wrapped too.

type CallSite = NodeJS.CallSite;
type Formatter = (error: Error, frames: CallSite[]) => unknown;

const BOOKKEEPING_FILE = `${path.sep}@pulumi${path.sep}pulumi${path.sep}runtime${path.sep}debuggable.js`;

/** What such a trace reads: the SDK reads it only for its leak report, and only with the variable set. */
export const BOOKKEEPING_STACK = "Error: the stack trace of a promise the Pulumi SDK tracks, not kept (senhasegura-backup/fast-start): set PULUMI_DEBUG_PROMISE_LEAKS=1 to keep it";

/** True for a trace taken by the SDK's debuggablePromise: its top frame is that function, in that file. */
export function isPromiseBookkeeping(frames: readonly CallSite[]): boolean {
    const top = frames[0];
    if (top === undefined || typeof top.getFunctionName !== "function") return false;
    return top.getFunctionName() === "debuggablePromise" && (top.getFileName() ?? "").endsWith(BOOKKEEPING_FILE);
}

interface ErrorWithHook { __ssbPlainBookkeepingStacks?: true }

if (mismatch === undefined && !process.env.PULUMI_DEBUG_PROMISE_LEAKS && !(Error as ErrorWithHook).__ssbPlainBookkeepingStacks) {
    Object.defineProperty(Error, "__ssbPlainBookkeepingStacks", { value: true });
    // One wrapper per installed formatter, and back: code that saves Error.prepareStackTrace,
    // sets its own for a moment and puts the saved one back (the callsites package does)
    // gets the formatter it saved, not this wrapper wrapping itself.
    const wrappers = new WeakMap<Formatter, Formatter>();
    const wrapped = new WeakMap<Formatter, Formatter>();
    const wrapperOf = (installed: Formatter): Formatter => {
        let wrapper = wrappers.get(installed);
        if (wrapper === undefined) {
            wrapper = (error, frames) => (isPromiseBookkeeping(frames) ? BOOKKEEPING_STACK : installed(error, frames));
            wrappers.set(installed, wrapper);
            wrapped.set(wrapper, installed);
        }
        return wrapper;
    };
    let installed = Error.prepareStackTrace as Formatter | undefined;
    Object.defineProperty(Error, "prepareStackTrace", {
        configurable: true,
        enumerable: true,
        // With nothing installed, node's own formatting stays in charge.
        get: () => (installed === undefined ? undefined : wrapperOf(installed)),
        set: (value: unknown) => {
            installed = typeof value === "function" ? (wrapped.get(value as Formatter) ?? (value as Formatter)) : undefined;
        },
    });
}
