/** vipd and keepalived 2.2.7 as VRRPv3 peers over IPv6 multicast (ff02::12, link-local sources), VIP fd99::100/64, 100 ms adverts. */
import { keepalivedInteropSuite } from './keepalived-interop.js';

keepalivedInteropSuite({ label: 'VRRPv3 IPv6 multicast, 100 ms', version: 3, advertInterval: 0.1, family: 6 });
