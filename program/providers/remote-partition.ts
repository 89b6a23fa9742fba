// Where state written before the package (up to d3d904d) finds the remotePartition provider:
// its __provider require()s "providers/remote-partition.ts" from the program's directory.
// README.md here says why these files exist and when they may go.
module.exports = { remotePartitionProvider: require("senhasegura-backup/provider").remotePartition };
