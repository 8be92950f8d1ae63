/** What bench:center and its simulator processes (center-sim.ts) say to each other, and what a burst leaves. */
export interface SimClusterSpec { readonly id: string; readonly nodes: readonly string[] }
export type SimCommand =
  | { readonly type: 'start'; readonly dir: string; readonly clusters: readonly SimClusterSpec[]; readonly groups: number }
  | { readonly type: 'burst'; readonly burst: number; readonly steps: number }
  | { readonly type: 'stop' };
export interface SimClusterReady { readonly id: string; readonly trust: string; readonly token: string; readonly ports: Readonly<Record<string, number>> }
export type SimReply =
  | { readonly type: 'ready'; readonly clusters: readonly SimClusterReady[] }
  | { readonly type: 'burst-sent'; readonly burst: number; readonly ms: number }
  | { readonly type: 'stopped' }
  | { readonly type: 'error'; readonly message: string };

/** The values the last step of a burst leaves on a node: what the center waits to see. */
export function expectedRtt(burst: number, step: number): number {
  return Math.round((0.2 + (burst % 100) * 0.01 + step * 0.0001) * 10_000) / 10_000;
}
export function expectedRunningOn(nodes: readonly string[], burst: number): string {
  return nodes[burst % nodes.length]!;
}
export const stepMessage = (burst: number, step: number): string => `bench burst ${burst} step ${step}`;
