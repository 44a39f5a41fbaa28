/** vipd and keepalived 2.2.7 as VRRPv3 peers over IPv4 multicast (224.0.0.18), 100 ms adverts. */
import { keepalivedInteropSuite } from './keepalived-interop.js';

keepalivedInteropSuite({ label: 'VRRPv3 IPv4 multicast, 100 ms', version: 3, advertInterval: 0.1 });
