import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { ClusterStatus, LinkStatus, MirrorStatus, NodeInventory } from '../../../common/model/index.js';
import { counterKey, escapeLabelValue, formatValue, renderMetrics, type MetricsInput } from '../../../agent/observability/metrics.js';

const TRICKY = 'we"b\\1\nx';

function link(peer: string, up: boolean, rttMs?: number): LinkStatus {
  return {
    link: 'priv1', kind: 'udp', peer, up, lossPercent: up ? 2.5 : 100, lastSeenAt: 1_700_000_000_000,
    rejected: { badMac: 3, replay: 0, foreign: 1, malformed: 0 }, ...(rttMs === undefined ? {} : { rttMs }),
  };
}

const status: ClusterStatus = {
  cluster: 'prod', reportedBy: 'alpha', at: 1_700_000_000_000, maintenance: false,
  nodes: [
    { id: 'alpha', local: true, alive: true, links: [link('beta', true, 1.5), link('gamma', false), { ...link('beta', true, 2), link: 'serial0', kind: 'serial' }] },
    { id: 'beta', local: false, alive: true, links: [link('alpha', true, 1.25)] },
    { id: 'gamma', local: false, alive: false, links: [] },
  ],
  groups: [
    {
      id: 'web', target: 'alpha', reasons: [], runningOn: ['alpha'], switchback: 'manual', failures: { alpha: 0, beta: 2 },
      resources: [
        { id: 'vip', kind: 'vip', states: { alpha: 'running', beta: 'stopped' } },
        { id: 'nginx', kind: 'service', states: { alpha: 'running', beta: 'stop_failed' } },
      ],
    },
    { id: TRICKY, target: null, reasons: ['no eligible node'], runningOn: [], switchback: 'auto', stopped: true, failures: { beta: 3 }, resources: [{ id: 'db', kind: 'ocf', states: { beta: 'failed' } }] },
  ],
  faults: ['configuration differs on gamma'],
};

function mirror(node: string, role: 'source' | 'target', extra: Partial<MirrorStatus> = {}): MirrorStatus {
  return {
    id: 'data', group: 'web', node, peer: node === 'alpha' ? 'beta' : 'alpha', role, state: 'lagging', reasons: [], generation: 'g7',
    connected: true, pausedSource: false, pausedTarget: false, dirtyFiles: 0, lagBytes: 4096, lagSeconds: 0.75, throughput: 1_250_000, ...extra,
  };
}

const mirrors: MirrorStatus[] = [
  mirror('alpha', 'source', { sourceQueue: { records: 12, bytes: 4096 } }),
  mirror('beta', 'target', { state: 'paused', pausedTarget: true, targetQueue: { records: 3, bytes: 900 } }),
  // A duplicate of the first: must not give a second series.
  mirror('alpha', 'source', { lagSeconds: 99 }),
];

const inventory: NodeInventory = {
  node: 'alpha', at: 1_700_000_000_000, faults: [],
  nics: [
    { name: 'eth0', up: true, carrier: true, mac: '02:00:00:00:00:01', mtu: 1500, speedMbps: 1000, addresses: [{ address: '198.51.100.1', prefix: 24, family: 'ipv4' }], rxBytes: 123456789, txBytes: 987654321, rxErrors: 0, txErrors: 2 },
    { name: 'eth1', up: true, carrier: false, addresses: [] },
  ],
  volumes: [
    { mount: '/', device: '/dev/vda1', fsType: 'ext4', totalBytes: 270553174016, freeBytes: 246561181696, availableBytes: 84952301568, usedPercent: 22.02, readOnly: false, health: 'ok', healthReasons: [] },
    { mount: '/srv/data', device: '/dev/md0', fsType: 'xfs', totalBytes: 1e12, freeBytes: 4e11, availableBytes: 4e11, usedPercent: 60, readOnly: true, health: 'degraded', healthReasons: ['RAID array md0 runs on 1 of 2 devices [U_]'] },
  ],
};

const input: MetricsInput = {
  status, mirrors, inventory,
  counters: {
    failovers: 2, switchovers: 5,
    apiRequests: { [counterKey('status.get', 'OK')]: 40, [counterKey('mirror.pause', 'FORBIDDEN')]: 1 },
    alertsSent: { [counterKey('email', 'sent')]: 3, [counterKey('webhook', 'failed')]: 1 },
  },
  agent: { version: '0.1.0', startedAt: 1_700_000_000_500 },
};

interface Sample { readonly name: string; readonly labels: Record<string, string>; readonly value: string }

/** A strict reader of the sample lines we write: name, labels with the three escapes, one value. */
function parseExposition(text: string): { samples: Sample[]; help: string[]; types: string[] } {
  const samples: Sample[] = [];
  const help: string[] = [];
  const types: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) { help.push(line.split(' ')[2]!); continue; }
    if (line.startsWith('# TYPE ')) { types.push(line.split(' ')[2]!); continue; }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0];
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))![0];
        i += labelName.length;
        assert.equal(line.slice(i, i + 2), '="', `label ${labelName} in: ${line}`);
        i += 2;
        let value = '';
        while (line[i] !== '"') {
          if (line[i] === '\\') {
            const next = line[i + 1];
            value += next === 'n' ? '\n' : next;
            assert.ok(next === 'n' || next === '\\' || next === '"', `bad escape in: ${line}`);
            i += 2;
          } else {
            value += line[i];
            i++;
          }
        }
        i++;
        labels[labelName] = value;
        if (line[i] === ',') i++;
      }
      i++;
    }
    assert.equal(line[i], ' ', `one space before the value in: ${line}`);
    samples.push({ name, labels, value: line.slice(i + 1) });
  }
  return { samples, help, types };
}

function find(samples: readonly Sample[], name: string, labels: Record<string, string>): string[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);
}

test('the exposition passes the real `promtool check metrics` without a single lint remark', () => {
  const text = renderMetrics(input);
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.error, undefined, 'promtool must be installed (Debian package prometheus)');
  assert.equal(`${result.stdout}${result.stderr}`, '', 'promtool printed problems');
  assert.equal(result.status, 0);
});

test('promtool does fail on a broken exposition, so the check above can fail', () => {
  const broken = `${renderMetrics(input)}vigil_node_up{node="x} 1\n`;
  const result = spawnSync('promtool', ['check', 'metrics'], { input: broken, encoding: 'utf8', timeout: 20_000 });
  assert.notEqual(result.status, 0);
});

test('HELP and TYPE once per family, no series twice, the duplicate mirror keeps the first', () => {
  const { samples, help, types } = parseExposition(renderMetrics(input));
  assert.equal(new Set(help).size, help.length);
  assert.deepEqual(help, types);
  const series = samples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
  assert.equal(new Set(series).size, series.length);
  for (const s of samples) assert.ok(help.includes(s.name), `${s.name} has a HELP line`);
  assert.deepEqual(find(samples, 'vigil_mirror_lag_seconds', { node: 'alpha', mirror: 'data' }), ['0.75']);
});

test('a label value with a quote, a backslash and a newline is escaped and reads back unchanged', () => {
  const text = renderMetrics(input);
  assert.ok(text.includes('group="we\\"b\\\\1\\nx"'), text);
  const { samples } = parseExposition(text);
  assert.deepEqual(find(samples, 'vigil_resource_state', { group: TRICKY, resource: 'db', node: 'beta', state: 'failed' }), ['1']);
  assert.equal(escapeLabelValue('a\\"\n'), 'a\\\\\\"\\n');
});

test('values are in base units and states are one 0/1 series each', () => {
  const { samples } = parseExposition(renderMetrics(input));
  assert.deepEqual(find(samples, 'vigil_node_up', {}).length, 3);
  assert.deepEqual(find(samples, 'vigil_node_up', { node: 'gamma' }), ['0']);
  assert.deepEqual(find(samples, 'vigil_link_rtt_seconds', { node: 'alpha', link: 'priv1', peer: 'beta' }), ['0.0015']);
  assert.deepEqual(find(samples, 'vigil_link_rtt_seconds', { peer: 'gamma' }), [], 'no rtt before the first echo');
  assert.deepEqual(find(samples, 'vigil_link_loss_ratio', { node: 'alpha', link: 'priv1', peer: 'gamma' }), ['1']);
  assert.deepEqual(find(samples, 'vigil_link_rejected_packets_total', { node: 'alpha', link: 'serial0', reason: 'bad_mac' }), ['3']);
  assert.deepEqual(find(samples, 'vigil_group_placement', { group: 'web' }), ['1', '0', '0']);
  assert.deepEqual(find(samples, 'vigil_group_stopped', { group: 'web' }), ['0']);
  assert.deepEqual(find(samples, 'vigil_group_stopped', { group: TRICKY }), ['1']);
  assert.deepEqual(find(samples, 'vigil_resource_state', { resource: 'nginx', node: 'beta' }), ['0', '0', '0', '0', '0', '0', '1']);
  assert.deepEqual(find(samples, 'vigil_mirror_state', { node: 'beta', state: 'paused' }), ['1']);
  assert.deepEqual(find(samples, 'vigil_mirror_state', { node: 'beta' }).filter((v) => v === '1'), ['1']);
  assert.deepEqual(find(samples, 'vigil_mirror_queue_records', { node: 'alpha', queue: 'source' }), ['12']);
  assert.deepEqual(find(samples, 'vigil_mirror_queue_bytes', { node: 'beta', queue: 'target' }), ['900']);
  assert.deepEqual(find(samples, 'vigil_mirror_queue_bytes', { node: 'beta', queue: 'source' }), [], 'a target has no source journal');
  assert.deepEqual(find(samples, 'vigil_nic_speed_bytes_per_second', { nic: 'eth0' }), ['125000000']);
  assert.deepEqual(find(samples, 'vigil_nic_carrier', { nic: 'eth1' }), ['0']);
  assert.deepEqual(find(samples, 'vigil_volume_health', { mount: '/srv/data', health: 'degraded' }), ['1']);
  assert.deepEqual(find(samples, 'vigil_volume_read_only', { mount: '/srv/data' }), ['1']);
  assert.deepEqual(find(samples, 'vigil_api_requests_total', { method: 'mirror.pause', code: 'FORBIDDEN' }), ['1']);
  assert.deepEqual(find(samples, 'vigil_alerts_total', { channel: 'webhook', result: 'failed' }), ['1']);
  assert.deepEqual(find(samples, 'vigil_agent_start_time_seconds', {}), ['1700000000.5']);
  assert.deepEqual(find(samples, 'vigil_build_info', { version: '0.1.0', node: 'alpha', cluster: 'prod' }), ['1']);
  assert.deepEqual(find(samples, 'vigil_failovers_total', {}), ['2']);
});

test('without inventory or mirrors their families are left out; special values and bad counter keys', () => {
  const { inventory: _left, ...withoutInventory } = input;
  const text = renderMetrics({ ...withoutInventory, mirrors: [] });
  assert.ok(!text.includes('vigil_nic_'));
  assert.ok(!text.includes('vigil_mirror_'));
  assert.equal(formatValue(NaN), 'NaN');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  assert.throws(() => counterKey('a b', 'OK'), /may not contain a space/);
});
