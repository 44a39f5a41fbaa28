/**
 * The Internet checksum (RFC 1071): the one implementation for VRRP adverts,
 * announcement frames, the data-plane model and the test frame builders.
 */

/**
 * Ones'-complement sum of the 16-bit big-endian words of the concatenated
 * parts, complemented. Over data that already carries a correct checksum the
 * result is 0, which is how received packets are verified.
 */
export function internetChecksum(...parts: readonly Uint8Array[]): number {
  let sum = 0;
  let odd = false; // whether the previous part ended half-way through a word
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      sum += odd ? part[i] : part[i] << 8;
      odd = !odd;
    }
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
