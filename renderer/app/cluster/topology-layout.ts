/**
 * The topology picture's geometry, pure so it is tested without a DOM: nodes on an ellipse (two side by side), and
 * each heartbeat link drawn as two halves, each half coloured by what its own end sees, so a link that is up one
 * way and down the other shows as such. Several links between the same pair are spread apart, parallel.
 */
import type { LinkStatus } from '../../../common/model/index.js';

export interface Point { readonly x: number; readonly y: number }

export const VIEW = { width: 640, height: 400, nodeRadius: 54 } as const;

export function layoutNodes(ids: readonly string[]): ReadonlyMap<string, Point> {
  const cx = VIEW.width / 2;
  const cy = VIEW.height / 2;
  const out = new Map<string, Point>();
  if (ids.length === 1) out.set(ids[0]!, { x: cx, y: cy });
  else if (ids.length === 2) {
    out.set(ids[0]!, { x: cx - 180, y: cy });
    out.set(ids[1]!, { x: cx + 180, y: cy });
  } else {
    // An ellipse filling the picture: the frame is wider than tall.
    const rx = VIEW.width / 2 - VIEW.nodeRadius - 40;
    const ry = VIEW.height / 2 - VIEW.nodeRadius - 10;
    ids.forEach((id, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
      out.set(id, { x: round(cx + rx * Math.cos(a)), y: round(cy + ry * Math.sin(a)) });
    });
  }
  return out;
}

/** One end's view of one link: the half from `node` to the middle of the pair. */
export interface LinkHalf {
  readonly node: string;
  readonly status: LinkStatus;
  readonly from: Point;
  readonly to: Point;
}

const SPACING = 14;

/**
 * For every node's links (as that node reports them), the half line to draw. Links to nodes without a position are
 * left out (a peer the status does not list).
 */
export function linkHalves(links: ReadonlyMap<string, readonly LinkStatus[]>, at: ReadonlyMap<string, Point>): LinkHalf[] {
  // The link names of each unordered pair, in one order both ends agree on, so both halves of a link line up.
  const names = new Map<string, string[]>();
  for (const [node, list] of links) {
    for (const l of list) {
      const key = pairKey(node, l.peer);
      const known = names.get(key) ?? [];
      if (!known.includes(l.link)) known.push(l.link);
      names.set(key, known);
    }
  }
  for (const list of names.values()) list.sort();

  const out: LinkHalf[] = [];
  for (const [node, list] of links) {
    const a = at.get(node);
    if (a === undefined) continue;
    for (const l of list) {
      const b = at.get(l.peer);
      if (b === undefined || l.peer === node) continue;
      const siblings = names.get(pairKey(node, l.peer))!;
      const offset = (siblings.indexOf(l.link) - (siblings.length - 1) / 2) * SPACING;
      // Offset perpendicular to the pair's line, measured in the pair's canonical direction so both ends agree.
      const [p, q] = node < l.peer ? [a, b] : [b, a];
      const len = Math.hypot(q.x - p.x, q.y - p.y) || 1;
      const nx = (-(q.y - p.y) / len) * offset;
      const ny = ((q.x - p.x) / len) * offset;
      out.push({
        node, status: l,
        from: { x: round(a.x + nx), y: round(a.y + ny) },
        to: { x: round((a.x + b.x) / 2 + nx), y: round((a.y + b.y) / 2 + ny) },
      });
    }
  }
  return out;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\0${b}` : `${b}\0${a}`;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
