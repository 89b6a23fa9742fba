// Mocha's spec output for people, plus a summary file that scripts/test turns into
// the closing "N passed, N failed" line (CI reads that line, not mocha's).
"use strict";
const fs = require("fs");
const path = require("path");
const Mocha = require("mocha");
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once(EVENT_RUN_END, () => {
            const stats = runner.stats;
            const out = path.join(__dirname, "..", "..", ".test-results", "summary.json");
            fs.mkdirSync(path.dirname(out), { recursive: true });
            fs.writeFileSync(out, JSON.stringify({ passed: stats.passes, failed: stats.failures, pending: stats.pending }));
        });
    }
}
module.exports = SummaryReporter;
