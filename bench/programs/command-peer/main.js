// The program is index.ts, compiled by bench/run: ../run-compiled.js says why.
"use strict";
module.exports = require("../run-compiled")("command-peer");
