// The hardening suites' helpers (hostile input, faults, concurrency, secrets), one
// module per job; importers take them from here.
export * from "./lab-files";
export * from "./processes";
export * from "./proxy";
export * from "./results";
export * from "./secrets";
export * from "./watchers";
