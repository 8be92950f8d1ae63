#!/usr/bin/env node
/** `vigild`: the cluster agent daemon, one per server. */
import { parseArgs } from 'node:util';
import { ConfigError } from '../../common/config/load.js';
import { startDaemon, type Daemon } from '../daemon.js';
import { raiseOwnPriority } from '../platform/priority.js';

const USAGE = `usage: vigild --config FILE --node ID [--state-dir DIR] [--socket PATH] [--nice N] [--keep-resources-on-exit]

  --config FILE              the cluster configuration (YAML)
  --node ID                  which node of the configuration this server is
  --state-dir DIR            event log, failure counts, service pidfiles (default /var/lib/vigil)
  --socket PATH              the local control socket (default STATE-DIR/vigild.sock)
  --nice N                   the agent's CPU priority, -20 to 19 (default -10, so that load does not starve the
                             heartbeat; services and resource agents still run at 0)
  --keep-resources-on-exit   on SIGTERM leave resources running instead of handing groups to a peer`;

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string' }, node: { type: 'string' }, 'state-dir': { type: 'string' }, socket: { type: 'string' },
        'keep-resources-on-exit': { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
        nice: { type: 'string', default: '-10' },
      },
      strict: true, allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`vigild: ${(e as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) { process.stdout.write(USAGE + '\n'); return; }
  for (const required of ['config', 'node'] as const) {
    if (!values[required]) { process.stderr.write(`vigild: --${required} is required\n\n${USAGE}\n`); process.exit(2); }
  }
  const nice = Number(values.nice);
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) {
    process.stderr.write(`vigild: --nice: expected a whole number from -20 to 19, not "${values.nice}"\n\n${USAGE}\n`);
    process.exit(2);
  }
  const refused = raiseOwnPriority(nice);
  if (refused !== undefined) log(`cannot set CPU priority ${nice} (${refused}): running at the default; under load the heartbeat may be late`);
  const stateDir = values['state-dir'] ?? '/var/lib/vigil';
  let daemon: Daemon;
  let reloading = false;
  let stopping = false;
  const start = (): Promise<Daemon> => startDaemon({
    configPath: values.config!, node: values.node!, stateDir, socketPath: values.socket ?? `${stateDir}/vigild.sock`,
    releaseOnExit: !values['keep-resources-on-exit'], log, onReload: (why) => void reload(why),
  });
  // A committed configuration that reshapes links, resources or mirrors: rebuild the agent in this process,
  // leaving the resources running (the new engine probes them and carries on).
  const reload = async (why: string): Promise<void> => {
    if (reloading || stopping) return;
    reloading = true;
    log(`reloading the agent: ${why}`);
    try {
      await daemon.stop(false);
      daemon = await start();
    } catch (e) {
      log(`reload failed, exiting so that the service manager restarts the agent: ${(e as Error).message}`);
      process.exit(1);
    } finally {
      reloading = false;
    }
  };
  try {
    daemon = await start();
  } catch (e) {
    process.stderr.write(`vigild: ${e instanceof ConfigError ? `invalid configuration:\n${e.message}` : (e as Error).message}\n`);
    process.exit(1);
  }
  const stop = (signal: string): void => {
    if (stopping) { log(`${signal} again: exiting at once`); process.exit(1); }
    stopping = true;
    log(`${signal}: shutting down`);
    daemon.stop().then(() => process.exit(0), (e: unknown) => { log(`shutdown failed: ${(e as Error).message}`); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
