/**
 * Test helper: the section ids of a wasm module, in order (to check what an embedded module
 * contains: no data, globals or start function).
 */
export function sectionIds(bytes: Uint8Array): number[] {
  // magic + version, then (id, LEB128 size, payload)*
  const ids: number[] = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++]!;
    let size = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++]!;
      size |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    ids.push(id);
    at += size;
  }
  return ids;
}
