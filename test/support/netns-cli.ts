#!/usr/bin/env node
/**
 * Clean up after the network-namespace test fixture by hand (run as root):
 *   node dist/test/support/netns-cli.js list    every fixture namespace, its owner pid, live or stale
 *   node dist/test/support/netns-cli.js sweep   delete the namespaces (and temp dirs) whose owner is dead
 * A fixture whose process still runs is never touched: stop that process instead.
 */
import { listFixtureNamespaces, sweepStale } from './netns.js';

const USAGE = 'usage: netns-cli (list | sweep)';

function main(argv: readonly string[]): number {
  const [command, ...rest] = argv;
  if (rest.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  switch (command) {
    case 'list': {
      const all = listFixtureNamespaces();
      if (all.length === 0) process.stdout.write('no fixture namespaces\n');
      for (const ns of all) {
        process.stdout.write(`${ns.name}\tpid ${ns.pid}\t${ns.alive ? 'live' : 'stale'}\n`);
      }
      return 0;
    }
    case 'sweep': {
      const { namespaces, tempDirs } = sweepStale();
      for (const ns of namespaces) process.stdout.write(`deleted namespace ${ns}\n`);
      for (const dir of tempDirs) process.stdout.write(`deleted ${dir}\n`);
      if (namespaces.length === 0 && tempDirs.length === 0) process.stdout.write('nothing stale\n');
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`netns-cli: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
