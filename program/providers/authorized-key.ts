// Where state written before the package (up to d3d904d) finds the authorizedKey provider:
// its __provider require()s "providers/authorized-key.ts" from the program's directory.
// README.md here says why these files exist and when they may go.
module.exports = { authorizedKeyProvider: require("senhasegura-backup/provider").authorizedKey };
