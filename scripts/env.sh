# Sourced by every script: where the toolchain lives and how the Pulumi CLI is kept
# offline. Safe to source twice.
SSB_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SSB_REPO
SSB_PULUMI_VERSION="v3.248.0"
# Keyed by version, so a version bump builds a fresh toolchain beside the old one.
SSB_TOOLCHAIN_BIN="${SSB_TOOLCHAIN_BIN:-$SSB_REPO/.toolchain/pulumi-$SSB_PULUMI_VERSION/bin}"

case ":$PATH:" in
  *":$SSB_TOOLCHAIN_BIN:"*) ;;
  *) export PATH="$SSB_TOOLCHAIN_BIN:$SSB_REPO/node_modules/.bin:$PATH" ;;
esac

# Nothing may reach for the internet: no update check, no plugin download, no registry.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DISABLE_REGISTRY_RESOLVE=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=false
# The Node runtime type-checks the program on every pulumi command unless told not
# to: 1.9 s of each preview of the dev stack. Type-checking is done once, by tsc
# (scripts/test, and a step of the deploy and preview workflows).
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
# State and plugin cache stay inside the project (both gitignored).
export PULUMI_HOME="${PULUMI_HOME:-$SSB_REPO/.toolchain/pulumi-home}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$SSB_REPO/.state}"

# senhasegura-backup/fast-start (fast-start.ts) in every node started from here, the
# Pulumi program and the dynamic-provider host included (NODE_OPTIONS is the one way to
# reach the latter): each then skips loading the SDK's closure serializer at start-up,
# about 0.6 s per process. Only once the package is built, since node refuses to start
# with a --require it cannot find; scripts that build it (setup) call this again after.
ssb_fast_start() {
  local preload="$SSB_REPO/dist/package/fast-start.js"
  [ -f "$preload" ] || return 0
  case "$preload" in *[[:space:]]*) return 0 ;; esac # NODE_OPTIONS splits on spaces
  case " ${NODE_OPTIONS:-} " in
    *" --require $preload "*) ;;
    *) export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--require $preload" ;;
  esac
}
ssb_fast_start

# Runs the package's CLI (cli/main.ts, the bin `senhasegura-backup`): compiled
# (dist/cli/, which scripts/setup builds) when no TypeScript source of the CLI or
# the providers is newer than that build, else through ts-node. ts-node costs about
# a second of every drift check, and a fleet pays it once per stack; the fallback
# means an edit is never run stale.
ssb_cli() {
  local compiled="$SSB_REPO/dist/cli/main.js"
  # The build's own record, not the output: an incremental tsc leaves unchanged outputs' times alone.
  local built="$SSB_REPO/dist/cli/tsconfig.tsbuildinfo"
  if [ -f "$compiled" ] && [ -f "$built" ] && [ -z "$(find "$SSB_REPO/cli" "$SSB_REPO/providers" -name '*.ts' -newer "$built" -print -quit 2>/dev/null)" ]; then
    exec node "$compiled" "$@"
  fi
  exec node -r "$SSB_REPO/node_modules/ts-node/register/transpile-only" "$SSB_REPO/cli/main.ts" "$@"
}
