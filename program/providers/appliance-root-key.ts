// Where state written before the package (up to d3d904d) finds the applianceRootKey provider:
// its __provider require()s "providers/appliance-root-key.ts" from the program's directory.
// README.md here says why these files exist and when they may go.
module.exports = { applianceRootKeyProvider: require("senhasegura-backup/provider").applianceRootKey };
