// The agent as the installers ship it (scripts/bundle-agent.mjs): one folder of bundled scripts, whose native
// dependencies (vigil-native included, linked there to agent/native) come from NODE_PATH. Tests and the mirror benchmark run it where they would run dist/'s agent.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

/** Which vigild a test host runs: the script, and what its environment adds. */
export interface AgentProgram {
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
}

/** The agent tsc builds, one module a file: what the tests run unless they say otherwise. */
export const DIST_AGENT: AgentProgram = { script: resolve('dist/agent/cli/vigild.js'), env: {} };

/** Build the bundle into `out` (from the repo, the working folder). Throws with esbuild's complaint. */
export function buildAgentBundle(out: string): AgentProgram {
  const built = spawnSync(process.execPath, [resolve('scripts/bundle-agent.mjs'), '--out', out], { encoding: 'utf8', timeout: 120_000 });
  if (built.status !== 0) throw new Error(`scripts/bundle-agent.mjs --out ${out} failed (${built.status ?? built.signal}): ${built.stderr}`);
  return { script: join(out, 'vigild.js'), env: { NODE_PATH: resolve('node_modules') } };
}
