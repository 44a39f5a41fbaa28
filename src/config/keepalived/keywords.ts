/**
 * keepalived keywords vipd knows it does not carry over, with the reason
 * shown to the user. A keyword in none of these tables and not handled by
 * the converter is reported as unknown (likely misspelled).
 */
import { suggestion } from '../yaml-reader.js';
import type { DiagnosticLog } from './diagnostics.js';
import type { Statement } from './parser.js';
import { describe } from './values.js';

const NO_EMAIL = 'vipd sends no e-mail; use a notify command';
const NO_FIREWALL = 'vipd does not manage iptables/nftables; the XDP program only answers for configured VIPs';
const TUNING = 'keepalived process tuning; vipd has its own';

export const TOP_LEVEL_UNSUPPORTED: Readonly<Record<string, string>> = {
  virtual_server_group: 'vipd services are one VIP and port each; write one service per VIP',
  static_ipaddress: 'vipd does not manage static addresses; use the system network config',
  static_routes: 'vipd does not manage routes; use the system network config',
  static_rules: 'vipd does not manage policy rules; use the system network config',
  vrrp_track_process: 'process tracking has no vipd equivalent; use a track script',
  vrrp_track_file: 'file tracking has no vipd equivalent; use a track script',
  track_file: 'file tracking has no vipd equivalent; use a track script',
  linkbeat_interfaces: 'vipd follows the link state from netlink',
  net_namespace: 'run vipd inside the namespace instead (ip netns exec)',
  bfd_instance: 'BFD has no vipd equivalent',
  garp_group: 'per-interface GARP groups have no vipd equivalent; set garp per instance',
};

export const GLOBAL_NOTES: Readonly<Record<string, string>> = {
  router_id: 'only names this host in keepalived e-mails and logs; not needed',
  script_user: 'vipd runs commands as its own user',
  enable_script_security: 'vipd runs only absolute program paths; the importer resolves bare names and writes a needed shell out as [/bin/sh, -c, ...]',
  vrrp_no_swap: TUNING,
  checker_no_swap: TUNING,
  vrrp_rt_priority: TUNING,
  checker_rt_priority: TUNING,
  vrrp_priority: TUNING,
  checker_priority: TUNING,
  max_auto_priority: TUNING,
  lvs_id: 'only names this host in keepalived e-mails',
  vrrp_iptables: NO_FIREWALL,
  vrrp_ipsets: NO_FIREWALL,
  nftables: NO_FIREWALL,
};

export const GLOBAL_UNSUPPORTED: Readonly<Record<string, string>> = {
  notification_email: NO_EMAIL,
  notification_email_from: NO_EMAIL,
  smtp_server: NO_EMAIL,
  smtp_connect_timeout: NO_EMAIL,
  smtp_helo_name: NO_EMAIL,
  vrrp_mcast_group4: 'vipd uses the standard group 224.0.0.18',
  vrrp_mcast_group6: 'vipd uses the standard group ff02::12',
  vrrp_gna_interval: 'vipd spaces unsolicited NAs like GARPs (garp.interval)',
  vrrp_garp_lower_prio_delay: 'no vipd equivalent',
  vrrp_garp_lower_prio_repeat: 'no vipd equivalent',
  vrrp_garp_master_refresh_repeat: 'vipd sends one announcement per VIP per refresh',
  vrrp_lower_prio_no_advert: 'no vipd equivalent',
  vrrp_higher_prio_send_advert: 'no vipd equivalent',
  vrrp_check_unicast_src: 'no vipd equivalent',
  vrrp_skip_check_adv_addr: 'vipd always checks the advertised addresses',
  dynamic_interfaces: 'vipd needs its interfaces at start',
  script_timeout: 'no global default in vipd; set timeout per track script',
};

export const INSTANCE_UNSUPPORTED: Readonly<Record<string, string>> = {
  virtual_ipaddress_excluded: 'vipd advertises every VIP; add these to the system network config or to vips',
  virtual_routes: 'vipd does not manage routes',
  virtual_rules: 'vipd does not manage policy rules',
  mcast_src_ip: 'vipd sends multicast adverts from the interface primary address',
  track_file: 'file tracking has no vipd equivalent; use a track script',
  track_process: 'process tracking has no vipd equivalent; use a track script',
  track_bfd: 'BFD has no vipd equivalent',
  dont_track_primary: 'vipd always tracks the instance interface',
  accept: 'no vipd equivalent (the XDP program owns VIP traffic)',
  no_accept: 'no vipd equivalent (the XDP program owns VIP traffic)',
  smtp_alert: NO_EMAIL,
  lvs_sync_daemon_interface: 'vipd needs no connection sync: every node builds the same Maglev table',
  garp_master_refresh_repeat: 'vipd sends one announcement per VIP per refresh',
  garp_lower_prio_delay: 'no vipd equivalent',
  garp_lower_prio_repeat: 'no vipd equivalent',
  lower_prio_no_advert: 'no vipd equivalent',
  higher_prio_send_advert: 'no vipd equivalent',
  skip_check_adv_addr: 'vipd always checks the advertised addresses',
  unicast_ttl: 'vipd sends with TTL 255 as the RFC requires',
  unicast_fault_no_peer: 'no vipd equivalent',
  check_unicast_src: 'no vipd equivalent',
  old_unicast_checksum: 'no vipd equivalent; see checksumMode',
  native_ipv6: 'vipd picks the family from the VIPs',
  kernel_rx_buf_size: 'no vipd equivalent',
  debug: 'use vipd --log pretty',
  linkbeat_use_polling: 'vipd follows the link state from netlink',
  notify_master_rx_lower_pri: 'no vipd equivalent',
  promote_secondaries: 'no vipd equivalent',
  down_timer_adverts: 'vipd uses the RFC Master_Down interval',
  track_src_ip: 'no vipd equivalent',
  gna_interval: 'vipd spaces unsolicited NAs like GARPs (garp.interval)',
};

export const VIRTUAL_SERVER_UNSUPPORTED: Readonly<Record<string, string>> = {
  persistence_granularity: 'vipd persists per client address (/32, /128) only',
  persistence_engine: 'vipd persists per client address only',
  sorry_server: 'no fallback server in vipd',
  sorry_server_inhibit: 'no fallback server in vipd',
  sorry_server_lvs_method: 'no fallback server in vipd',
  quorum: 'no quorum in vipd: the service forwards while any backend is up',
  quorum_up: 'no quorum in vipd',
  quorum_down: 'no quorum in vipd',
  hysteresis: 'no quorum in vipd',
  alpha: 'vipd starts backends up and applies rise/fall',
  omega: 'no vipd equivalent',
  ops: 'one-packet scheduling has no vipd equivalent (Maglev hashes each flow)',
  smtp_alert: NO_EMAIL,
  ip_family: 'vipd takes the family from the VIP',
  inhibit_on_failure: 'vipd takes a failed backend out of the Maglev table rather than setting its weight to 0',
  warmup: 'no vipd equivalent',
};

export const REAL_SERVER_UNSUPPORTED: Readonly<Record<string, string>> = {
  inhibit_on_failure: 'vipd takes a failed backend out of the Maglev table rather than setting its weight to 0',
  notify_up: 'no per-backend notify in vipd; watch vipd_backend_up',
  notify_down: 'no per-backend notify in vipd; watch vipd_backend_up',
  uthreshold: 'no connection limits in the XDP data plane',
  lthreshold: 'no connection limits in the XDP data plane',
  alpha: 'vipd starts backends up and applies rise/fall',
  smtp_alert: NO_EMAIL,
  warmup: 'no vipd equivalent',
  tunnel_encap: 'vipd does direct routing only',
};

export const UNSUPPORTED_CHECKS: Readonly<Record<string, string>> = {
  SMTP_CHECK: 'vipd has no SMTP check',
  DNS_CHECK: 'vipd has no DNS check',
  LDAP_CHECK: 'vipd has no LDAP check',
  UDP_CHECK: 'vipd has no UDP check yet',
  PING_CHECK: 'vipd has no ICMP (ping) check yet',
  FILE_CHECK: 'vipd has no file check',
  BFD_CHECK: 'BFD has no vipd equivalent',
};

/**
 * Report a keyword the converter did not handle: a known keyword with its
 * reason, else as unknown with the nearest known spelling.
 */
export function reportUnhandled(
  log: DiagnosticLog,
  statement: Statement,
  context: string,
  unsupported: Readonly<Record<string, string>>,
  handled: readonly string[],
): void {
  const reason = unsupported[statement.keyword];
  if (reason !== undefined) {
    log.dropped(statement, describe(statement), reason);
    return;
  }
  const hint = suggestion(statement.keyword, [...handled, ...Object.keys(unsupported)]);
  log.dropped(statement, describe(statement), `unknown keyword in ${context}${hint}; ignored`);
}
