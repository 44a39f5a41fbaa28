/** Entry point of the BIRD keeper process (src/bgp/bird-keeper.ts); vipd's BirdSupervisor starts it. */
import { runKeeper } from './bird-keeper.js';

runKeeper(process.argv.slice(2));
