/**
 * The API's methods, each mapped onto the service that does the work. Errors that callers match on are
 * ProtocolErrors with their code; anything else becomes INTERNAL in the session.
 */
import { ProtocolError, type Results } from '../../common/protocol/api.js';
import type { Engine } from '../engine/engine.js';
import { MirrorCommandError, type MirrorService } from '../replication/service.js';
import type { StateStore } from '../store/state-store.js';
import type { Handlers } from './session.js';

export interface ConfigApi {
  get: Handlers['config.get'];
  history: Handlers['config.history'];
  validate: Handlers['config.validate'];
  propose: Handlers['config.propose'];
  rollback: Handlers['config.rollback'];
  check: Handlers['config.check'];
  prepare: Handlers['config.prepare'];
  commit: Handlers['config.commit'];
  abort: Handlers['config.abort'];
  fetch: Handlers['config.fetch'];
  current: Handlers['config.current'];
}

export interface AlertsApi {
  list: Handlers['alerts.list'];
  ack: Handlers['alerts.ack'];
  test: Handlers['alerts.test'];
}

export interface HandlerServices {
  readonly engine: Engine;
  readonly store: StateStore;
  readonly mirrors: MirrorService;
  readonly snapshot: () => Results['snapshot'];
  readonly config?: ConfigApi;
  readonly alerts?: AlertsApi;
  /** Called after a mirror command, so that subscribers see its effect at once. */
  readonly mirrorsChanged?: () => void;
}

function missing(what: string): never {
  throw new ProtocolError('UNAVAILABLE', `${what} is not available on this agent`);
}

export function buildHandlers(s: HandlerServices): Handlers {
  const config = (): ConfigApi => s.config ?? missing('cluster-wide configuration');
  const alerts = (): AlertsApi => s.alerts ?? missing('alerting');
  return {
    status: () => s.engine.status(),
    snapshot: () => s.snapshot(),
    events: (p) => s.store.queryEvents({
      ...(p.since === undefined ? {} : { since: p.since }), ...(p.until === undefined ? {} : { until: p.until }),
      ...(p.kinds === undefined ? {} : { kinds: p.kinds }), ...(p.group === undefined ? {} : { group: p.group }),
      ...(p.limit === undefined ? {} : { limit: p.limit }),
    }),
    switchover: (p) => s.engine.switchover(p.group, p.node),
    switchback: (p) => s.engine.switchback(p.group),
    maintenance: (p) => s.engine.setMaintenance(p.on),
    cleanup: (p) => s.engine.cleanup(p.group),
    'group.stop': (p) => s.engine.stopGroup(p.group),
    'group.start': (p) => s.engine.startGroup(p.group),
    mirror: async (p) => {
      try {
        return await s.mirrors.command(p.action, p.name, p.thorough === undefined ? {} : { thorough: p.thorough });
      } catch (e) {
        if (e instanceof MirrorCommandError) throw new ProtocolError(e.code, e.message);
        throw e;
      } finally {
        if (p.action !== 'status') s.mirrorsChanged?.();
      }
    },
    'audit.list': (p) => s.store.queryAudit({ ...(p.since === undefined ? {} : { since: p.since }), ...(p.limit === undefined ? {} : { limit: p.limit }) }),
    'alerts.list': (p, c) => alerts().list(p, c),
    'alerts.ack': (p, c) => alerts().ack(p, c),
    'alerts.test': (p, c) => alerts().test(p, c),
    'config.get': (p, c) => config().get(p, c),
    'config.history': (p, c) => config().history(p, c),
    'config.validate': (p, c) => config().validate(p, c),
    'config.propose': (p, c) => config().propose(p, c),
    'config.rollback': (p, c) => config().rollback(p, c),
    'config.check': (p, c) => config().check(p, c),
    'config.prepare': (p, c) => config().prepare(p, c),
    'config.commit': (p, c) => config().commit(p, c),
    'config.abort': (p, c) => config().abort(p, c),
    'config.fetch': (p, c) => config().fetch(p, c),
    'config.current': (p, c) => config().current(p, c),
  };
}
