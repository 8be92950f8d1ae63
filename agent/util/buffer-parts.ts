/**
 * Bytes given whole or as parts in order (their concatenation): a record's header and its data travel from the
 * read thread through the journal to the socket without ever being copied together.
 */
export type BufferParts = Buffer | readonly Buffer[];

export function partsOf(bytes: BufferParts): readonly Buffer[] {
  return Buffer.isBuffer(bytes) ? [bytes] : bytes;
}

export function partsLength(bytes: BufferParts): number {
  if (Buffer.isBuffer(bytes)) return bytes.length;
  let length = 0;
  for (const part of bytes) length += part.length;
  return length;
}

/** The bytes as one Buffer: itself, or its parts copied together, for a consumer that parses them. */
export function joinParts(bytes: BufferParts): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes);
}
