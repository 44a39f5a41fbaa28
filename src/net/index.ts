/**
 * src/net: the typed face of the addon's network path — raw VRRP sockets,
 * the native advert sender thread, gratuitous ARP / unsolicited NA,
 * rtnetlink and sd_notify. docs/native-net.md tells how they work.
 */
export { NetError, PRIVILEGE_CODE, type Capability } from './errors.js';
export { monotonicMs, monotonicNs } from './clock.js';
export {
  VrrpSocket,
  VRRP_GROUP_V4,
  VRRP_GROUP_V6,
  type VrrpPacket,
  type VrrpSocketEvents,
  type VrrpSocketOptions,
} from './vrrp-socket.js';
export type { VrrpRxStats } from './native.js';
export {
  AdvertSender,
  type AdvertSenderEvents,
  type AdvertSenderOptions,
  type AdvertSenderStats,
  type LeaseHook,
} from './advert-sender.js';
export {
  announcementFrame,
  formatMac,
  garpFrame,
  icmpv6Checksum,
  ipv4Bytes,
  ipv6Bytes,
  packetSend,
  parseMac,
  sendAnnouncements,
  unsolicitedNaFrame,
  type AnnounceOptions,
  type Announcement,
} from './announce.js';
export {
  addAddress,
  addresses,
  linkInfo,
  linkLocalAddress,
  LinkWatcher,
  neighbours,
  NeighbourWatcher,
  parseCidr,
  removeAddress,
  resolveNeighbour,
  solicitNeighbour,
  usableNeighbour,
  type AddAddressOptions,
  type AddressInfo,
  type LinkInfo,
  type LinkRef,
  type LinkState,
  type LinkWatcherEvents,
  type Neighbour,
  type NeighbourEvent,
  type NeighbourWatcherEvents,
} from './rtnl.js';
export { sdNotify } from './sd-notify.js';
export { peerCredentials, type PeerCredentials } from './peer-credentials.js';
