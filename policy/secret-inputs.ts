// Which inputs of a resource arrived as secrets.
//
// The engine sends each resource's inputs to the pack with their secret markers,
// but @pulumi/policy unwraps every secret before a policy sees the properties,
// and offers no way to ask whether a value was secret (pulumi/pulumi-policy#241,
// open). The rule "no CIFS password in plain config" needs exactly that. So this
// module wraps @pulumi/policy's own deserializer: it still returns the same
// unwrapped properties, and records beside them (in a WeakMap) the paths whose
// raw value carried the secret marker. It relies on internals of @pulumi/policy
// 1.21.0, which package.json pins exactly; any other version is refused at load,
// so the pack fails loudly instead of passing a plain password.
import * as fs from "fs";
import * as path from "path";
import { runtime } from "@pulumi/pulumi";
export const SUPPORTED_POLICY_VERSION = "1.21.0";

const secretPathsOf = new WeakMap<object, Set<string>>();

/** The dotted paths of every secret in a raw (marker-carrying) property bag. Pure. */
export function secretPathsIn(raw: unknown, prefix = "", out = new Set<string>()): Set<string> {
    if (raw && typeof raw === "object") {
        const bag = raw as Record<string, unknown>;
        if (bag[runtime.specialSigKey] === runtime.specialSecretSig) { out.add(prefix); return out; }
        if (!Array.isArray(raw)) {
            for (const [k, v] of Object.entries(bag)) secretPathsIn(v, prefix ? `${prefix}.${k}` : k, out);
        }
    }
    return out;
}

function policyModule(file: string): any {
    return require(require.resolve(`@pulumi/policy/${file}`));
}

function install(): { getSpecialProxyTarget: string } {
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve("@pulumi/policy")), "package.json"), "utf8"));
    const version = String(pkg.version).replace(/^v/, "");
    if (version !== SUPPORTED_POLICY_VERSION) {
        throw new Error(`policy/secret-inputs.ts reads @pulumi/policy ${SUPPORTED_POLICY_VERSION} internals to tell secret inputs from plain ones, but ${version} is installed: check that deserialize.deserializeProperties and proxy.getSpecialProxyTarget still work as before, then update SUPPORTED_POLICY_VERSION`);
    }
    const deserialize = policyModule("deserialize");
    const proxy = policyModule("proxy");
    const original = deserialize.deserializeProperties;
    if (typeof original !== "function" || typeof proxy.getSpecialProxyTarget !== "string") {
        throw new Error("@pulumi/policy's deserialize.deserializeProperties or proxy.getSpecialProxyTarget is missing: the secret-input check cannot work");
    }
    if (!original.ssbSecretPaths) {
        const wrapped = function (this: unknown, struct: { toJavaScript(): unknown }, proxySecrets: boolean) {
            const props = original.call(this, struct, proxySecrets);
            if (props && typeof props === "object") secretPathsOf.set(props, secretPathsIn(struct.toJavaScript()));
            return props;
        };
        wrapped.ssbSecretPaths = true;
        deserialize.deserializeProperties = wrapped;
    }
    return { getSpecialProxyTarget: proxy.getSpecialProxyTarget };
}

const { getSpecialProxyTarget } = install();

/**
 * The secret paths of the properties a policy received (args.props), or
 * undefined when they did not come through @pulumi/policy's deserializer.
 */
export function secretPathsOfProps(props: object): Set<string> | undefined {
    const target = (props as Record<string, unknown>)[getSpecialProxyTarget];
    return secretPathsOf.get(target && typeof target === "object" ? target : props);
}
