/** Ways to cut a byte stream into chunks, as a network would deliver it: for push parsers' tests. */

export function* byteByByte(stream: Buffer): Generator<Buffer> {
  for (let i = 0; i < stream.length; i++) yield stream.subarray(i, i + 1);
}

/** The stream cut at the given offsets (sorted, inside the stream). */
export function splitAt(stream: Buffer, offsets: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of offsets) {
    chunks.push(stream.subarray(from, at));
    from = at;
  }
  chunks.push(stream.subarray(from));
  return chunks;
}
