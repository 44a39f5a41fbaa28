/** vipd and keepalived 2.2.7 as VRRPv3 peers over IPv4 unicast (unicastPeers / unicast_peer), 100 ms adverts. */
import { keepalivedInteropSuite } from './keepalived-interop.js';

keepalivedInteropSuite({ label: 'VRRPv3 IPv4 unicast, 100 ms', version: 3, advertInterval: 0.1, unicast: true });
