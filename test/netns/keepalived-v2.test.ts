/** vipd and keepalived 2.2.7 as VRRPv2 peers over IPv4 multicast with simple password auth (PASS), 1 s adverts. */
import { keepalivedInteropSuite } from './keepalived-interop.js';

keepalivedInteropSuite({ label: 'VRRPv2 IPv4 multicast, PASS auth, 1 s', version: 2, advertInterval: 1, password: 'ka-pass' });
