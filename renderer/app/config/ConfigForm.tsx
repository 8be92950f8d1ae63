/**
 * The form over the common parts of the configuration: the cluster, its nodes, the heartbeat links, the groups
 * and their resources, the mirrors and the alerts. It edits the parsed document and hands back the new text;
 * everything else (timeouts, OCF parameters, ...) stays in the YAML editor beside it.
 */
import { useMemo, type ReactNode } from 'react';
import type { Document } from 'yaml';
import { appendItem, editText, parseForEditing, valueAt, type FieldPath } from '../../config/config-text.js';
import { useT } from '../context.js';
import { Field, type FieldKind, type ProblemIndex } from './Field.js';

export interface ConfigFormProps {
  readonly text: string;
  readonly problems: ProblemIndex;
  readonly onText: (text: string) => void;
}

type Row = Readonly<Record<string, unknown>>;

/**
 * What "add" writes: the fields the schema requires, left empty, so the new entry's problems point at exactly the
 * fields still to fill in.
 */
const RESOURCE_TEMPLATES = {
  vip: (id: string) => ({ id, kind: 'vip', address: '' }),
  service: (id: string) => ({ id, kind: 'service', name: '' }),
  ocf: (id: string) => ({ id, kind: 'ocf', agent: '' }),
  mirror: (id: string) => ({ id, kind: 'mirror', folders: [''], endpoints: {} }),
} as const;
const CHANNEL_TEMPLATES = {
  email: (name: string) => ({ name, kind: 'email', smtp: { host: '' }, from: '', to: [''] }),
  webhook: (name: string) => ({ name, kind: 'webhook', url: '' }),
  syslog: (name: string) => ({ name, kind: 'syslog', transport: 'udp', address: '' }),
} as const;

/** A select that adds an entry of the kind picked, and goes back to its label. */
function AddMenu<K extends string>({ label, kinds, onPick, testId }: {
  readonly label: string; readonly kinds: readonly K[]; readonly onPick: (kind: K) => void; readonly testId: string;
}): ReactNode {
  return (
    <select value="" data-testid={testId} onChange={(e) => {
      const kind = kinds.find((k) => k === e.target.value);
      if (kind !== undefined) onPick(kind);
    }}>
      <option value="">{label}</option>
      {kinds.map((k) => <option key={k} value={k}>{k}</option>)}
    </select>
  );
}

/** An id not used yet among `taken`: base, base2, base3 ... */
function freshId(base: string, taken: readonly string[]): string {
  if (!taken.includes(base)) return base;
  let n = 2;
  while (taken.includes(`${base}${n}`)) n++;
  return `${base}${n}`;
}

function rows(doc: Document, path: FieldPath): Row[] {
  const v = valueAt(doc, path);
  return Array.isArray(v) ? v.map((r): Row => (typeof r === 'object' && r !== null ? r as Row : {})) : [];
}

function ids(list: readonly Row[], key = 'id'): string[] {
  return list.map((r) => r[key]).filter((v): v is string => typeof v === 'string');
}

export function ConfigForm({ text, problems, onText }: ConfigFormProps): ReactNode {
  const t = useT();
  const { doc, ok } = useMemo(() => parseForEditing(text), [text]);
  if (!ok) return <p className="muted" data-testid="config-form-syntax">{t('config.form.syntax')}</p>;

  const edit = (path: FieldPath, value: unknown): void => onText(editText(text, path, value));
  const add = (path: FieldPath, item: unknown): void => onText(appendItem(text, path, item));
  const field = (path: FieldPath, label: string, kind: FieldKind = 'text', options?: readonly string[]): ReactNode => (
    <Field key={path.join('.')} doc={doc} path={path} label={label} kind={kind} problems={problems} onEdit={edit} {...(options === undefined ? {} : { options })} />
  );
  const remove = (path: FieldPath, testId: string): ReactNode => (
    <button type="button" className="danger" onClick={() => edit(path, undefined)} data-testid={testId}>{t('config.form.remove')}</button>
  );

  const nodes = rows(doc, ['nodes']);
  const nodeIds = ids(nodes);
  const links = rows(doc, ['heartbeat', 'links']);
  const groups = rows(doc, ['groups']);
  const channels = rows(doc, ['alerts', 'channels']);
  const rules = rows(doc, ['alerts', 'rules']);

  return (
    <div className="config-form" data-testid="config-form">
      <fieldset>
        <legend>{t('config.form.cluster')}</legend>
        {field(['cluster', 'id'], t('config.form.clusterId'))}
        {field(['cluster', 'keyFile'], t('config.form.keyFile'))}
        {field(['cluster', 'startupGrace'], t('config.form.startupGrace'))}
      </fieldset>

      <fieldset>
        <legend>{t('config.form.nodes')}</legend>
        {nodes.map((_, i) => (
          <div className="config-row" key={i} data-testid={`config-node-${i}`}>
            {field(['nodes', i, 'id'], t('config.form.nodeId'))}
            {field(['nodes', i, 'api'], t('config.form.nodeApi'))}
            {remove(['nodes', i], `config-node-${i}-remove`)}
          </div>
        ))}
        <button type="button" onClick={() => add(['nodes'], { id: `node${nodes.length + 1}` })} data-testid="config-node-add">{t('config.form.addNode')}</button>
      </fieldset>

      <fieldset>
        <legend>{t('config.form.links')}</legend>
        {links.map((_, i) => {
          const at = ['heartbeat', 'links', i];
          return (
            <div className="config-row" key={i} data-testid={`config-link-${i}`}>
              {field([...at, 'name'], t('config.form.linkName'))}
              {field([...at, 'kind'], t('config.form.linkKind'), 'text', ['udp', 'tcp', 'serial'])}
              {field([...at, 'role'], t('config.form.linkRole'), 'text', ['private', 'public'])}
              {field([...at, 'interval'], t('config.form.interval'))}
              {field([...at, 'deadTime'], t('config.form.deadTime'))}
              {nodeIds.map((n) => field([...at, 'endpoints', n], t('config.form.endpointOf', { node: n })))}
              {remove(at, `config-link-${i}-remove`)}
            </div>
          );
        })}
        <button type="button" onClick={() => add(['heartbeat', 'links'], { name: `link${links.length + 1}`, kind: 'udp', endpoints: {} })} data-testid="config-link-add">
          {t('config.form.addLink')}
        </button>
      </fieldset>

      <fieldset>
        <legend>{t('config.form.groups')}</legend>
        {groups.map((g, i) => <GroupFields key={i} group={g} index={i} nodeIds={nodeIds} field={field} edit={edit} remove={remove}
          addResource={(kind) => {
            const taken = groups.flatMap((gr) => (Array.isArray(gr.resources) ? ids(gr.resources as Row[]) : []));
            add(['groups', i, 'resources'], RESOURCE_TEMPLATES[kind](freshId(`${String(g.id)}-${kind}`, taken)));
          }} />)}
        <button type="button" data-testid="config-group-add" onClick={() => {
          const id = freshId('group', ids(groups));
          add(['groups'], { id, resources: [RESOURCE_TEMPLATES.vip(`${id}-ip`)] });
        }}>{t('config.form.addGroup')}</button>
      </fieldset>

      <fieldset data-testid="config-mirrors">
        <legend>{t('config.form.mirrors')}</legend>
        {groups.flatMap((g, i) => rows(doc, ['groups', i, 'resources']).map((r, j) => (r.kind !== 'mirror' ? null : (
          <MirrorFields key={`${i}.${j}`} at={['groups', i, 'resources', j]} mirror={r} groupNodes={groupNodes(g, nodeIds)} field={field} />
        ))))}
      </fieldset>

      <fieldset>
        <legend>{t('config.form.alerts')}</legend>
        {field(['alerts', 'throttle'], t('config.form.throttle'))}
        {channels.map((c, i) => {
          const at = ['alerts', 'channels', i];
          return (
            <div className="config-row" key={i} data-testid={`config-channel-${i}`}>
              {field([...at, 'name'], t('config.form.channelName'))}
              <span className="muted">{String(c.kind)}</span>
              {c.kind === 'email' && [field([...at, 'smtp', 'host'], t('config.form.smtpHost')), field([...at, 'from'], t('config.form.mailFrom')), field([...at, 'to'], t('config.form.mailTo'), 'list')]}
              {c.kind === 'webhook' && field([...at, 'url'], t('config.form.url'))}
              {c.kind === 'syslog' && [field([...at, 'transport'], t('config.form.transport'), 'text', ['udp', 'tcp', 'unix']), field([...at, 'address'], t('config.form.address'))]}
              {remove(at, `config-channel-${i}-remove`)}
            </div>
          );
        })}
        <AddMenu label={t('config.form.addChannel')} kinds={['email', 'webhook', 'syslog'] as const} testId="config-channel-add"
          onPick={(kind) => add(['alerts', 'channels'], CHANNEL_TEMPLATES[kind](freshId(kind, ids(channels, 'name'))))} />
        {rules.map((_, i) => {
          const at = ['alerts', 'rules', i];
          return (
            <div className="config-row" key={i} data-testid={`config-rule-${i}`}>
              {field([...at, 'channels'], t('config.form.ruleChannels'), 'list')}
              {field([...at, 'minSeverity'], t('config.form.minSeverity'), 'text', ['info', 'warning', 'critical'])}
              {field([...at, 'groups'], t('config.form.ruleGroups'), 'list')}
              {remove(at, `config-rule-${i}-remove`)}
            </div>
          );
        })}
        <button type="button" onClick={() => add(['alerts', 'rules'], { channels: ids(channels, 'name').slice(0, 1) })} data-testid="config-rule-add">{t('config.form.addRule')}</button>
      </fieldset>
    </div>
  );
}

type FieldFn = (path: FieldPath, label: string, kind?: FieldKind, options?: readonly string[]) => ReactNode;

/** The nodes allowed to run a group, most preferred first: its list, or every node in order. */
function groupNodes(group: Row, nodeIds: readonly string[]): string[] {
  return Array.isArray(group.nodes) ? group.nodes.filter((n): n is string => typeof n === 'string') : [...nodeIds];
}

function GroupFields({ group, index, nodeIds, field, edit, remove, addResource }: {
  readonly group: Row; readonly index: number; readonly nodeIds: readonly string[]; readonly field: FieldFn;
  readonly edit: (path: FieldPath, value: unknown) => void; readonly remove: (path: FieldPath, testId: string) => ReactNode;
  readonly addResource: (kind: keyof typeof RESOURCE_TEMPLATES) => void;
}): ReactNode {
  const t = useT();
  const at = ['groups', index];
  const allowed = groupNodes(group, nodeIds);
  const resources = Array.isArray(group.resources) ? group.resources as Row[] : [];
  return (
    <div className="config-group" data-testid={`config-group-${index}`}>
      <div className="config-row">
        {field([...at, 'id'], t('config.form.groupId'))}
        {field([...at, 'switchback'], t('config.form.switchback'), 'text', ['auto', 'manual'])}
        <label className="config-field">
          <span className="config-field-label">{t('config.form.preferred')}</span>
          {/* The preferred node is the first of the group's nodes: choosing one moves it to the front. */}
          <select value={allowed[0] ?? ''} data-testid={`config-group-${index}-preferred`}
            onChange={(e) => edit([...at, 'nodes'], [e.target.value, ...allowed.filter((n) => n !== e.target.value)])}>
            {(allowed.length > 0 ? allowed : nodeIds).map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        {field([...at, 'nodes'], t('config.form.groupNodes'), 'list')}
        {field([...at, 'switchbackDelay'], t('config.form.switchbackDelay'))}
        {field([...at, 'migrationThreshold'], t('config.form.migrationThreshold'), 'number')}
        {remove(at, `config-group-${index}-remove`)}
      </div>
      {resources.map((r, j) => {
        const rAt = [...at, 'resources', j];
        return (
          <div className="config-row config-resource" key={j} data-testid={`config-resource-${index}-${j}`}>
            {field([...rAt, 'id'], t('config.form.resourceId'))}
            <span className="muted">{String(r.kind)}</span>
            {r.kind === 'vip' && [field([...rAt, 'address'], t('config.form.vipAddress')),
              typeof r.interface === 'object' ? <span key="nic" className="muted">{t('config.form.perNodeInText')}</span> : field([...rAt, 'interface'], t('config.form.nic'))]}
            {r.kind === 'service' && [field([...rAt, 'name'], t('config.form.serviceName')), field([...rAt, 'manager'], t('config.form.manager'), 'text', ['auto', 'systemd', 'process'])]}
            {r.kind === 'ocf' && field([...rAt, 'agent'], t('config.form.agent'))}
            {r.kind === 'mirror' && <span className="muted">{t('config.form.mirrorBelow')}</span>}
            {remove(rAt, `config-resource-${index}-${j}-remove`)}
          </div>
        );
      })}
      <AddMenu label={t('config.form.addResource')} kinds={['vip', 'service', 'ocf', 'mirror'] as const} onPick={addResource} testId={`config-group-${index}-add`} />
    </div>
  );
}

function MirrorFields({ at, mirror, groupNodes: nodes, field }: {
  readonly at: FieldPath; readonly mirror: Row; readonly groupNodes: readonly string[]; readonly field: FieldFn;
}): ReactNode {
  const t = useT();
  const folders = Array.isArray(mirror.folders) ? mirror.folders as unknown[] : [];
  return (
    <div className="config-row" data-testid={`config-mirror-${String(mirror.id)}`}>
      {field([...at, 'id'], t('config.form.mirrorId'))}
      {folders.flatMap((f, k) => (typeof f === 'string'
        ? [field([...at, 'folders', k], t('config.form.folder', { n: k + 1 }))]
        : nodes.map((n) => field([...at, 'folders', k, n], t('config.form.folderOf', { n: k + 1, node: n })))))}
      {nodes.map((n) => field([...at, 'endpoints', n], t('config.form.replicationOf', { node: n })))}
      {field([...at, 'journalSize'], t('config.form.journalSize'))}
      {field([...at, 'maxSendRate'], t('config.form.maxSendRate'))}
    </div>
  );
}
