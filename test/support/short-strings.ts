/**
 * Every string of 1 to `maxLength` characters drawn from `alphabet`, shortest first: the inputs of an exhaustive
 * check of a path validator against a plainer reference (slashes, dots and backslashes cover every rule).
 */
export function shortStrings(alphabet: readonly string[], maxLength: number): string[] {
  const all: string[] = [];
  let previous = [''];
  for (let length = 1; length <= maxLength; length++) {
    previous = previous.flatMap((p) => alphabet.map((c) => p + c));
    all.push(...previous);
  }
  return all;
}
