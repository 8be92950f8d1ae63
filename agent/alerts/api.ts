/** The API's alert methods over the dispatcher. */
import { ProtocolError } from '../../common/protocol/api.js';
import type { AlertsApi } from '../api/handlers.js';
import { AlertError } from './channel.js';
import type { AlertDispatcher } from './dispatcher.js';

function mapped<T>(work: () => T | Promise<T>): Promise<T> {
  return Promise.resolve().then(work).catch((e: unknown) => {
    if (e instanceof AlertError) throw new ProtocolError(e.code === 'VIGIL_ALERT_UNKNOWN_ALERT' || e.code === 'VIGIL_ALERT_UNKNOWN_CHANNEL' ? 'NOT_FOUND' : 'INTERNAL', e.message);
    throw e;
  });
}

export function alertsApi(dispatcher: AlertDispatcher): AlertsApi {
  return {
    list: (p) => dispatcher.recent(p.limit ?? 50),
    ack: (p, caller) => mapped(() => dispatcher.acknowledge(p.id, caller.principal.name)),
    test: (p) => mapped(async () => (await dispatcher.test(p.channel)).map((d) => ({
      channel: d.channel, ok: d.status === 'ok', ...(d.status === 'failed' ? { error: `${d.error.code}: ${d.error.message}` } : {}),
    }))),
  };
}
