/**
 * The add-cluster form's drafts and the `clusters.add` request made from them. The center validates the request
 * (and names a bad field in its BAD_PARAMS error); here only what the form itself must convert is checked: the SSH
 * port, typed as text, must become a number. Empty optional fields are left out rather than sent empty.
 */
import type { ClusterConfigInput } from '../../../common/ipc/contract.js';

export interface NodeDraft {
  readonly id: string;
  readonly url: string;
  readonly ssh: boolean;
  readonly sshHost: string;
  readonly sshPort: string;
  readonly sshUser: string;
  readonly sshPassword: string;
}

export interface ClusterDraft {
  readonly id: string;
  readonly name: string;
  readonly ca: string;
  readonly token: string;
  readonly nodes: readonly NodeDraft[];
}

export const EMPTY_NODE: NodeDraft = { id: '', url: '', ssh: false, sshHost: '', sshPort: '22', sshUser: '', sshPassword: '' };
export const EMPTY_CLUSTER: ClusterDraft = { id: '', name: '', ca: '', token: '', nodes: [EMPTY_NODE] };

export type BuiltRequest =
  | { readonly ok: true; readonly request: ClusterConfigInput }
  /** `field` is the request path the form marks (the same form as the center's `details.path`). */
  | { readonly ok: false; readonly field: string; readonly node: string };

export function buildAddRequest(d: ClusterDraft): BuiltRequest {
  const nodes: ClusterConfigInput['nodes'][number][] = [];
  for (const [i, n] of d.nodes.entries()) {
    if (!n.ssh) {
      nodes.push({ id: n.id.trim(), url: n.url.trim() });
      continue;
    }
    const portText = n.sshPort.trim();
    const port = portText === '' ? 22 : Number(portText);
    if (!/^\d+$/.test(portText === '' ? '22' : portText) || port < 1 || port > 65535) {
      return { ok: false, field: `nodes.${i}.via.port`, node: n.id.trim() === '' ? String(i + 1) : n.id.trim() };
    }
    nodes.push({
      id: n.id.trim(), url: n.url.trim(),
      via: { host: n.sshHost.trim(), port, username: n.sshUser.trim(), ...(n.sshPassword !== '' ? { password: n.sshPassword } : {}) },
    });
  }
  const token = d.token.trim();
  return {
    ok: true,
    request: {
      id: d.id.trim(), name: d.name.trim() === '' ? d.id.trim() : d.name.trim(), nodes,
      credentials: { ca: d.ca.trim() === '' ? '' : `${d.ca.trim()}\n`, ...(token !== '' ? { token } : {}) },
    },
  };
}
