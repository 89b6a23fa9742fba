// Where state written before the package (up to d3d904d) finds the rsyncTarget provider:
// its __provider require()s "providers/rsync-target.ts" from the program's directory.
// README.md here says why these files exist and when they may go.
module.exports = { rsyncTargetProvider: require("senhasegura-backup/provider").rsyncTarget };
