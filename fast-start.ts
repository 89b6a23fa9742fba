// `senhasegura-backup/fast-start`: load it before @pulumi/pulumi, with node's
// --require (Pulumi.yaml: runtime.options.nodeargs), and a program starts about
// 0.6 s sooner.
//
// Why: @pulumi/pulumi loads, at start-up, the code that serializes JavaScript
// closures (pulumi.runtime.serializeFunction), and with it @npmcli/arborist (with
// pacote and sigstore) and the TypeScript compiler: about 0.6 s of the SDK's 0.9 s
// on a 2-core machine, in every `preview` and `up`. This package's resources never
// serialize a closure (their `__provider` names a module: providers/resource.ts),
// so those two modules are loaded only if something touches them: a program that
// does serialize closures (a callback function, an inline dynamic provider) still
// works, and pays the load when it first does.
//
// Only the closure serializer's own requires of those two modules are deferred:
// nothing else the program or the SDK loads changes.
import * as path from "path";

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

if (!Module.__ssbFastStart) {
    Module.__ssbFastStart = true;
    const load = Module._load;
    Module._load = function (this: unknown, request, parent, isMain) {
        if (DEFERRED.has(request) && parent?.filename?.includes(CLOSURE_DIR)) {
            return deferred(() => load.call(this, request, parent, isMain) as object);
        }
        return load.call(this, request, parent, isMain);
    };
}
