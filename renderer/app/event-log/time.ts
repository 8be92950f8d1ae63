/** Times as the events screen shows and reads them: the operator's local time, to the minute in the filters. */

/** "YYYY-MM-DDTHH:mm" in local time, the value an `<input type="datetime-local">` holds. */
export function toLocalInput(at: number): string {
  const d = new Date(at);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** The instant a datetime-local value names (local time); undefined when empty or not a date. */
export function fromLocalInput(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value)) return undefined;
  const at = new Date(value).getTime(); // a date-time without an offset is local time (ECMA-262 Date.parse)
  return Number.isNaN(at) ? undefined : at;
}

export function formatEventTime(at: number, language: string): string {
  return new Date(at).toLocaleString(language, { hour12: false });
}
