// The wizard's output: answers in, a configuration the agent's own loader accepts out; the problems of wrong
// answers name the field and land on the step that asks for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../common/config/load.js';
import { groupNodes } from '../../../common/config/schema.js';
import { checkWizard, defaultAnswers, initSteps, stepOfProblem, type WizardAnswers } from '../../../renderer/config/wizard-config.js';

function filledAnswers(): WizardAnswers {
  const d = defaultAnswers();
  return {
    ...d,
    cluster: 'prod',
    nodes: [{ id: 'alpha', publicAddress: '203.0.113.1', apiPort: '7480' }, { id: 'beta', publicAddress: '203.0.113.2', apiPort: '7480' }],
    links: [
      { name: 'priv1', kind: 'udp', addresses: ['10.0.0.1', '10.0.0.2'], port: '7405' },
      { name: 'priv2', kind: 'tcp', addresses: ['10.1.0.1', '10.1.0.2'], port: '7406' },
    ],
    group: { id: 'web', preferred: 1, switchback: 'auto', vip: '203.0.113.100/24', nic: 'eth0', runs: 'service', service: 'nginx' },
  };
}

test('filled answers make a configuration the loader accepts, as they describe it', () => {
  const { text, problems } = checkWizard(filledAnswers());
  assert.deepEqual(problems, []);
  const config = parseConfig(text, 'wizard.yaml');
  assert.equal(config.cluster.id, 'prod');
  assert.equal(config.cluster.keyFile, 'pki/cluster.key');
  assert.deepEqual(config.nodes, [{ id: 'alpha', api: '203.0.113.1:7480' }, { id: 'beta', api: '203.0.113.2:7480' }]);
  assert.equal(config.api?.pki, 'pki');
  assert.deepEqual(config.heartbeat.links.map((l) => [l.name, l.kind, l.role, l.endpoints]), [
    ['priv1', 'udp', 'private', { alpha: '10.0.0.1:7405', beta: '10.0.0.2:7405' }],
    ['priv2', 'tcp', 'private', { alpha: '10.1.0.1:7406', beta: '10.1.0.2:7406' }],
    ['public', 'udp', 'public', { alpha: '203.0.113.1:7407', beta: '203.0.113.2:7407' }],
  ]);
  const group = config.groups[0]!;
  assert.deepEqual(groupNodes(config, group), ['beta', 'alpha'], 'the preferred node first');
  assert.equal(group.switchback, 'auto');
  assert.deepEqual(group.resources.map((r) => [r.id, r.kind]), [['web-svc', 'service'], ['web-ip', 'vip']]);
  assert.match(text, /^# Cluster "prod"/);
});

test('a serial link, a script and a mirror with a target folder', () => {
  const a = filledAnswers();
  const answers: WizardAnswers = {
    ...a, publicLink: false,
    serial: { enabled: true, devices: ['/dev/ttyS0', '/dev/ttyUSB0'] },
    group: { ...a.group, preferred: 0, runs: 'script', service: '/usr/lib/ocf/resource.d/site/app', nic: '' },
    mirror: { enabled: true, folders: '/srv/data\n\n/srv/www\n', targetFolder: '/mirror/', port: '7420' },
  };
  const { text, problems } = checkWizard(answers);
  assert.deepEqual(problems, []);
  const config = parseConfig(text, 'wizard.yaml');
  assert.deepEqual(config.heartbeat.links.map((l) => l.name), ['priv1', 'priv2', 'serial']);
  assert.deepEqual(config.heartbeat.links[2]!.endpoints, { alpha: '/dev/ttyS0', beta: '/dev/ttyUSB0' });
  const [mirror, script, vip] = config.groups[0]!.resources;
  assert.equal(script?.kind, 'ocf');
  assert.equal(vip?.kind === 'vip' ? vip.interface : 'not a vip', undefined);
  assert.equal(mirror?.kind, 'mirror');
  if (mirror?.kind !== 'mirror') return;
  assert.deepEqual(mirror.folders, [{ alpha: '/srv/data', beta: '/mirror/data' }, { alpha: '/srv/www', beta: '/mirror/www' }]);
  assert.deepEqual(mirror.endpoints, { alpha: '10.0.0.1:7420', beta: '10.0.0.2:7420' });
});

test('wrong answers are named by field and belong to the step that asks for them', () => {
  const a = filledAnswers();
  const wrong: WizardAnswers = {
    ...a, cluster: 'Prod',
    links: [a.links[0]!, { ...a.links[1]!, addresses: ['10.1.0.1', ''] }],
    group: { ...a.group, vip: '203.0.113.100' },
    mirror: { enabled: true, folders: 'relative/path', targetFolder: '', port: '7420' },
  };
  const { problems } = checkWizard(wrong);
  const byStep = (step: string): string[] => problems.filter((p) => stepOfProblem(wrong, p) === step).map((p) => p.field);
  assert.deepEqual(byStep('nodes'), ['cluster.id']);
  assert.ok(byStep('links').includes('heartbeat.links[1].endpoints.beta'));
  assert.deepEqual(byStep('group'), ['groups[0].resources[2].address']);
  assert.deepEqual(byStep('mirror'), ['groups[0].resources[0].folders[0]']);
});

test('the init steps name the cluster, the nodes and their addresses', () => {
  const steps = initSteps(filledAnswers());
  assert.deepEqual(steps.map((s) => s.step), ['init', 'copy', 'save', 'start', 'connect']);
  assert.deepEqual(steps[0]!.commands, ['vigil init --dir /etc/vigil/pki --cluster prod --node alpha=203.0.113.1 --node beta=203.0.113.2']);
  assert.ok(steps[1]!.commands.some((c) => c.includes('/etc/vigil/pki/nodes/beta.crt') && c.includes('root@203.0.113.2:')));
  assert.ok(!steps[1]!.commands.some((c) => c.includes('ca.key')), 'the CA key stays where it was made');
  assert.deepEqual(steps[3]!.commands, ['vigild --config /etc/vigil/cluster.yaml --node alpha', 'vigild --config /etc/vigil/cluster.yaml --node beta']);
  assert.ok(steps[4]!.commands.includes('wss://203.0.113.2:7480'));
});
