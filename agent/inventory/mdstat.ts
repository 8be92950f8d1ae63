/** Linux software RAID as /proc/mdstat lists it, and what that means for the health of a volume on it. */
import type { VolumeHealth } from '../../common/model/inventory.js';

export interface MdMember {
  readonly device: string;
  /** Marked (F): the kernel kicked it out after errors. */
  readonly failed: boolean;
  /** Marked (S): a hot spare, not part of the redundancy yet. */
  readonly spare: boolean;
}

export interface MdArray {
  readonly name: string;
  readonly active: boolean;
  /** raid1, raid5 ...; absent for an inactive array. */
  readonly level?: string;
  readonly members: readonly MdMember[];
  /** [n/m]: the devices the array should have and those working; absent for raid0 and linear. */
  readonly expected?: number;
  readonly working?: number;
  /** The [UU_] map: U working, _ missing. */
  readonly map?: string;
  /** A rebuild or resync in progress; a check (scrub) is not listed, it does not reduce redundancy. */
  readonly sync?: { readonly action: 'recovery' | 'resync' | 'reshape'; readonly percent: number };
}

const ARRAY_LINE = /^(md\w*) : (active|inactive)(?: \([\w-]+\))*((?: [^ ]+)*)$/;
const MEMBER = /^(.+)\[\d+\]((?:\([A-Z]\))*)$/;

/** Parses /proc/mdstat; lines it does not know (bitmap, Personalities) are skipped. */
export function parseMdstat(text: string): MdArray[] {
  const arrays: MdArray[] = [];
  let current: { -readonly [K in keyof MdArray]: MdArray[K] } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const head = ARRAY_LINE.exec(line);
    if (head) {
      const words = head[3]!.trim().split(' ').filter((w) => w !== '');
      const level = head[2] === 'active' && words[0] !== undefined && !MEMBER.test(words[0]) ? words.shift() : undefined;
      const members: MdMember[] = [];
      for (const word of words) {
        const m = MEMBER.exec(word);
        if (m) members.push({ device: m[1]!, failed: m[2]!.includes('(F)'), spare: m[2]!.includes('(S)') });
      }
      current = { name: head[1]!, active: head[2] === 'active', members, ...(level === undefined ? {} : { level }) };
      arrays.push(current);
      continue;
    }
    if (current === undefined) continue;
    if (line === '') {
      current = undefined;
      continue;
    }
    const counts = /\[(\d+)\/(\d+)\] \[([U_]+)\]/.exec(line);
    if (counts) {
      current.expected = Number(counts[1]);
      current.working = Number(counts[2]);
      current.map = counts[3]!;
    }
    const sync = /\b(recovery|resync|reshape)\s*=\s*([\d.]+)%/.exec(line);
    if (sync) current.sync = { action: sync[1] as 'recovery' | 'resync' | 'reshape', percent: Number(sync[2]) };
  }
  return arrays;
}

/** The health of an array: failed when it does not run, degraded when it has lost redundancy or rebuilds. */
export function mdHealth(array: MdArray): { health: VolumeHealth; reasons: string[] } {
  if (!array.active) return { health: 'failed', reasons: [`RAID array ${array.name} is inactive`] };
  const reasons: string[] = [];
  let health: VolumeHealth = 'ok';
  if (array.expected !== undefined && array.working !== undefined && array.working < array.expected) {
    health = array.working === 0 ? 'failed' : 'degraded';
    reasons.push(`RAID array ${array.name} runs on ${array.working} of ${array.expected} devices [${array.map ?? ''}]`);
  }
  for (const member of array.members.filter((m) => m.failed)) {
    if (health === 'ok') health = 'degraded';
    reasons.push(`device ${member.device} of RAID array ${array.name} has failed: replace it`);
  }
  if (array.sync !== undefined) {
    if (health === 'ok') health = 'degraded';
    reasons.push(`RAID array ${array.name}: ${array.sync.action} at ${array.sync.percent}%`);
  }
  return { health, reasons };
}
