// Where state written before the package (up to d3d904d) finds the backupPolicy provider:
// its __provider require()s "providers/backup-policy.ts" from the program's directory.
// README.md here says why these files exist and when they may go.
module.exports = { backupPolicyProvider: require("senhasegura-backup/provider").backupPolicy };
