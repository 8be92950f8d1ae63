#!/usr/bin/env node
// Builds the agent a server installs: vigild, vigil and the guard bundled by esbuild from the TypeScript sources
// into one folder (dist/agent-bundle/), with a package.json naming only the native dependencies, which must be
// built for the server's Node (`npm install` there), and a README. The center's installers ship this folder.
// Usage: node scripts/bundle-agent.mjs [--out DIR]
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/agent-bundle' } } });
const out = resolve(values.out);
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

/** Native addons cannot be bundled: their compiled .node file must match the server's Node and platform. */
const NATIVE = ['better-sqlite3', 'serialport'];
const missing = NATIVE.filter((name) => pkg.dependencies?.[name] === undefined);
if (missing.length > 0) throw new Error(`package.json: no dependency ${missing.join(', ')}`);

/**
 * The native packages are loaded with require() (through the banner's createRequire), not an ESM import: only
 * require honours NODE_PATH, so a server may keep them in a shared folder, and the tests can point at ours.
 */
const nativeByRequire = {
  name: 'native-by-require',
  setup(b) {
    const filter = new RegExp(`^(${NATIVE.join('|')})$`);
    b.onResolve({ filter }, (args) => (args.namespace === 'native'
      ? { path: args.path, external: true }
      : { path: args.path, namespace: 'native' }));
    b.onLoad({ filter: /.*/, namespace: 'native' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/** agent/version.ts reads ../../package.json at run time; the bundle has no such file, so it carries the version. */
const versionBakedIn = {
  name: 'version-baked-in',
  setup(b) {
    b.onLoad({ filter: /[\\/]agent[\\/]version\.ts$/ }, () => ({ contents: `export const AGENT_VERSION = ${JSON.stringify(pkg.version)};`, loader: 'ts' }));
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  // The guard is its own process, spawned by file name next to vigild.js (agent/guard/guard-link.ts); the mirror's
  // worker threads and the databases' checkpoint thread are started the same way (agent/replication/read-thread.ts,
  // write-thread.ts, agent/store/checkpoint-thread.ts).
  entryPoints: {
    vigild: 'agent/cli/vigild.ts', vigil: 'agent/cli/vigil.ts', 'guard-process': 'agent/guard/guard-process.ts',
    'read-thread-worker': 'agent/replication/read-thread-worker.ts', 'write-thread-worker': 'agent/replication/write-thread-worker.ts',
    'checkpoint-thread-worker': 'agent/store/checkpoint-thread-worker.ts',
  },
  bundle: true, platform: 'node', format: 'esm', target: ['node20'],
  outdir: out, outExtension: { '.js': '.js' }, splitting: false, sourcemap: 'linked', legalComments: 'external',
  // Bundled CommonJS dependencies call require() for Node's modules; ESM has none unless we make one.
  banner: { js: "import { createRequire as __vigilCreateRequire } from 'node:module'; const require = __vigilCreateRequire(import.meta.url);" },
  plugins: [nativeByRequire, versionBakedIn],
  logLevel: 'warning',
});

/**
 * Vigil's own addon (extended attributes, a file's holes: agent/native) ships as source, built by `npm install` on the server
 * as the others are (an optional dependency, as in the project's package.json: Windows workstations building the
 * center skip it); the agent loads it with require() too, and mirrors no attributes where it is missing.
 */
const OWN_NATIVE = { name: 'vigil-native', from: 'agent/native', to: 'native', files: ['package.json', 'binding.gyp', 'native.h', 'module.c', 'common.c', 'xattrs.c', 'holes.c'] };
mkdirSync(join(out, OWN_NATIVE.to), { recursive: true });
for (const file of OWN_NATIVE.files) cpSync(join(OWN_NATIVE.from, file), join(out, OWN_NATIVE.to, file));

const bundlePackage = {
  name: 'vigil-agent',
  version: pkg.version,
  description: 'The Vigil cluster agent (vigild) and its CLI (vigil), bundled; install the native dependencies with npm install',
  license: pkg.license,
  private: true,
  type: 'module',
  engines: pkg.engines,
  bin: { vigild: 'vigild.js', vigil: 'vigil.js' },
  dependencies: Object.fromEntries(NATIVE.map((name) => [name, pkg.dependencies[name]])),
  // Optional: a server without a C compiler still installs, and mirrors no attributes (the agent says so).
  optionalDependencies: { [OWN_NATIVE.name]: `file:${OWN_NATIVE.to}` },
};
writeFileSync(join(out, 'package.json'), `${JSON.stringify(bundlePackage, null, 2)}\n`);
writeFileSync(join(out, 'README.md'), `# Vigil agent ${pkg.version}

The cluster agent (\`vigild\`), its CLI (\`vigil\`) and the guard process, bundled: every dependency is inside the
.js files except the native ones, which must be compiled for the server: ${NATIVE.map((n) => `\`${n}\``).join(' and ')}, and
\`${OWN_NATIVE.name}\` (in \`${OWN_NATIVE.to}\`: extended attributes and ACLs, which a mirror carries only where it loads,
and a sparse file's holes, which are read where it does not; building it needs make and a C compiler).

## Install on a server (Node ${pkg.engines?.node ?? '20 or later'})

\`\`\`sh
sudo mkdir -p /opt/vigil && sudo cp -r . /opt/vigil && cd /opt/vigil
sudo npm install --omit=dev          # builds or downloads better-sqlite3 and serialport, builds vigil-native
sudo node vigil.js --help
sudo node vigild.js --config /etc/vigil/cluster.yaml --node alpha --state-dir /var/lib/vigil
\`\`\`

Keep the files together: \`vigild.js\` starts \`guard-process.js\`, the mirror's \`read-thread-worker.js\` and
\`write-thread-worker.js\`, and the databases' \`checkpoint-thread-worker.js\`, from its own folder. The native packages are
loaded with \`require\`, so they may also come from a folder named in \`NODE_PATH\` instead of \`./node_modules\`.
The licences of the bundled packages are in the \`*.LEGAL.txt\` files. See the project's README and docs/ for
the configuration, \`vigil init\` for the certificates, and a systemd unit.
`);
console.log(`bundle-agent: ${out}`);
