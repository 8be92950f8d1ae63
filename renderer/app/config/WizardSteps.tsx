/**
 * The wizard's steps, each a small form over part of the answers. They only collect text: what is wrong with it
 * is said by the agent's loader, through the problems each step receives.
 */
import type { ReactNode } from 'react';
import type { ConfigProblem } from '../../../common/config/load.js';
import type { NodePair, WizardAnswers, WizardLink } from '../../config/wizard-config.js';
import { useT } from '../context.js';

export type Update = (change: (a: WizardAnswers) => WizardAnswers) => void;
export interface StepProps { readonly answers: WizardAnswers; readonly update: Update }

function pair<T>(p: NodePair<T>, index: number, value: T): NodePair<T> {
  return index === 0 ? [value, p[1]] : [p[0], value];
}

function Input({ label, value, onChange, testId, placeholder }: {
  readonly label: string; readonly value: string; readonly onChange: (v: string) => void; readonly testId: string; readonly placeholder?: string;
}): ReactNode {
  return (
    <label className="config-field">
      <span className="config-field-label">{label}</span>
      <input value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} data-testid={testId} />
    </label>
  );
}

function Check({ label, checked, onChange, testId }: { readonly label: string; readonly checked: boolean; readonly onChange: (v: boolean) => void; readonly testId: string }): ReactNode {
  return (
    <label className="config-check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} data-testid={testId} />
      <span>{label}</span>
    </label>
  );
}

/** A labelled select over `options`; the value handed on is always one of theirs. */
function Choice<T extends string | number>({ label, value, options, onChange, testId }: {
  readonly label: string; readonly value: T; readonly options: readonly { readonly value: T; readonly label: string }[];
  readonly onChange: (v: T) => void; readonly testId: string;
}): ReactNode {
  return (
    <label className="config-field">
      <span className="config-field-label">{label}</span>
      <select value={String(value)} data-testid={testId} onChange={(e) => {
        const chosen = options.find((o) => String(o.value) === e.target.value);
        if (chosen !== undefined) onChange(chosen.value);
      }}>
        {options.map((o) => <option key={String(o.value)} value={String(o.value)}>{o.label}</option>)}
      </select>
    </label>
  );
}

export function NodesStep({ answers, update }: StepProps): ReactNode {
  const t = useT();
  return (
    <fieldset data-testid="wizard-step-nodes">
      <legend>{t('wizard.nodes.title')}</legend>
      <Input label={t('wizard.nodes.cluster')} value={answers.cluster} placeholder="prod" testId="wizard-cluster-id" onChange={(v) => update((a) => ({ ...a, cluster: v }))} />
      {answers.nodes.map((n, i) => (
        <div className="config-row" key={i}>
          <Input label={t('wizard.nodes.name', { n: i + 1 })} value={n.id} testId={`wizard-node-${i}-id`} onChange={(v) => update((a) => ({ ...a, nodes: pair(a.nodes, i, { ...a.nodes[i]!, id: v }) }))} />
          <Input label={t('wizard.nodes.address')} value={n.publicAddress} placeholder="198.51.100.1" testId={`wizard-node-${i}-address`}
            onChange={(v) => update((a) => ({ ...a, nodes: pair(a.nodes, i, { ...a.nodes[i]!, publicAddress: v }) }))} />
          <Input label={t('wizard.nodes.apiPort')} value={n.apiPort} testId={`wizard-node-${i}-api-port`}
            onChange={(v) => update((a) => ({ ...a, nodes: pair(a.nodes, i, { ...a.nodes[i]!, apiPort: v }) }))} />
          <span className="muted" data-testid={`wizard-node-${i}-url`}>{`wss://${n.publicAddress}:${n.apiPort}`}</span>
        </div>
      ))}
    </fieldset>
  );
}

/** At least two private links: losing one path must not look like a dead peer. */
const MIN_PRIVATE_LINKS = 2;

export function LinksStep({ answers, update }: StepProps): ReactNode {
  const t = useT();
  const setLink = (i: number, change: Partial<WizardLink>): void =>
    update((a) => ({ ...a, links: a.links.map((l, k) => (k === i ? { ...l, ...change } : l)) }));
  return (
    <fieldset data-testid="wizard-step-links">
      <legend>{t('wizard.links.title')}</legend>
      <p className="muted">{t('wizard.links.hint')}</p>
      {answers.links.map((l, i) => (
        <div className="config-row" key={i} data-testid={`wizard-link-${i}`}>
          <Input label={t('wizard.links.name')} value={l.name} testId={`wizard-link-${i}-name`} onChange={(v) => setLink(i, { name: v })} />
          <Choice label={t('wizard.links.kind')} value={l.kind} testId={`wizard-link-${i}-kind`} onChange={(kind) => setLink(i, { kind })}
            options={[{ value: 'udp', label: 'udp' }, { value: 'tcp', label: 'tcp' }]} />
          {answers.nodes.map((n, k) => (
            <Input key={k} label={t('wizard.links.addressOf', { node: n.id })} value={l.addresses[k as 0 | 1]} testId={`wizard-link-${i}-address-${k}`}
              onChange={(v) => setLink(i, { addresses: pair(l.addresses, k, v) })} />
          ))}
          <Input label={t('wizard.links.port')} value={l.port} testId={`wizard-link-${i}-port`} onChange={(v) => setLink(i, { port: v })} />
          <button type="button" disabled={answers.links.length <= MIN_PRIVATE_LINKS} data-testid={`wizard-link-${i}-remove`}
            onClick={() => update((a) => ({ ...a, links: a.links.filter((_, k) => k !== i) }))}>{t('wizard.links.remove')}</button>
        </div>
      ))}
      <button type="button" data-testid="wizard-link-add"
        onClick={() => update((a) => ({ ...a, links: [...a.links, { name: `priv${a.links.length + 1}`, kind: 'udp', addresses: ['', ''], port: String(7405 + a.links.length) }] }))}>
        {t('wizard.links.add')}
      </button>
      <Check label={t('wizard.links.public')} checked={answers.publicLink} testId="wizard-public-link" onChange={(v) => update((a) => ({ ...a, publicLink: v }))} />
      <Check label={t('wizard.links.serial')} checked={answers.serial.enabled} testId="wizard-serial" onChange={(v) => update((a) => ({ ...a, serial: { ...a.serial, enabled: v } }))} />
      {answers.serial.enabled && answers.nodes.map((n, k) => (
        <Input key={k} label={t('wizard.links.deviceOf', { node: n.id })} value={answers.serial.devices[k as 0 | 1]} testId={`wizard-serial-device-${k}`}
          onChange={(v) => update((a) => ({ ...a, serial: { ...a.serial, devices: pair(a.serial.devices, k, v) } }))} />
      ))}
    </fieldset>
  );
}

export function GroupStep({ answers, update }: StepProps): ReactNode {
  const t = useT();
  const g = answers.group;
  const set = (change: Partial<WizardAnswers['group']>): void => update((a) => ({ ...a, group: { ...a.group, ...change } }));
  return (
    <fieldset data-testid="wizard-step-group">
      <legend>{t('wizard.group.title')}</legend>
      <Input label={t('wizard.group.id')} value={g.id} testId="wizard-group-id" onChange={(v) => set({ id: v })} />
      <Choice label={t('wizard.group.preferred')} value={g.preferred} testId="wizard-group-preferred" onChange={(preferred) => set({ preferred })}
        options={[{ value: 0, label: answers.nodes[0].id }, { value: 1, label: answers.nodes[1].id }]} />
      <Choice label={t('wizard.group.switchback')} value={g.switchback} testId="wizard-group-switchback" onChange={(switchback) => set({ switchback })}
        options={[{ value: 'manual', label: t('wizard.group.switchbackManual') }, { value: 'auto', label: t('wizard.group.switchbackAuto') }]} />
      <Input label={t('wizard.group.vip')} value={g.vip} placeholder="198.51.100.100/24" testId="wizard-vip" onChange={(v) => set({ vip: v })} />
      <Input label={t('wizard.group.nic')} value={g.nic} placeholder="eth0" testId="wizard-nic" onChange={(v) => set({ nic: v })} />
      <Choice label={t('wizard.group.runs')} value={g.runs} testId="wizard-runs" onChange={(runs) => set({ runs })}
        options={[{ value: 'service', label: t('wizard.group.runsService') }, { value: 'script', label: t('wizard.group.runsScript') }]} />
      <Input label={g.runs === 'service' ? t('wizard.group.service') : t('wizard.group.script')} value={g.service}
        placeholder={g.runs === 'service' ? 'nginx' : '/usr/lib/ocf/resource.d/site/app'} testId="wizard-service" onChange={(v) => set({ service: v })} />
    </fieldset>
  );
}

export function MirrorStep({ answers, update }: StepProps): ReactNode {
  const t = useT();
  const m = answers.mirror;
  const set = (change: Partial<WizardAnswers['mirror']>): void => update((a) => ({ ...a, mirror: { ...a.mirror, ...change } }));
  return (
    <fieldset data-testid="wizard-step-mirror">
      <legend>{t('wizard.mirror.title')}</legend>
      <Check label={t('wizard.mirror.enabled')} checked={m.enabled} testId="wizard-mirror" onChange={(v) => set({ enabled: v })} />
      {m.enabled && (
        <>
          <label className="config-field">
            <span className="config-field-label">{t('wizard.mirror.folders')}</span>
            <textarea rows={3} value={m.folders} placeholder="/srv/data" onChange={(e) => set({ folders: e.target.value })} data-testid="wizard-mirror-folders" />
          </label>
          <Input label={t('wizard.mirror.target')} value={m.targetFolder} testId="wizard-mirror-target" onChange={(v) => set({ targetFolder: v })} />
          <Input label={t('wizard.mirror.port')} value={m.port} testId="wizard-mirror-port" onChange={(v) => set({ port: v })} />
          <p className="muted">{t('wizard.mirror.hint')}</p>
        </>
      )}
    </fieldset>
  );
}

export function StepProblems({ problems }: { readonly problems: readonly ConfigProblem[] }): ReactNode {
  const t = useT();
  if (problems.length === 0) return null;
  return (
    <ul className="config-errors" data-testid="wizard-errors">
      {problems.map((p, i) => (
        <li key={i} className="level-critical" data-field={p.field}>{t('config.errors.field', { field: p.field || t('config.errors.text'), message: p.message })}</li>
      ))}
    </ul>
  );
}
