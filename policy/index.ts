// Backup compliance for senhasegura appliances, as a Pulumi policy pack:
//   pulumi preview --policy-pack policy/   (installed: node_modules/senhasegura-backup/policy)
// Every rule is mandatory unless --policy-pack-config sets its level (advisory,
// disabled): a mandatory violation fails the preview and prints the rule's
// message. The rules themselves are in rules.ts; docs/gitops.md explains each.
import { secretPathsOfProps } from "./secret-inputs"; // first: it must wrap @pulumi/policy before the pack serves
import { PolicyPack, type ResourceValidationPolicy } from "@pulumi/policy";
import { RULES } from "./rules";

const policies: ResourceValidationPolicy[] = RULES.map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        let secretPaths: Set<string> | undefined;
        const messages = rule.check({
            type: args.type,
            name: args.name,
            props: args.props,
            isSecret(path) {
                secretPaths ??= secretPathsOfProps(args.props);
                // Fail closed: a rule that cannot tell must not pass a plain value.
                if (!secretPaths) throw new Error(`cannot tell which inputs of ${args.name} are secret (see policy/secret-inputs.ts)`);
                return secretPaths.has(path);
            },
        });
        for (const message of messages) reportViolation(message);
    },
}));

new PolicyPack("senhasegura-backup-compliance", { policies });
