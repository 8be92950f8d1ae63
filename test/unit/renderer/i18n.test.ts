// The console's languages: zh-CN has exactly en's keys and placeholders (also checked at compile time), real text,
// and t() substitutes parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { en, zhCN, translate, translator, isLanguage, type MessageKey, type Placeholders } from '../../../renderer/i18n/index.js';
import { RESOURCE_STATES, USER_ROLES, type MirrorState } from '../../../common/model/index.js';
import type { CenterNodeView } from '../../../common/ipc/contract.js';

const placeholders = (s: string): string[] => [...s.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!).sort();

test('zh-CN has exactly en\'s keys, each with the same placeholders, and is translated', () => {
  assert.deepEqual(Object.keys(zhCN).sort(), Object.keys(en).sort());
  for (const key of Object.keys(en) as MessageKey[]) {
    assert.deepEqual(placeholders(zhCN[key]), placeholders(en[key]), key);
    assert.notEqual(zhCN[key].trim(), '', key);
  }
  const untranslated = (Object.keys(en) as MessageKey[]).filter((k) => zhCN[k] === en[k] && !k.startsWith('link.kind.'));
  assert.deepEqual(untranslated, []);
  assert.ok(/[\u4e00-\u9fff]/.test(zhCN['node.down']), 'real Chinese');
});

test('every state the stores produce has a string', () => {
  const mirror: MirrorState[] = ['in-sync', 'lagging', 'resyncing', 'paused', 'disconnected', 'diverged', 'inconsistent', 'idle'];
  const conn: CenterNodeView['state'][] = ['idle', 'connecting', 'connected', 'reconnecting', 'refused', 'closed'];
  const keys = [
    ...mirror.map((m) => `mirror.${m}`), ...RESOURCE_STATES.map((r) => `resource.${r}`), ...conn.map((c) => `connection.${c}`),
    ...USER_ROLES.map((r) => `role.${r}`), 'role.source', 'role.target', 'node.up', 'node.down', 'link.up', 'link.down',
    'health.ok', 'health.warning', 'health.critical', 'health.unknown',
  ];
  for (const k of keys) assert.ok(Object.prototype.hasOwnProperty.call(en, k), k);
});

test('t substitutes parameters, in both languages', () => {
  assert.equal(translate('en', 'issue.linkDown', { link: 'lan', node: 'a', peer: 'b' }), 'Link lan from a to b is down');
  assert.equal(translate('zh-CN', 'issue.linkDown', { link: 'lan', node: 'a', peer: 'b' }), '节点 a 到 b 的心跳链路 lan 已中断');
  const t = translator('zh-CN');
  assert.equal(t('resource.failed'), '故障');
  assert.equal(t('app.loadFailed', { message: 'x{y}' }), '无法加载集群：x{y}', 'a value is not substituted again');
  assert.equal(translator('en')('issue.nodeDown', { node: 7 }), 'Node 7 is down');
  assert.equal(isLanguage('zh-CN'), true);
  assert.equal(isLanguage('fr'), false);
});

test('the parameters are typed from the English text', () => {
  const p: Placeholders<(typeof en)['issue.linkDown']>[] = ['link', 'node', 'peer'];
  assert.equal(p.length, 3);
  // @ts-expect-error a missing parameter is a compile error
  translate('en', 'issue.nodeDown', {});
  // @ts-expect-error an unknown key is a compile error
  translate('en', 'no.such.key');
});
