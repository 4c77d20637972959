/**
 * The Redis Cluster hash slot of a key (CRC16/XMODEM of the key, or of its first non-empty
 * `{…}` hash tag, modulo 16384), as `CLUSTER KEYSLOT` answers it: RedisRateLimitStore groups
 * write-time reports by the master that serves their keys, so one script call carries every
 * report that master can record. Computed here rather than imported: ioredis computes it with a
 * package of its own that is not a dependency of this one (and may not be resolvable from it).
 */
export function clusterSlot(key: string): number {
  let hashed = key;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(hashed)) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc & 16383;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let index = 0; index < 256; index += 1) {
    let crc = index << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[index] = crc;
  }
  return table;
})();
