// Where state written before the package (up to d3d904d) finds the backupVerification provider:
// its __provider require()s "providers/backup-verification.ts" from the program's directory.
// README.md here says why these files exist and when they may go.
module.exports = { backupVerificationProvider: require("senhasegura-backup/provider").backupVerification };
