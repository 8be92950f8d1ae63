#!/usr/bin/env node
/** `vigil`: the administrator's command line. It talks to the local agent through its control socket. */
import { readFileSync } from 'node:fs';
import { parseConfig, ConfigError } from '../../common/config/load.js';
import { ProtocolError } from '../../common/protocol/api.js';
import { plan } from '../core/plan.js';
import { expandWhatIf, WhatIfError } from '../core/what-if.js';
import { callAgent } from '../api/api-client.js';
import { parseCommandLine, USAGE, UsageError, type Command } from './args.js';
import { formatEvents, formatMirrors, formatPlan, formatStatus, formatVerify } from './format.js';
import { isPkiCommand, PKI_USAGE, runPkiCommand } from './pki-commands.js';

async function run(command: Command, socket: string): Promise<string> {
  switch (command.name) {
    case 'help': return USAGE;
    case 'status': {
      const status = await callAgent(socket, 'status', {});
      return command.json ? JSON.stringify(status, null, 2) : formatStatus(status);
    }
    case 'switchover': {
      const r = await callAgent(socket, 'switchover', command.node === undefined ? { group: command.group } : { group: command.group, node: command.node });
      return `${r.group} is moving to ${r.target}`;
    }
    case 'switchback': {
      const r = await callAgent(socket, 'switchback', { group: command.group });
      return `${r.group} is moving back to ${r.target}`;
    }
    case 'maintenance': {
      const r = await callAgent(socket, 'maintenance', { on: command.on });
      return `maintenance mode ${r.on ? 'on: Vigil will neither start, stop nor monitor anything' : 'off: resources are probed again'}`;
    }
    case 'cleanup': {
      const r = await callAgent(socket, 'cleanup', { group: command.group });
      return `failures of ${r.group} cleared; its resources will be probed again`;
    }
    case 'events': {
      const { json: _json, name: _name, ...query } = command;
      const events = await callAgent(socket, 'events', query.kinds.length ? query : { ...query, kinds: undefined });
      return command.json ? JSON.stringify(events, null, 2) : formatEvents(events);
    }
    case 'simulate': {
      const config = parseConfig(readFileSync(command.config, 'utf8'), command.config);
      let state: unknown;
      try {
        state = JSON.parse(readFileSync(command.state, 'utf8'));
      } catch (e) {
        throw new WhatIfError(`${command.state}: ${(e as Error).message}`);
      }
      // A golden scenario file carries its what-if under "whatIf"; a plain what-if file is the state itself.
      const whatIf = typeof state === 'object' && state !== null && 'whatIf' in state ? (state as { whatIf: unknown }).whatIf : state;
      const { observed, now } = expandWhatIf(config, whatIf);
      const result = plan(config, observed, now);
      return command.json ? JSON.stringify(result, null, 2) : formatPlan(result);
    }
    case 'mirror': {
      const r = await callAgent(socket, 'mirror', { action: command.action, ...(command.mirror === undefined ? {} : { name: command.mirror }) }, command.action === 'verify' ? 600_000 : 30_000);
      if (command.json) return JSON.stringify(command.action === 'verify' ? r.verify : r.status, null, 2);
      if (command.action === 'verify' && r.verify) return formatVerify(r.verify);
      return [r.message, formatMirrors(r.status)].filter((x) => x !== undefined && x !== '').join('\n');
    }
    case 'validate': {
      const config = parseConfig(readFileSync(command.config, 'utf8'), command.config);
      return `${command.config}: valid: cluster ${config.cluster.id}, ${config.nodes.length} nodes, ${config.heartbeat.links.length} links, ${config.groups.length} groups`;
    }
  }
}

async function main(): Promise<number> {
  const pki = isPkiCommand(process.argv[2]);
  try {
    if (pki) {
      process.stdout.write((await runPkiCommand(process.argv.slice(2))) + '\n');
      return 0;
    }
    const { command, socket } = parseCommandLine(process.argv.slice(2), process.env, Date.now());
    process.stdout.write((await run(command, socket)) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`vigil: ${e.message}\n\n${pki ? PKI_USAGE : USAGE}\n`);
      return 2;
    }
    if (e instanceof ProtocolError) {
      process.stderr.write(`vigil: ${e.code}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ConfigError || e instanceof WhatIfError) {
      process.stderr.write(`vigil: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`vigil: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
