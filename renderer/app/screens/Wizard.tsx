/**
 * The new two-node cluster wizard: nodes, heartbeat links, a resource group, an optional mirror, then a review
 * that shows the configuration (checked with the agent's loader), lets the operator download it with the
 * `vigil init` steps to run on the nodes, or propose it to a cluster the console already reaches.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { WIZARD_STEPS, checkWizard, defaultAnswers, initSteps, stepOfProblem, type WizardAnswers } from '../../config/wizard-config.js';
import { ActionButton } from '../components/ActionButton.js';
import { useConsole, useT } from '../context.js';
import { GroupStep, LinksStep, MirrorStep, NodesStep, StepProblems, type Update } from '../config/WizardSteps.js';

export function Wizard(): ReactNode {
  const t = useT();
  const [answers, setAnswers] = useState<WizardAnswers>(defaultAnswers);
  const [stepIndex, setStepIndex] = useState(0);
  const step = WIZARD_STEPS[stepIndex]!;
  const { text, problems } = useMemo(() => checkWizard(answers), [answers]);
  const stepProblems = step === 'review' ? problems : problems.filter((p) => stepOfProblem(answers, p) === step);
  const update: Update = (change) => setAnswers(change);

  return (
    <section className="wizard" data-testid="screen-wizard">
      <h2>{t('wizard.title')}</h2>
      <ol className="wizard-steps" data-testid="wizard-step" data-step={step}>
        {WIZARD_STEPS.map((s, i) => <li key={s} className={i === stepIndex ? 'current' : undefined}>{t(`wizard.step.${s}`)}</li>)}
      </ol>
      {step === 'nodes' && <NodesStep answers={answers} update={update} />}
      {step === 'links' && <LinksStep answers={answers} update={update} />}
      {step === 'group' && <GroupStep answers={answers} update={update} />}
      {step === 'mirror' && <MirrorStep answers={answers} update={update} />}
      {step === 'review' && <Review answers={answers} text={text} valid={problems.length === 0} />}
      <StepProblems problems={stepProblems} />
      <div className="config-actions">
        <button type="button" disabled={stepIndex === 0} onClick={() => setStepIndex(stepIndex - 1)} data-testid="wizard-back">{t('wizard.back')}</button>
        {step !== 'review' && (
          <button type="button" className="primary" disabled={stepProblems.length > 0} onClick={() => setStepIndex(stepIndex + 1)} data-testid="wizard-next">
            {t('wizard.next')}
          </button>
        )}
      </div>
    </section>
  );
}

function Review({ answers, text, valid }: { readonly answers: WizardAnswers; readonly text: string; readonly valid: boolean }): ReactNode {
  const t = useT();
  return (
    <div className="wizard-review" data-testid="wizard-step-review">
      <pre className="config-version-text" data-testid="wizard-output">{text}</pre>
      {valid && (
        <>
          <a className="button" href={`data:text/yaml;charset=utf-8,${encodeURIComponent(text)}`} download="cluster.yaml" data-testid="wizard-download">{t('wizard.download')}</a>
          <div className="card" data-testid="wizard-init-steps">
            <h3>{t('wizard.init.title')}</h3>
            <ol>
              {initSteps(answers).map((s) => (
                <li key={s.step} data-testid={`wizard-init-${s.step}`}>
                  <span>{t(`wizard.init.${s.step}`, { node: answers.nodes[0].id, peer: answers.nodes[1].id })}</span>
                  <pre>{s.commands.join('\n')}</pre>
                </li>
              ))}
            </ol>
          </div>
          <Propose text={text} />
        </>
      )}
    </div>
  );
}

/** Proposes the text to a cluster the console reaches, on the generation its snapshot last reported. */
function Propose({ text }: { readonly text: string }): ReactNode {
  const t = useT();
  const reachable = useConsole((s) => s.clusterOrder.filter((id) => s.clusters[id]?.nodes.some((n) => n.state === 'connected') === true));
  const [chosen, setChosen] = useState('');
  const cluster = reachable.includes(chosen) ? chosen : reachable[0];
  const [node, generation] = useConsole((s) => {
    const n = cluster === undefined ? undefined : s.clusters[cluster]?.nodes.find((v) => v.state === 'connected');
    return [n?.node, n?.snapshot?.config.generation] as const;
  });
  if (cluster === undefined) return <p className="muted" data-testid="wizard-propose-none">{t('wizard.propose.none')}</p>;
  return (
    <div className="card" data-testid="wizard-propose-panel">
      <h3>{t('wizard.propose.title')}</h3>
      <select value={cluster} onChange={(e) => setChosen(e.target.value)} data-testid="wizard-propose-cluster">
        {reachable.map((c) => <option key={c} value={c}>{c}</option>)}
      </select>
      {node === undefined || generation === undefined ? <span className="muted">{t('config.loading')}</span> : (
        <ActionButton cluster={cluster} node={node} method="config.propose" danger
          params={{ text, baseGeneration: generation, comment: t('wizard.propose.comment') }}
          label={t('wizard.propose.button')} confirm={t('wizard.propose.confirm', { cluster, generation })} testId="wizard-propose" />
      )}
    </div>
  );
}
