/**
 * Golden packet tests (Katran style): {description, input frame, expected
 * verdict, expected output frame} through BPF_PROG_TEST_RUN on the real
 * object, and the same frame through the TypeScript model, which must
 * agree byte for byte, reason for reason, counter for counter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xdpVerdictName } from '../../src/bpf/index.js';
import { FLOW_EVENTS, IPPROTO_TCP, IPPROTO_UDP, REASONS, type ReasonName } from '../../src/dataplane/abi.js';
import { parseAddr } from '../../src/dataplane/addr.js';
import { flowHash, hashAddr, portsWord, ringSlot } from '../model/xdp-hash.js';
import { serviceId } from '../model/xdp-model.js';
import {
  CLIENT_MAC,
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  LB_MAC,
  arp,
  arpRequestFrame,
  ether,
  icmp4,
  icmp6,
  ipv4,
  ipv6,
  mac,
  nsFrame,
  pmtuFrame,
  solicitedNode,
  tcp,
  tcpFrame,
  udpFrame,
} from '../helpers/frames.js';
import { Fixture, counterDelta, modelDelta, pendingView, seenAgeUnits, tableView, type FlowTable, type PendingTable } from './fixture.js';
import { buildCases, entryOf, pendingOf, type TableEntry } from './conn-cases.js';
import {
  EMPTY_PORT,
  MIXED_PORT,
  REAL_MACS,
  SMALL_RING_PORT,
  VIP4,
  VIP4_BARE,
  VIP4_EXPIRED,
  VIP4_INACTIVE,
  VIP4_OTHER_IFACE,
  VIP4_ROUTED,
  VIP4_VMAC,
  VIP6_VMAC,
  VMAC,
  VIP6,
  VIP6_EXPIRED,
  VIP6_INACTIVE,
  VIP6_OTHER_IFACE,
  VIP6_ROUTED,
  testState,
} from './state.js';

interface GoldenCase {
  description: string;
  input: Buffer;
  verdict: 'TX' | 'PASS';
  reason: ReasonName;
  /** Default: the input, untouched. */
  output?: Buffer;
}

const state = testState();
/** The shortest frame the kernel's test run accepts (ETH_HLEN). */
const RUNT = 14;
const C4 = '198.51.100.7';
const C6 = '2001:db8:100::7';
const ROUTER4 = '198.51.100.1';
const ROUTER6 = '2001:db8:100::1';

/** The real server's MAC for a flow, from the test state's ring and the flow hash. */
function realFor(vip: string, vport: number, proto: number, client: string, cport: number): string {
  const a = parseAddr(vip);
  const c = parseAddr(client);
  const fam = a.family;
  const svc = state.services.get(serviceId(a.addr, fam, vport, proto));
  if (!svc) throw new Error('no such service in the test state');
  const h = flowHash(hashAddr(c.addr, 0, fam), hashAddr(a.addr, 0, fam), portsWord(cport, vport));
  const real = state.rings.get(svc.ring)?.[ringSlot(h, svc.ring_size)];
  return REAL_MACS[real ?? 0];
}

function withMacs(frame: Buffer, dst: string, src: string): Buffer {
  const out = Buffer.from(frame);
  mac(dst).copy(out, 0);
  mac(src).copy(out, 6);
  return out;
}

function forwarded(frame: Buffer, realMac: string): Buffer {
  return withMacs(frame, realMac, LB_MAC);
}

function arpReply(client: string, vip: string): Buffer {
  return ether(
    { dst: CLIENT_MAC, src: LB_MAC, type: ETH_P_ARP, pad: true },
    arp({ oper: 2, sha: LB_MAC, spa: vip, tha: CLIENT_MAC, tpa: client }),
  );
}

function neighbourAdvert(client: string, vip: string): Buffer {
  const body = Buffer.concat([Buffer.from([0x60, 0, 0, 0]), parseAddr(vip).addr, Buffer.from([2, 1]), mac(LB_MAC)]);
  return ether(
    { dst: CLIENT_MAC, src: LB_MAC, type: ETH_P_IPV6 },
    ipv6({ src: vip, dst: client, nextHeader: IPPROTO_ICMPV6, hopLimit: 255 }, icmp6(vip, client, 136, 0, body)),
  );
}

function truncations(frame: Buffer, lengths: number[], what: string): GoldenCase[] {
  return lengths.map((n) => ({
    description: `${what} cut to ${n} bytes`,
    input: frame.subarray(0, n),
    verdict: 'PASS',
    reason: 'pass_truncated',
  }));
}

const tcp4 = tcpFrame({ src: C4, dst: VIP4, sport: 40000, dport: 80 });
const tcp6 = tcpFrame({ src: C6, dst: VIP6, sport: 40000, dport: 80 });
const udp4 = udpFrame({ src: C4, dst: VIP4, sport: 5353, dport: 53, payload: Buffer.from('query') });
const udp6 = udpFrame({ src: C6, dst: VIP6, sport: 5353, dport: 53, payload: Buffer.from('query') });
/** An ICMP(v6) echo request from client to vip, sent to dstMac. */
function toVmac(dstMac: string, client: string, vip: string): Buffer {
  if (client.includes(':')) return ether({ dst: dstMac, src: CLIENT_MAC, type: ETH_P_IPV6 }, ipv6({ src: client, dst: vip, nextHeader: IPPROTO_ICMPV6 }, icmp6(client, vip, 128, 0, Buffer.alloc(8))));
  return ether({ dst: dstMac, src: CLIENT_MAC, type: ETH_P_IP }, ipv4({ src: client, dst: vip, proto: IPPROTO_ICMP }, icmp4(8, 0, Buffer.alloc(4), Buffer.alloc(8))));
}

const arpReq = arpRequestFrame({ spa: C4, tpa: VIP4 });
const ns6 = nsFrame({ src: C6, target: VIP6 });
const pmtu4 = pmtuFrame({ router: ROUTER4, vip: VIP4, client: C4, vport: 80, cport: 40000 });
const ptb6 = pmtuFrame({ router: ROUTER6, vip: VIP6, client: C6, vport: 80, cport: 40000 });
const ipOptions = Buffer.from([0x94, 0x04, 0x00, 0x00]); // router alert

function tcp4Opts(ip: Parameters<typeof ipv4>[0], sport = 40000): Buffer {
  return ether(
    { dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IP },
    ipv4(ip, tcp({ src: ip.src, dst: ip.dst, sport, dport: 80 })),
  );
}

const cases: GoldenCase[] = [
  // ARP
  { description: 'ARP request for an active VIP is answered in place', input: arpReq, verdict: 'TX', reason: 'arp_reply', output: arpReply(C4, VIP4) },
  { description: 'ARP probe (sender 0.0.0.0) for an active VIP is answered', input: arpRequestFrame({ spa: '0.0.0.0', tpa: VIP4 }), verdict: 'TX', reason: 'arp_reply', output: arpReply('0.0.0.0', VIP4) },
  { description: 'ARP request for an inactive VIP passes', input: arpRequestFrame({ spa: C4, tpa: VIP4_INACTIVE }), verdict: 'PASS', reason: 'pass_inactive' },
  { description: 'ARP request for a VIP whose lease expired passes', input: arpRequestFrame({ spa: C4, tpa: VIP4_EXPIRED }), verdict: 'PASS', reason: 'pass_lease_expired' },
  { description: 'ARP request for a VIP served on another interface passes', input: arpRequestFrame({ spa: C4, tpa: VIP4_OTHER_IFACE }), verdict: 'PASS', reason: 'pass_other_iface' },
  { description: 'ARP request for a VIP of a routed instance (announce: bgp) passes', input: arpRequestFrame({ spa: C4, tpa: VIP4_ROUTED }), verdict: 'PASS', reason: 'pass_routed' },
  { description: 'ARP request for another address passes', input: arpRequestFrame({ spa: C4, tpa: '10.0.0.99' }), verdict: 'PASS', reason: 'pass_not_vip' },
  { description: 'gratuitous ARP for the VIP passes', input: arpRequestFrame({ spa: VIP4, tpa: VIP4 }), verdict: 'PASS', reason: 'pass_arp_other' },
  { description: 'ARP reply about the VIP passes', input: arpRequestFrame({ spa: C4, tpa: VIP4, oper: 2 }), verdict: 'PASS', reason: 'pass_arp_other' },
  { description: 'ARP for a non-Ethernet hardware type passes', input: (() => { const f = Buffer.from(arpReq); f.writeUInt16BE(6, 14); return f; })(), verdict: 'PASS', reason: 'pass_arp_other' },
  { description: 'VLAN-tagged ARP request passes untouched', input: arpRequestFrame({ spa: C4, tpa: VIP4, vlan: 100 }), verdict: 'PASS', reason: 'pass_vlan' },
  ...truncations(arpReq, [0, 6, 13, 14, 20, 41], 'ARP request'),

  // NDP
  { description: 'NS to the solicited-node address of an active VIP gets an NA', input: ns6, verdict: 'TX', reason: 'nd_advert', output: neighbourAdvert(C6, VIP6) },
  { description: 'unicast NS to an active VIP gets an NA', input: nsFrame({ src: C6, dst: VIP6, target: VIP6 }), verdict: 'TX', reason: 'nd_advert', output: neighbourAdvert(C6, VIP6) },
  { description: 'NS without a source link-layer option gets an NA (frame grows)', input: nsFrame({ src: C6, dst: VIP6, target: VIP6, slla: false }), verdict: 'TX', reason: 'nd_advert', output: neighbourAdvert(C6, VIP6) },
  { description: 'NS with trailing options gets an NA (frame shrinks)', input: Buffer.concat([ns6, Buffer.alloc(16, 0xee)]), verdict: 'TX', reason: 'nd_advert', output: neighbourAdvert(C6, VIP6) },
  { description: 'NS for an inactive VIP passes', input: nsFrame({ src: C6, target: VIP6_INACTIVE }), verdict: 'PASS', reason: 'pass_inactive' },
  { description: 'NS for a VIP whose lease expired passes', input: nsFrame({ src: C6, target: VIP6_EXPIRED }), verdict: 'PASS', reason: 'pass_lease_expired' },
  { description: 'NS for a VIP served on another interface passes', input: nsFrame({ src: C6, target: VIP6_OTHER_IFACE }), verdict: 'PASS', reason: 'pass_other_iface' },
  { description: 'NS for a VIP of a routed instance passes', input: nsFrame({ src: C6, target: VIP6_ROUTED }), verdict: 'PASS', reason: 'pass_routed' },
  { description: 'NS for another address passes', input: nsFrame({ src: C6, target: '2001:db8::99' }), verdict: 'PASS', reason: 'pass_not_vip' },
  { description: 'DAD probe (from ::) for the VIP passes to the kernel', input: nsFrame({ src: '::', target: VIP6 }), verdict: 'PASS', reason: 'pass_nd_other' },
  { description: 'NS with hop limit 64 (off-link) passes', input: nsFrame({ src: C6, target: VIP6, hopLimit: 64 }), verdict: 'PASS', reason: 'pass_nd_other' },
  { description: 'NS to the wrong solicited-node group passes', input: nsFrame({ src: C6, dst: solicitedNode('2001:db8::99'), target: VIP6 }), verdict: 'PASS', reason: 'pass_nd_other' },
  ...truncations(ns6, [14, 53, 54, 57, 77], 'NS'),

  // DR forwarding
  { description: 'TCP SYN to an IPv4 service goes to its real server', input: tcp4, verdict: 'TX', reason: 'forward', output: forwarded(tcp4, realFor(VIP4, 80, IPPROTO_TCP, C4, 40000)) },
  { description: 'TCP to an IPv4 service, another flow', input: tcpFrame({ src: C4, dst: VIP4, sport: 40001, dport: 80 }), verdict: 'TX', reason: 'forward', output: forwarded(tcpFrame({ src: C4, dst: VIP4, sport: 40001, dport: 80 }), realFor(VIP4, 80, IPPROTO_TCP, C4, 40001)) },
  { description: 'TCP to an IPv6 service goes to its real server', input: tcp6, verdict: 'TX', reason: 'forward', output: forwarded(tcp6, realFor(VIP6, 80, IPPROTO_TCP, C6, 40000)) },
  { description: 'UDP to an IPv4 service goes to its real server', input: udp4, verdict: 'TX', reason: 'forward', output: forwarded(udp4, realFor(VIP4, 53, IPPROTO_UDP, C4, 5353)) },
  ...[40000, 40001, 40002].map((sport): GoldenCase => {
    const f = tcpFrame({ src: C4, dst: VIP4, sport, dport: SMALL_RING_PORT });
    return { description: `TCP to a service with a 251-slot ring (flow ${sport})`, input: f, verdict: 'TX', reason: 'forward', output: forwarded(f, realFor(VIP4, SMALL_RING_PORT, IPPROTO_TCP, C4, sport)) };
  }),
  ...[40000, 40001].map((sport): GoldenCase => {
    const f = tcpFrame({ src: C6, dst: VIP6, sport, dport: SMALL_RING_PORT });
    return { description: `TCP to an IPv6 service with a 251-slot ring (flow ${sport})`, input: f, verdict: 'TX', reason: 'forward', output: forwarded(f, realFor(VIP6, SMALL_RING_PORT, IPPROTO_TCP, C6, sport)) };
  }),
  { description: 'UDP to an IPv6 service goes to its real server', input: udp6, verdict: 'TX', reason: 'forward', output: forwarded(udp6, realFor(VIP6, 53, IPPROTO_UDP, C6, 5353)) },
  { description: 'IPv4 with options is forwarded with the options intact', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, options: ipOptions }), verdict: 'TX', reason: 'forward', output: forwarded(tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, options: ipOptions }), realFor(VIP4, 80, IPPROTO_TCP, C4, 40000)) },
  { description: 'IPv4 with 40 bytes of options (IHL 15) is forwarded', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, options: Buffer.alloc(40, 1) }), verdict: 'TX', reason: 'forward', output: forwarded(tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, options: Buffer.alloc(40, 1) }), realFor(VIP4, 80, IPPROTO_TCP, C4, 40000)) },
  { description: 'TCP to a service with no backend passes', input: tcpFrame({ src: C4, dst: VIP4, sport: 40000, dport: EMPTY_PORT }), verdict: 'PASS', reason: 'pass_no_backend' },
  { description: 'TCP to a service of an inactive instance passes', input: tcpFrame({ src: C4, dst: VIP4_INACTIVE, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_inactive' },
  { description: 'TCP to an IPv6 service of an inactive instance passes', input: tcpFrame({ src: C6, dst: VIP6_INACTIVE, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_inactive' },
  { description: 'TCP to a service whose lease expired passes', input: tcpFrame({ src: C4, dst: VIP4_EXPIRED, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_lease_expired' },
  { description: 'TCP to an IPv6 service whose lease expired passes', input: tcpFrame({ src: C6, dst: VIP6_EXPIRED, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_lease_expired' },
  { description: 'TCP to a service whose VIP is served on another interface passes', input: tcpFrame({ src: C4, dst: VIP4_OTHER_IFACE, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_other_iface' },
  { description: 'TCP to an IPv6 service served on another interface passes', input: tcpFrame({ src: C6, dst: VIP6_OTHER_IFACE, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_other_iface' },
  { description: 'TCP to a VIP port with no service passes', input: tcpFrame({ src: C4, dst: VIP4, sport: 40000, dport: 22 }), verdict: 'PASS', reason: 'pass_no_service' },
  { description: 'TCP to a VIP without services passes', input: tcpFrame({ src: C4, dst: VIP4_BARE, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_no_service' },
  { description: 'UDP to the TCP-only port passes', input: udpFrame({ src: C4, dst: VIP4, sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_no_service' },
  { description: 'TCP to another address passes', input: tcpFrame({ src: C4, dst: '10.0.0.99', sport: 40000, dport: 80 }), verdict: 'PASS', reason: 'pass_not_vip' },
  { description: 'VRRP advertisement passes', input: ether({ dst: '01:00:5e:00:00:12', src: CLIENT_MAC, type: ETH_P_IP }, ipv4({ src: C4, dst: '224.0.0.18', proto: 112, ttl: 255 }, Buffer.from('3133000108000000', 'hex'))), verdict: 'PASS', reason: 'pass_not_vip' },
  { description: 'ICMP echo to the VIP passes', input: ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IP }, ipv4({ src: C4, dst: VIP4, proto: IPPROTO_ICMP }, icmp4(8, 0, Buffer.alloc(4), Buffer.alloc(8)))), verdict: 'PASS', reason: 'pass_icmp_other' },
  { description: 'ICMPv6 echo to the VIP passes', input: ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IPV6 }, ipv6({ src: C6, dst: VIP6, nextHeader: IPPROTO_ICMPV6 }, icmp6(C6, VIP6, 128, 0, Buffer.alloc(8)))), verdict: 'PASS', reason: 'pass_icmp_other' },

  // A virtual MAC (instances[].vmac): what the program passes to the kernel is re-addressed to the interface's MAC
  { description: 'ICMP echo to a vmac VIP, sent to the virtual MAC, passes re-addressed to the host', input: toVmac(VMAC, C4, VIP4_VMAC), verdict: 'PASS', reason: 'pass_icmp_other', output: toVmac(LB_MAC, C4, VIP4_VMAC) },
  { description: 'ICMPv6 echo to a vmac VIP, sent to the virtual MAC, passes re-addressed to the host', input: toVmac(VMAC, C6, VIP6_VMAC), verdict: 'PASS', reason: 'pass_icmp_other', output: toVmac(LB_MAC, C6, VIP6_VMAC) },
  { description: 'TCP to a port of a vmac VIP that no service has passes re-addressed to the host', input: tcpFrame({ src: C4, dst: VIP4_VMAC, sport: 40000, dport: 22, dstMac: VMAC }), verdict: 'PASS', reason: 'pass_no_service', output: tcpFrame({ src: C4, dst: VIP4_VMAC, sport: 40000, dport: 22, dstMac: LB_MAC }) },
  { description: 'a frame to another VRID\'s virtual MAC passes untouched', input: toVmac('00:00:5e:00:01:34', C4, VIP4_VMAC), verdict: 'PASS', reason: 'pass_icmp_other' },
  { description: 'a frame to the virtual MAC for a VIP of an instance without vmac passes untouched', input: toVmac(VMAC, C4, VIP4), verdict: 'PASS', reason: 'pass_icmp_other' },
  { description: 'a frame to the virtual MAC for an inactive VIP passes untouched (a BACKUP takes nothing)', input: toVmac(VMAC, C4, VIP4_INACTIVE), verdict: 'PASS', reason: 'pass_icmp_other' },
  { description: 'VLAN-tagged TCP to the service passes untouched', input: tcpFrame({ src: C4, dst: VIP4, sport: 40000, dport: 80, vlan: 7 }), verdict: 'PASS', reason: 'pass_vlan' },
  { description: 'an unknown ethertype passes', input: ether({ dst: LB_MAC, src: CLIENT_MAC, type: 0x88cc, pad: true }, Buffer.alloc(10)), verdict: 'PASS', reason: 'pass_ethertype' },

  // PMTU
  { description: 'ICMP frag-needed about a service flow goes to the flow\'s real server', input: pmtu4, verdict: 'TX', reason: 'icmp_forward', output: forwarded(pmtu4, realFor(VIP4, 80, IPPROTO_TCP, C4, 40000)) },
  { description: 'ICMPv6 packet-too-big about a service flow goes to the flow\'s real server', input: ptb6, verdict: 'TX', reason: 'icmp_forward', output: forwarded(ptb6, realFor(VIP6, 80, IPPROTO_TCP, C6, 40000)) },
  { description: 'frag-needed about a port with no service passes', input: pmtuFrame({ router: ROUTER4, vip: VIP4, client: C4, vport: 22, cport: 40000 }), verdict: 'PASS', reason: 'pass_icmp_other' },
  { description: 'packet-too-big about a UDP flow without service passes', input: pmtuFrame({ router: ROUTER6, vip: VIP6, client: C6, vport: 80, cport: 40000, proto: IPPROTO_UDP }), verdict: 'PASS', reason: 'pass_icmp_other' },
  { description: 'frag-needed about an inactive VIP passes', input: pmtuFrame({ router: ROUTER4, vip: VIP4_INACTIVE, client: C4, vport: 80, cport: 40000 }), verdict: 'PASS', reason: 'pass_inactive' },
  ...truncations(pmtu4, [34, 41, 42, 61, 62, 65], 'frag-needed'),
  ...truncations(ptb6, [54, 57, 58, 61, 62, 101, 102, 105], 'packet-too-big'),

  // Fragments and malformed IPv4
  { description: 'first IPv4 fragment to the service passes', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, fragWord: 0x2000 }), verdict: 'PASS', reason: 'pass_fragment' },
  { description: 'non-first IPv4 fragment to the service passes', input: ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IP }, ipv4({ src: C4, dst: VIP4, proto: IPPROTO_TCP, fragWord: 0x0010 }, Buffer.alloc(64, 7))), verdict: 'PASS', reason: 'pass_fragment' },
  { description: 'IPv4 fragment to another address passes as not ours', input: tcp4Opts({ src: C4, dst: '10.0.0.99', proto: IPPROTO_TCP, fragWord: 0x2000 }), verdict: 'PASS', reason: 'pass_not_vip' },
  { description: 'IPv6 fragment header to the VIP passes', input: ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IPV6 }, ipv6({ src: C6, dst: VIP6, nextHeader: 44 }, Buffer.alloc(32, 0))), verdict: 'PASS', reason: 'pass_fragment' },
  { description: 'IPv6 hop-by-hop options to the VIP pass', input: ether({ dst: LB_MAC, src: CLIENT_MAC, type: ETH_P_IPV6 }, ipv6({ src: C6, dst: VIP6, nextHeader: 0 }, Buffer.alloc(32, 0))), verdict: 'PASS', reason: 'pass_ipv6_ext' },
  { description: 'IPv4 with IHL 4 passes as malformed', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, ihl: 4 }), verdict: 'PASS', reason: 'pass_malformed' },
  { description: 'IPv4 with IHL 0 passes as malformed', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, ihl: 0 }), verdict: 'PASS', reason: 'pass_malformed' },
  { description: 'IPv4 with total length below its header passes as malformed', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, totLen: 19 }), verdict: 'PASS', reason: 'pass_malformed' },
  { description: 'IPv4 ethertype with version 6 passes as malformed', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, version: 6 }), verdict: 'PASS', reason: 'pass_malformed' },
  { description: 'IPv4 with IHL 15 but a short frame passes as truncated', input: tcp4Opts({ src: C4, dst: VIP4, proto: IPPROTO_TCP, ihl: 15, totLen: 100 }).subarray(0, 60), verdict: 'PASS', reason: 'pass_truncated' },
  { description: 'IPv6 ethertype with version 4 passes as malformed', input: (() => { const f = Buffer.from(tcp6); f[14] = 0x40; return f; })(), verdict: 'PASS', reason: 'pass_malformed' },
  ...truncations(tcp4, [0, 13, 14, 33, 34, 37, 53], 'TCP/IPv4'),
  ...truncations(tcp6, [14, 53, 54, 57, 73], 'TCP/IPv6'),
  ...truncations(udp4.subarray(0, 47), [34, 41], 'UDP/IPv4'),
  ...truncations(udp6, [54, 61], 'UDP/IPv6'),
];

describe('vipd_xdp golden packets', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await Fixture.load(state);
  });
  afterAll(() => fx?.close());

  it.each(cases.map((c) => [c.description, c] as const))('%s', (_d, c) => {
    const expected = (c.output ?? c.input).toString('hex');
    if (c.input.length < RUNT) {
      // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header
      // (EINVAL), so only the model sees these; the program's check stays.
      const m = fx.model(c.input);
      expect(m.reasonName).toBe(c.reason);
      expect(m.output.toString('hex')).toBe(expected);
      return;
    }
    const before = fx.readCounters();
    const k = fx.kernel(c.input);
    const after = fx.readCounters();
    const m = fx.model(c.input);

    expect(xdpVerdictName(k.action)).toBe(c.verdict);
    expect(k.output.toString('hex')).toBe(expected);
    expect(m.reasonName).toBe(c.reason);
    expect(xdpVerdictName(m.action)).toBe(c.verdict);
    expect(m.output.toString('hex')).toBe(expected);
    expect(counterDelta(before, after)).toEqual(modelDelta(m));
  });

  it('covers every verdict reason', () => {
    const covered = new Set<string>(cases.map((c) => c.reason));
    expect(REASONS.filter((r) => !covered.has(r))).toEqual([]);
  });

  it('MIXED ring: slots naming an invalid real server pass, the rest forward', () => {
    let forwardedN = 0;
    let passed = 0;
    for (let port = 30000; port < 30064; port++) {
      const f = tcpFrame({ src: C4, dst: VIP4, sport: port, dport: MIXED_PORT });
      const k = fx.kernel(f);
      const m = fx.model(f);
      expect(m.output.equals(k.output)).toBe(true);
      expect(m.action).toBe(k.action);
      if (m.reasonName === 'forward') forwardedN++;
      else if (m.reasonName === 'pass_no_backend') passed++;
    }
    expect(forwardedN).toBeGreaterThan(0);
    expect(passed).toBeGreaterThan(0);
  });
});

/** A case's expected table in tableView()'s form. */
function expectedView(st: typeof state, entries: TableEntry[]): string[] {
  return entries
    .map((e) => {
      const { id, hash } = entryOf(st, e);
      return `${id} real=${e.real} hash=${hash} flags=${e.flags ?? 0}`;
    })
    .sort();
}

function tableOf(st: typeof state, entries: TableEntry[] = []): FlowTable {
  return new Map(
    entries.map((e) => {
      const { id, hash } = entryOf(st, e);
      return [id, { real: e.real, hash, seen: 0, flags: e.flags ?? 0 }];
    }),
  );
}

/** A case's expected pending tags in pendingView()'s form. */
function expectedPendingView(st: typeof state, entries: TableEntry[]): string[] {
  return entries
    .map((e) => {
      const { id, tag } = pendingOf(st, e);
      return `${id} tag=${tag.toString(16)} real=${e.real}`;
    })
    .sort();
}

function pendingTableOf(st: typeof state, entries: TableEntry[] = []): PendingTable {
  return new Map(
    entries.map((e) => {
      const { id, tag } = pendingOf(st, e);
      return [id, { tag, real: e.real, seen: 0 }];
    }),
  );
}

describe('vipd_xdp connection table', () => {
  // A state of its own: these cases write its tables.
  const tstate = testState();
  // A small pending array, as before ABI 7's arrays: cases find tags sharing an index quickly.
  tstate.limits.pending = 256;
  let fx: Fixture;
  beforeAll(async () => {
    fx = await Fixture.load(tstate, { flows: 1024 });
  });
  afterAll(() => fx?.close());

  it.each(buildCases(tstate).map((c) => [c.description, c] as const))('%s', (_d, c) => {
    tstate.flows = tableOf(tstate, c.flows);
    tstate.pending = pendingTableOf(tstate, c.pending);
    fx.writeTable(tstate.flows);
    fx.writePending(tstate.pending);
    for (const [i, step] of c.steps.entries()) {
      const what = `step ${i} (${step.reason})`;
      const expected = (step.real === undefined ? step.input : forwarded(step.input, REAL_MACS[step.real])).toString('hex');
      const before = fx.readCounters();
      const k = fx.kernel(step.input);
      const after = fx.readCounters();
      const m = fx.model(step.input);
      expect(k.output.toString('hex'), what).toBe(expected);
      expect(xdpVerdictName(k.action), what).toBe(step.reason.startsWith('pass') ? 'PASS' : 'TX');
      expect(m.reasonName, what).toBe(step.reason);
      expect(m.output.toString('hex'), what).toBe(expected);
      const delta = counterDelta(before, after);
      expect(delta, what).toEqual(modelDelta(m));
      const events = [...delta.keys()].filter((key) => key.startsWith('flow_stats/')).map((key) => FLOW_EVENTS[Number(key.split('/')[1])]);
      expect(events.sort(), what).toEqual([...step.events].sort());
      // The model holds what the kernel holds after every frame.
      expect(tableView(fx.readTable()), what).toEqual(tableView(tstate.flows));
      expect(pendingView(fx.readPending()), what).toEqual(pendingView(tstate.pending));
    }
    const flows = fx.readTable();
    expect(tableView(flows)).toEqual(expectedView(tstate, c.flowsAfter));
    expect(pendingView(fx.readPending())).toEqual(expectedPendingView(tstate, c.pendingAfter));
    // Entries the program wrote carry the lease clock of their last packet (~1 ms units).
    const written = new Map([...flows].filter(([id]) => !c.flows?.some((e) => entryOf(tstate, e).id === id)));
    for (const age of seenAgeUnits(written, process.hrtime.bigint())) expect(age).toBeLessThan(60_000);
  });
});
